"""``icewatch.client`` against a real ``icewatch serve`` on loopback (and a tiny local
HTTP server for the retry cases); webhook signature verification."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from icewatch.client import (
    AsyncIcewatchClient,
    IcewatchClient,
    IcewatchClientError,
    verify_webhook,
)
from icewatch.core.webhook import signature_header
from tests.service.proc import (
    API_KEY,
    Served,
    create_session,
    free_port,
    kill_quietly,
    send_report,
    start,
)

pytestmark = pytest.mark.timeout(60)

#: A report whose verdict carries signals (no candidate at all, no UDP seen).
REPORT: dict[str, Any] = {
    "webrtc": "ok",
    "candidates": [{"candidate": "", "ms": 3.0}],
    "user_agent": "icewatch-client-test",
    "gathering_ms": 30.0,
    "ended_by": "complete",
    "deadline_ms": 1500,
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start(tmp_path_factory.mktemp("client"))
    try:
        yield server
    finally:
        kill_quietly(server)


create = create_session


def report(served: Served, created: dict[str, Any]) -> dict[str, Any]:
    return send_report(served, created, REPORT)


def test_verdict_is_pending_then_scored_with_titles(served: Served) -> None:
    created = create(served)
    with IcewatchClient(served.base, API_KEY, timeout=5) as client:
        before = client.verdict(created["id"])
        assert before.pending
        assert before.level == "pending"
        assert before.score is None
        assert before.signals == ()
        assert before.reported_at is None
        answer = report(served, created)
        after = client.verdict(created["id"])
    assert not after.pending
    assert after.level == answer["verdict"]["level"]
    assert after.score == answer["verdict"]["score"]
    assert after.codes() == [s["code"] for s in answer["verdict"]["signals"]]
    assert "webrtc.no_candidates" in after.codes()
    first = after.signals[0]
    assert first.title
    assert first.reason
    assert isinstance(first.evidence, dict)
    assert after.document["id"] == created["id"]
    assert after.reported_at == answer["reported_at"]


def test_wait_for_verdict_polls_until_the_report_lands(served: Served) -> None:
    created = create(served)
    timer = threading.Timer(0.8, report, (served, created))
    timer.start()
    try:
        with IcewatchClient(served.base, API_KEY) as client:
            started = time.monotonic()
            verdict = client.wait_for_verdict(created["id"], timeout=10, interval=0.1)
            waited = time.monotonic() - started
    finally:
        timer.join()
    assert not verdict.pending
    assert verdict.score is not None
    assert 0.5 < waited < 8


def test_wait_for_verdict_times_out_with_one_clear_error(served: Served) -> None:
    created = create(served)
    with IcewatchClient(served.base, API_KEY) as client, pytest.raises(IcewatchClientError) as err:
        client.wait_for_verdict(created["id"], timeout=0.3, interval=0.1)
    assert err.value.code == "timeout"
    assert err.value.status is None


def test_api_errors_carry_status_code_and_message(served: Served) -> None:
    with IcewatchClient(served.base, API_KEY) as client:
        with pytest.raises(IcewatchClientError) as missing:
            client.verdict("AAAAAAAAAAAAAAAAAAAAAA")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
    with (
        IcewatchClient(served.base, "not-the-key-0123456789") as wrong,
        pytest.raises(IcewatchClientError) as denied,
    ):
        list(wrong.sessions(limit=1))
    assert denied.value.status == 401
    assert denied.value.code == "unauthorized"
    assert denied.value.message


def test_sessions_iterates_over_pages_newest_first(served: Served) -> None:
    made = [create(served)["id"] for _ in range(5)]
    with IcewatchClient(served.base, API_KEY) as client:
        rows = list(client.sessions(limit=5, page_size=2))
        everything = [s.id for s in client.sessions(page_size=3)]
    assert [r.id for r in rows] == made[::-1]
    assert all(not r.reported and r.level is None for r in rows)
    assert everything[:5] == made[::-1]
    assert len(everything) == len(set(everything))


def test_signals_is_the_rule_table(served: Served) -> None:
    with IcewatchClient(served.base, API_KEY) as client:
        rules = client.signals()
    codes = {r.code for r in rules}
    assert "ip.webrtc_http_mismatch" in codes
    assert all(r.title and 0 <= r.weight <= 100 for r in rules)


def test_async_client_has_the_same_answers(served: Served) -> None:
    created = create(served)

    async def scenario() -> None:
        async with AsyncIcewatchClient(served.base, API_KEY, timeout=5) as client:
            assert (await client.verdict(created["id"])).pending
            waiting = asyncio.create_task(
                client.wait_for_verdict(created["id"], timeout=10, interval=0.1)
            )
            await asyncio.to_thread(report, served, created)
            verdict = await waiting
            assert verdict.level in ("low", "medium", "high")
            assert verdict.signals
            assert verdict.signals[0].title
            rows = [s async for s in client.sessions(limit=3, page_size=2)]
            assert rows[0].id == created["id"]
            assert rows[0].reported
            assert len(await client.signals()) > 10

    asyncio.run(scenario())


# -- retries: only GETs, on connection failures and 503 ------------------------------------


class _Flaky(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        status = self.answers.pop(0) if self.answers else 200
        body = (
            json.dumps([]).encode()
            if status == 200
            else json.dumps({"error": {"code": "unavailable", "message": "busy"}}).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"answers": [], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_503_is_retried_then_answered(flaky: tuple[str, type[_Flaky]]) -> None:
    base, handler = flaky
    handler.answers.extend([503, 503])
    with IcewatchClient(base, API_KEY, retries=2, backoff=0.01) as client:
        assert client.signals() == []
    assert len(handler.seen) == 3


def test_503_after_the_retries_is_the_api_error(flaky: tuple[str, type[_Flaky]]) -> None:
    base, handler = flaky
    handler.answers.extend([503, 503, 503])
    with (
        IcewatchClient(base, API_KEY, retries=1, backoff=0.01) as client,
        pytest.raises(IcewatchClientError) as err,
    ):
        client.signals()
    assert (err.value.status, err.value.code, err.value.message) == (503, "unavailable", "busy")
    assert len(handler.seen) == 2


def test_other_errors_are_not_retried(flaky: tuple[str, type[_Flaky]]) -> None:
    base, handler = flaky
    handler.answers.extend([500])
    with IcewatchClient(base, API_KEY, backoff=0.01) as client, pytest.raises(IcewatchClientError):
        client.signals()
    assert len(handler.seen) == 1


def test_connection_refused_is_retried_then_connect_error() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with (
        IcewatchClient(base, API_KEY, retries=2, backoff=0.1) as client,
        pytest.raises(IcewatchClientError) as err,
    ):
        client.signals()
    assert err.value.code == "connect_error"
    assert err.value.status is None
    assert time.monotonic() - started >= 0.3  # 0.1 + 0.2 of backoff


def test_constructor_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="base_url"):
        IcewatchClient("icewatch.example", API_KEY)
    with pytest.raises(ValueError, match="api_key"):
        IcewatchClient("http://icewatch.example", "")


# -- webhook signatures ------------------------------------------------------------------

SECRET = "whsec-0123456789abcdef"
BODY = b'{"id":"evt_x","type":"session.verdict","level":"high"}'


def test_verify_webhook_accepts_a_good_signature() -> None:
    header = signature_header(SECRET, 1_800_000_000, BODY)
    event = verify_webhook(BODY, header, SECRET, now=1_800_000_100)
    assert event["id"] == "evt_x"
    # Several v1 entries (secret rotation): any one matching is enough.
    rotated = f"{header},v1={'0' * 64}"
    assert verify_webhook(BODY, rotated, SECRET, now=1_800_000_000)["level"] == "high"


@pytest.mark.parametrize(
    ("body", "header", "now", "reason"),
    [
        (BODY, None, 1_800_000_000, "no Icewatch-Signature"),
        (BODY, "garbage", 1_800_000_000, "malformed"),
        (BODY, "v1=abcd", 1_800_000_000, "no timestamp"),
        (BODY, "t=1800000000", 1_800_000_000, "no v1"),
        (BODY, "t=12x,v1=ab", 1_800_000_000, "malformed timestamp"),
        (BODY + b" ", "GOOD", 1_800_000_000, "does not match"),
        (BODY, "GOOD", 1_800_000_301, "tolerance"),
        (BODY, "GOOD", 1_799_999_699, "tolerance"),
        (BODY, "t=1800000000,v1=é", 1_800_000_000, "does not match"),
        (BODY, "t=1," * 1000, 1_800_000_000, "too long"),
    ],
)
def test_verify_webhook_refuses(body: bytes, header: str | None, now: float, reason: str) -> None:
    if header == "GOOD":
        header = signature_header(SECRET, 1_800_000_000, BODY)
    with pytest.raises(IcewatchClientError, match=reason) as err:
        verify_webhook(body, header, SECRET, now=now)
    assert err.value.code == "bad_signature"


def test_verify_webhook_with_the_wrong_secret() -> None:
    header = signature_header(SECRET, 1_800_000_000, BODY)
    with pytest.raises(IcewatchClientError, match="does not match"):
        verify_webhook(BODY, header, "another-secret-0123456", now=1_800_000_000)


def test_client_module_is_only_imported_on_request(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys, icewatch; print('icewatch.client' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout.split()
    assert out == ["False", "False"]


def test_sessions_passes_the_shared_filters(served: Served) -> None:
    reported = create(served)
    report(served, reported)
    pending = create(served)
    with IcewatchClient(served.base, API_KEY) as client:
        waiting = [s.id for s in client.sessions(level="pending", limit=50)]
        scored = [s.id for s in client.sessions(level=["low", "medium", "high"], limit=50)]
        since = [s.id for s in client.sessions(since=time.time() + 3600, limit=5)]
        with pytest.raises(IcewatchClientError) as bad:
            list(client.sessions(level="severe"))
    assert pending["id"] in waiting
    assert reported["id"] not in waiting
    assert reported["id"] in scored
    assert pending["id"] not in scored
    assert since == []
    assert bad.value.status == 400
    assert bad.value.field == "level"
