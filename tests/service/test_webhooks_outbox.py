"""The webhook outbox on a real SQLite file, and the delivery worker against a real local
HTTP server: same transaction as the verdict, the bound, leases, dead letters."""

from __future__ import annotations

import asyncio
import http.server
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from icewatch.client import verify_webhook
from icewatch.core.ports import OutboxEvent
from icewatch.core.verdict import Level, Verdict
from icewatch.core.webhook import at_or_above, signature_header
from icewatch.service.webhooks import (
    MAX_DELAY,
    WebhookConfig,
    WebhookWorker,
    check_webhook_url,
    retry_delay,
)
from icewatch.store import open_store
from icewatch.store.sqlite import SqliteStore
from tests.store.samples import full_session, new_session, verdict

pytestmark = pytest.mark.timeout(30)

SECRET = "outbox-secret-0123456789"


def event(session_id: str, n: int = 0) -> OutboxEvent:
    return OutboxEvent(f"evt_{session_id}_{n}", session_id, 1000.0 + n, b'{"x":1}')


async def opened(tmp_path: Path) -> SqliteStore:
    store = await open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    assert isinstance(store, SqliteStore)
    return store


def test_the_event_is_written_with_the_verdict_or_not_at_all(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        try:
            await store.create_session(new_session("s1"), 9e9)
            assert await store.save_result(
                full_session("s1"), verdict(), outbox=event("s1"), outbox_max=10
            )
            # A session that does not exist: the save fails, and so does the event.
            with pytest.raises(KeyError):
                await store.save_result(
                    full_session("gone"), verdict(), outbox=event("gone"), outbox_max=10
                )
            stats = await store.outbox_stats()
            assert stats["pending"] == 1
            assert stats["dead"] == 0
            items = await store.outbox_items(status="pending", limit=10)
            assert [i.event for i in items] == [event("s1")]
            # Without an event, save_result says nothing was queued.
            assert not await store.save_result(full_session("s1"), verdict())
        finally:
            await store.close()

    asyncio.run(scenario())


def test_the_outbox_is_bounded_by_pending_events(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        try:
            for sid in ("a", "b", "c"):
                await store.create_session(new_session(sid), 9e9)
            assert await store.save_result(
                full_session("a"), verdict(), outbox=event("a"), outbox_max=2
            )
            assert await store.save_result(
                full_session("b"), verdict(), outbox=event("b"), outbox_max=2
            )
            assert not await store.save_result(
                full_session("c"), verdict(), outbox=event("c"), outbox_max=2
            )
            stored = await store.get_session("c")
            assert stored is not None
            assert stored.verdict == verdict()  # the verdict is saved regardless
            # Dead events do not count against the bound.
            await store.outbox_retry("evt_a_0", attempts=1, next_at=0, error="HTTP 410", dead=True)
            assert await store.save_result(
                full_session("c"), verdict(), outbox=event("c"), outbox_max=2
            )
            dead = await store.outbox_items(status="dead", limit=5)
            assert [(d.event.id, d.attempts, d.last_error) for d in dead] == [
                ("evt_a_0", 1, "HTTP 410")
            ]
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_claim_leases_events(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        try:
            await store.create_session(new_session("s"), 9e9)
            await store.save_result(full_session("s"), verdict(), outbox=event("s"), outbox_max=5)
            due = (await store.outbox_stats())["next_due"]
            assert due is not None
            first = await store.outbox_claim(due + 1, limit=10, lease=30)
            assert [i.event.id for i in first] == ["evt_s_0"]
            assert await store.outbox_claim(due + 2, limit=10, lease=30) == []  # leased
            again = await store.outbox_claim(due + 40, limit=10, lease=30)  # lease ran out
            assert [i.event.id for i in again] == ["evt_s_0"]
            await store.outbox_done("evt_s_0")
            stats = await store.outbox_stats()
            assert stats == {"pending": 0, "dead": 0, "next_due": None}
            with pytest.raises(ValueError, match="status"):
                await store.outbox_items(status="lost", limit=1)
        finally:
            await store.close()

    asyncio.run(scenario())


def test_retry_delay_doubles_with_jitter_up_to_an_hour() -> None:
    assert retry_delay(1, 1.0, lambda: 0.5) == 1.0
    assert retry_delay(2, 1.0, lambda: 0.5) == 2.0
    assert retry_delay(5, 1.0, lambda: 0.5) == 16.0
    assert retry_delay(1, 1.0, lambda: 0.0) == 0.75
    assert retry_delay(1, 1.0, lambda: 0.999999) == pytest.approx(1.25, abs=1e-5)
    assert retry_delay(30, 1.0, lambda: 0.999) == MAX_DELAY
    assert retry_delay(10_000, 1.0, lambda: 0.0) == MAX_DELAY * 0.75


def test_levels_and_urls() -> None:
    assert at_or_above(Level.HIGH, Level.MEDIUM)
    assert at_or_above(Level.LOW, Level.LOW)
    assert not at_or_above(Level.MEDIUM, Level.HIGH)
    assert check_webhook_url("https://shop.example.org/hook?x=1")
    for bad in ("ftp://x/y", "http:///nohost", "https://user:pw@shop.example.org/"):
        with pytest.raises(ValueError, match="webhook_url"):
            check_webhook_url(bad)


class _Always500(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.bodies.append((body, self.headers.get("Icewatch-Signature", "")))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def failing_receiver() -> Iterator[tuple[str, type[_Always500]]]:
    handler = type("Handler", (_Always500,), {"bodies": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def test_the_worker_gives_up_after_max_attempts(
    tmp_path: Path, failing_receiver: tuple[str, type[_Always500]]
) -> None:
    url, handler = failing_receiver

    async def scenario() -> None:
        store = await opened(tmp_path)
        worker = WebhookWorker(
            store,
            WebhookConfig(url=url, secret=SECRET, level=Level.LOW, retry_base=0.02, max_attempts=3),
        )
        try:
            await store.create_session(new_session("s"), 9e9)
            low = Verdict(score=0, level=Level.LOW)
            made = worker.event_for(full_session("s"), low)
            assert made is not None
            assert made.id.startswith("evt_")
            queued = await store.save_result(full_session("s"), low, outbox=made, outbox_max=5)
            worker.enqueued(made, queued)
            worker.start()
            for _ in range(200):
                if (await store.outbox_stats())["dead"] == 1:
                    break
                await asyncio.sleep(0.02)
            dead = await store.outbox_items(status="dead", limit=5)
            assert [(d.event.id, d.attempts, d.last_error) for d in dead] == [
                (made.id, 3, "HTTP 500")
            ]
            assert worker.counts.failed == 1
            assert worker.counts.attempts_failed == 3
            assert worker.counts.queued == 1
        finally:
            await worker.close()
            await store.close()
        assert len(handler.bodies) == 3
        for body, header in handler.bodies:
            assert verify_webhook(body, header, SECRET)["session_id"] == "s"

    asyncio.run(scenario())


def test_an_event_only_at_or_above_the_level(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path)
        try:
            worker = WebhookWorker(
                store, WebhookConfig(url="http://127.0.0.1:9/", secret=SECRET, level=Level.HIGH)
            )
            medium = Verdict(score=45, level=Level.MEDIUM)
            assert worker.event_for(full_session("s"), medium) is None
            high = worker.event_for(full_session("s"), verdict())  # score 70, high
            assert high is not None
            payload = verify_webhook(
                high.body, signature_header(SECRET, int(time.time()), high.body), SECRET
            )
            assert payload["level"] == "high"
            assert payload["score"] == 70
            assert [s["code"] for s in payload["signals"]] == [
                "ip.webrtc_http_mismatch",
                "net.local_ip_exposed",
            ]
            assert payload["signals"][0]["title"]
            assert payload["signals"][0]["evidence"]["nested"] == {"n": [1, 2.5]}
            assert payload["session_id"] == "s"
            assert payload["client_ip"] == "198.51.100.7"
            with pytest.raises(ValueError, match="16"):
                WebhookWorker(store, WebhookConfig(url="http://127.0.0.1:9/", secret="short"))
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_shutdown_during_a_claim_leaves_nothing_leased(
    tmp_path: Path, failing_receiver: tuple[str, type[_Always500]]
) -> None:
    """close() arriving while the worker's claim waits for the database: the claim still
    completes, and close() releases what it leased, so the next start sends it at once
    (not after the lease, timeout + 30 s, has run out)."""
    url, handler = failing_receiver

    async def scenario() -> None:
        store = await opened(tmp_path)
        worker = WebhookWorker(store, WebhookConfig(url=url, secret=SECRET, level=Level.LOW))
        try:
            for sid in ("a", "b", "c"):
                await store.create_session(new_session(sid), 9e9)
                await store.save_result(
                    full_session(sid), verdict(), outbox=event(sid), outbox_max=10
                )
            # Another process holds the write lock: the worker's claim waits for it.
            blocker = sqlite3.connect(tmp_path / "outbox.db", isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            worker.start()
            await asyncio.sleep(0.3)  # the claim is now waiting in the store's writer
            closing = asyncio.ensure_future(worker.close())
            await asyncio.sleep(0.1)
            blocker.execute("COMMIT")
            blocker.close()
            await closing
            assert handler.bodies == []  # nothing was sent
            now = time.time()
            pending = await store.outbox_items(status="pending", limit=10)
            assert sorted(p.event.id for p in pending) == ["evt_a_0", "evt_b_0", "evt_c_0"]
            assert all(p.next_at <= now for p in pending), [p.next_at - now for p in pending]
            assert len(await store.outbox_claim(now, limit=10, lease=30)) == 3
        finally:
            await worker.close()
            await store.close()

    asyncio.run(scenario())
