"""``icewatch serve`` as a real subprocess on loopback: HTTP, STUN over UDP and TCP, a full
session with a real TURN exchange, clean start-up errors, graceful shutdown and a server
secret that survives restarts."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    decode_error_code,
    decode_message,
    decode_xor_address,
    frame_length,
)
from tests.service.proc import (
    API_KEY,
    Served,
    allocate_flow,
    binding_request,
    exchange,
    free_port,
    kill_quietly,
    run_failing,
    serve_argv,
    start,
    udp_socket,
)

pytestmark = pytest.mark.timeout(60)


def _create(served: Served) -> dict[str, Any]:
    r = httpx.post(f"{served.base}/api/v1/sessions", timeout=5)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _turn(created: dict[str, Any]) -> tuple[str, str, list[str]]:
    server = next(s for s in created["ice_servers"] if s.get("username"))
    return server["username"], server["credential"], server["urls"]


def _report(sock_port: int | None = None) -> dict[str, Any]:
    candidates = []
    if sock_port is not None:
        candidates.append(
            {
                "candidate": f"candidate:1 1 udp 1677729535 127.0.0.1 {sock_port} typ srflx "
                "raddr 0.0.0.0 rport 0 generation 0 ufrag abcd network-cost 999",
                "ms": 21.5,
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            }
        )
    candidates.append({"candidate": "", "ms": 30.0})
    return {
        "webrtc": "ok",
        "candidates": candidates,
        "user_agent": "icewatch-test",
        "gathering_ms": 30.0,
        "ended_by": "complete",
        "deadline_ms": 1500,
    }


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_serve_answers_http_and_stun_and_says_where(tmp_path: Path) -> None:
    served = start(tmp_path)
    try:
        banner = served.banner[-1]
        assert f"http://127.0.0.1:{served.port}/" in banner
        assert f"127.0.0.1:{served.stun_port} (udp, tcp)" in banner

        health = httpx.get(f"{served.base}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        with udp_socket() as sock:
            tid, request = binding_request()
            answer = exchange(sock, served.stun_port, request)
            assert (answer.method, answer.msg_class) == (Method.BINDING, MessageClass.SUCCESS)
            assert answer.transaction_id == tid
            mapped = answer.get(AttrType.XOR_MAPPED_ADDRESS)
            assert mapped is not None
            address = decode_xor_address(mapped.value, tid)
            assert (str(address.ip), address.port) == sock.getsockname()

        with socket.create_connection(("127.0.0.1", served.stun_port), timeout=3) as tcp:
            tid, request = binding_request()
            tcp.sendall(request)
            data = b""
            while len(data) < 20 or len(data) < (frame_length(data[:4]) or 20):
                chunk = tcp.recv(2048)
                assert chunk, "TCP connection closed before the answer"
                data += chunk
            answer = decode_message(data)
            assert answer.msg_class is MessageClass.SUCCESS
            assert answer.transaction_id == tid
        assert (tmp_path / "icewatch.db").exists()
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    assert "Traceback" not in err


def test_a_full_session_over_real_http_and_turn(tmp_path: Path) -> None:
    served = start(tmp_path)
    try:
        created = _create(served)
        username, password, urls = _turn(created)
        assert username.endswith(":" + created["id"])
        assert f"turn:127.0.0.1:{served.stun_port}?transport=udp" in urls

        with udp_socket() as sock:
            _, bind = binding_request()
            exchange(sock, served.stun_port, bind)
            challenge, refused = allocate_flow(sock, served.stun_port, username, password)
            sock_ip, sock_port = sock.getsockname()
        assert challenge.msg_class is MessageClass.ERROR
        code_401 = challenge.get(AttrType.ERROR_CODE)
        assert code_401 is not None
        assert decode_error_code(code_401.value).code == 401
        assert refused.msg_class is MessageClass.ERROR
        code_refused = refused.get(AttrType.ERROR_CODE)
        assert code_refused is not None
        assert decode_error_code(code_refused.value).code == 403

        r = httpx.post(
            f"{served.base}/api/v1/sessions/{created['id']}/report",
            json=_report(sock_port),
            headers={"Authorization": f"Bearer {created['token']}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["id"] == created["id"]
        assert doc["http"]["client_ip"] == "127.0.0.1"
        turn = [
            o
            for o in doc["observed"]
            if o["source"] == "turn" and o["kind"].endswith("authenticated")
        ]
        assert len(turn) == 1, doc["observed"]
        assert (turn[0]["ip"], turn[0]["port"], turn[0]["transport"]) == (sock_ip, sock_port, "udp")
        assert turn[0]["software"] == "icewatch-test"
        stun = [o for o in doc["observed"] if o["source"] == "stun"]
        assert [(o["ip"], o["port"]) for o in stun] == [(sock_ip, sock_port)]
        assert doc["verdict"]["level"] == "low"
        assert "ip.webrtc_http_mismatch" not in {s["code"] for s in doc["verdict"]["signals"]}

        # The operator sees the same stored session.
        stored = httpx.get(
            f"{served.base}/api/v1/sessions/{created['id']}",
            headers={"X-API-Key": API_KEY},
            timeout=5,
        ).json()
        assert stored["observed"] == doc["observed"]
    finally:
        code, _, err = served.stop()
    assert code == 0, err


def test_http_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_failing(tmp_path, serve_argv(port, free_port(), "sqlite:///icewatch.db"))
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert f"HTTP port {port} is already in use" in line
    assert not (tmp_path / "icewatch.db").exists()  # failed before touching the database


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM])
def test_stun_port_in_use_is_one_clear_line(tmp_path: Path, kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as busy:
        busy.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            busy.listen()
        stun_port = busy.getsockname()[1]
        done = run_failing(tmp_path, serve_argv(free_port(), stun_port, "sqlite:///icewatch.db"))
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert f"STUN/TURN port {stun_port} is already in use" in line


def test_unwritable_database_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("a file where a directory should be\n")
    db = f"sqlite:///{tmp_path}/not-a-directory/icewatch.db"
    done = run_failing(tmp_path, serve_argv(free_port(), free_port(), db))
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert "not-a-directory" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--report-wait", "9"], "error: --report-wait: not in 0-5 seconds: 9"),
        (["--db", "mysql://x"], "error: --db: unknown scheme 'mysql' (known: sqlite://)"),
        (["--config", "missing.toml"], "error: config file missing.toml: cannot read"),
    ],
)
def test_bad_settings_exit_2_with_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    argv = serve_argv(free_port(), free_port(), "sqlite:///icewatch.db", *extra)
    done = run_failing(tmp_path, argv)
    assert done.returncode == 2
    assert _one_error_line(done.stderr).startswith(message)


def test_sigterm_during_a_report_loses_nothing_acknowledged(tmp_path: Path) -> None:
    # The report names a srflx endpoint (127.0.0.1:9) whose Binding never comes, so the
    # server waits (up to report_wait) for it: SIGTERM arrives while it is in flight.
    served = start(tmp_path, "--report-wait", "2")
    restarted: Served | None = None
    try:
        created = _create(served)
        answer: dict[str, Any] = {}

        def post() -> None:
            r = httpx.post(
                f"{served.base}/api/v1/sessions/{created['id']}/report",
                json=_report(9),
                headers={"Authorization": f"Bearer {created['token']}"},
                timeout=15,
            )
            answer["status"], answer["body"] = r.status_code, r.json()

        thread = threading.Thread(target=post)
        t0 = time.monotonic()
        thread.start()
        time.sleep(0.5)
        code, _, err = served.stop(signal.SIGTERM)
        thread.join(10)
        assert code == 0, err
        assert answer["status"] == 200, answer
        assert time.monotonic() - t0 >= 1.9  # it really was in flight when SIGTERM came
        assert answer["body"]["reported_at"] is not None

        restarted = start(tmp_path, port=served.port, stun_port=served.stun_port)
        again = httpx.get(
            f"{restarted.base}/api/v1/sessions/{created['id']}",
            headers={"Authorization": f"Bearer {created['token']}"},
            timeout=5,
        )
        assert again.status_code == 200, again.text
        doc = again.json()
        assert doc["reported_at"] == answer["body"]["reported_at"]
        assert doc["verdict"] == answer["body"]["verdict"]
    finally:
        kill_quietly(served)
        kill_quietly(restarted)
        if restarted is not None:
            restarted.stop()


def test_the_server_secret_survives_a_restart(tmp_path: Path) -> None:
    served = start(tmp_path)
    restarted: Served | None = None
    try:
        created = _create(served)
        code, _, err = served.stop(signal.SIGINT)
        assert code == 0, err
        restarted = start(tmp_path)
        # The token issued before the restart still opens its session...
        r = httpx.get(
            f"{restarted.base}/api/v1/sessions/{created['id']}",
            headers={"Authorization": f"Bearer {created['token']}"},
            timeout=5,
        )
        assert r.status_code == 200, r.text
        # ...and the TURN credential issued before the restart still verifies.
        username, password, _ = _turn(created)
        with udp_socket() as sock:
            _, refused = allocate_flow(sock, restarted.stun_port, username, password)
        attr = refused.get(AttrType.ERROR_CODE)
        assert attr is not None
        assert decode_error_code(attr.value).code == 403
        # A token for another session does not open this one.
        other = _create(restarted)
        r = httpx.get(
            f"{restarted.base}/api/v1/sessions/{created['id']}",
            headers={"Authorization": f"Bearer {other['token']}"},
            timeout=5,
        )
        assert r.status_code == 401
    finally:
        kill_quietly(served)
        if restarted is not None:
            code, _, err = restarted.stop()
            assert code == 0, err
