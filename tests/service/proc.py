"""Run the real ``icewatch serve`` as a subprocess on loopback, and talk STUN/TURN to it
with datagrams built by the core."""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    StunMessage,
    build_message,
    decode_message,
    decode_text,
    encode_requested_transport,
    encode_text,
    long_term_key,
)

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-operator-key-0123456789"


def free_port() -> int:
    """A port free for TCP *and* UDP on 127.0.0.1 at the time of asking."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


@dataclass
class Served:
    """A running ``icewatch serve``: its process, ports, and what it printed."""

    popen: subprocess.Popen[bytes]
    port: int
    stun_port: int
    banner: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, str, str]:
        """Signal the server, wait; return ``(exit code, rest of stdout, stderr)``."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            out, err = self.popen.communicate()
            raise AssertionError(f"icewatch serve did not stop on {sig}: {err.decode()}") from None
        return self.popen.returncode, out.decode(), err.decode()


def serve_argv(port: int, stun_port: int, db: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "icewatch", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--stun-port", str(stun_port), "--db", db, *extra,
    ]  # fmt: skip


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ICEWATCH_")}
    base["PYTHONPATH"] = str(ROOT / "src")
    base["ICEWATCH_API_KEY"] = API_KEY
    # Tests and benches flood from one loopback address on purpose; the limits have
    # their own tests (tests/web/test_ratelimit.py, tests/service/test_rate_setting.py).
    base["ICEWATCH_RATE_LIMIT_SESSIONS"] = "off"
    return base | extra


def start(
    cwd: Path,
    *extra: str,
    db: str = "sqlite:///icewatch.db",
    port: int | None = None,
    stun_port: int | None = None,
    timeout: float = 20,
) -> Served:
    """Start ``icewatch serve`` in ``cwd`` and wait for its start-up banner."""
    port = port or free_port()
    stun_port = stun_port or free_port()
    popen = subprocess.Popen(
        serve_argv(port, stun_port, db, *extra),
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    served = Served(popen, port, stun_port)
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([popen.stdout], [], [], 0.1)
        if ready:
            line = popen.stdout.readline().decode()
            if not line:
                break
            served.banner.append(line.rstrip("\n"))
            if line.startswith("icewatch "):
                return served
        elif popen.poll() is not None:
            break
    code, out, err = served.stop(signal.SIGKILL)
    raise AssertionError(f"icewatch serve did not start (exit {code}): {out}\n{err}")


def run_failing(
    cwd: Path, argv: Sequence[str], timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout, check=False
    )


# -- STUN/TURN over a real UDP socket ------------------------------------------------------


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)
    return sock


def exchange(sock: socket.socket, port: int, data: bytes) -> StunMessage:
    """Send one request to the server's UDP port; return the decoded answer."""
    sock.sendto(data, ("127.0.0.1", port))
    reply, _ = sock.recvfrom(2048)
    return decode_message(reply)


def binding_request() -> tuple[bytes, bytes]:
    tid = secrets.token_bytes(12)
    return tid, build_message(Method.BINDING, MessageClass.REQUEST, tid)


def allocate_flow(
    sock: socket.socket, port: int, username: str, password: str
) -> tuple[StunMessage, StunMessage]:
    """The browser's TURN flow: Allocate → 401 (REALM, NONCE) → Allocate with
    USERNAME/REALM/NONCE/MESSAGE-INTEGRITY. Returns both answers."""
    transport = (AttrType.REQUESTED_TRANSPORT, encode_requested_transport(17))
    first = exchange(
        sock,
        port,
        build_message(Method.ALLOCATE, MessageClass.REQUEST, secrets.token_bytes(12), [transport]),
    )
    realm_attr, nonce_attr = first.get(AttrType.REALM), first.get(AttrType.NONCE)
    assert realm_attr is not None, "401 without REALM"
    assert nonce_attr is not None, "401 without NONCE"
    realm = decode_text(realm_attr.value, "realm")
    nonce = decode_text(nonce_attr.value, "nonce")
    key = long_term_key(username, realm, password)
    second = exchange(
        sock,
        port,
        build_message(
            Method.ALLOCATE,
            MessageClass.REQUEST,
            secrets.token_bytes(12),
            [
                transport,
                (AttrType.USERNAME, encode_text(username)),
                (AttrType.REALM, encode_text(realm)),
                (AttrType.NONCE, encode_text(nonce)),
                (AttrType.SOFTWARE, encode_text("icewatch-test")),
            ],
            integrity_key=key,
            fingerprint=True,
        ),
    )
    return first, second


def kill_quietly(served: Served | None) -> None:
    if served is not None and served.popen.poll() is None:
        with contextlib.suppress(Exception):
            served.stop(signal.SIGKILL)


def create_session(served: Served) -> dict[str, Any]:
    """``POST /api/v1/sessions`` on the running server: the created session's JSON."""
    r = httpx.post(f"{served.base}/api/v1/sessions", timeout=5)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def send_report(served: Served, created: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The page's report for ``created``, sent with its session token: the session JSON."""
    r = httpx.post(
        f"{served.base}{created['report_url']}",
        json=body,
        headers={"Authorization": f"Bearer {created['token']}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer
