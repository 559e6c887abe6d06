"""``icewatch webhooks status|list|retry|drop`` on a real SQLite file with real outbox rows
(written with the verdict through the store, failed by the real delivery worker against a
real local HTTP server), exit codes and JSON; and a re-queued dead event really delivered."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from tests.store.samples import full_session, new_session, verdict

from icewatch.cli import cli
from icewatch.core.ports import OutboxEvent
from icewatch.service.webhooks import WebhookConfig, WebhookWorker
from icewatch.store import open_store

pytestmark = pytest.mark.timeout(60)

SECRET = "cli-webhook-secret-0123456789"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "240"})
    return result.exit_code, result.stdout, result.stderr


class _Receiver(http.server.BaseHTTPRequestHandler):
    status: ClassVar[int] = 410
    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(self.headers.get("Icewatch-Event-Id", ""))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def receiver(status: int) -> Iterator[str]:
    handler = type("Receiver", (_Receiver,), {"status": status, "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def event(sid: str, created_at: float) -> OutboxEvent:
    return OutboxEvent(f"evt_{sid}", sid, created_at, b'{"session":"' + sid.encode() + b'"}')


async def deliver_all(db: str, url: str) -> None:
    """One round of the real delivery worker against ``url``."""
    store = await open_store(db)
    worker = WebhookWorker(store, WebhookConfig(url=url, secret=SECRET, timeout=5.0))
    worker.start()
    try:
        await worker.run_once()
    finally:
        await worker.close()
        await store.close()


@pytest.fixture
def outbox(tmp_path: Path) -> str:
    """Five events: a, b, c failed for good by a receiver answering 410 (dead); d, e
    pending (never tried)."""
    db = f"sqlite:///{tmp_path / 'icewatch.db'}"
    now = time.time()

    async def fill() -> None:
        store = await open_store(db)
        try:
            for n, sid in enumerate("abcde"):
                await store.create_session(new_session(sid, now - 600 + n), 9e12)
                queued = await store.save_result(
                    full_session(sid, now - 600 + n),
                    verdict(),
                    outbox=event(sid, now - 600 + n),
                    outbox_max=100,
                )
                assert queued
        finally:
            await store.close()

    asyncio.run(fill())
    with receiver(410) as url:
        # Only a, b and c are due: d and e are leased away first (a worker elsewhere).
        async def lease_de() -> None:
            store = await open_store(db)
            try:
                claimed = await store.outbox_claim(time.time(), limit=5, lease=3600)
                assert [i.event.session_id for i in claimed] == list("abcde")
                for item in claimed[:3]:
                    await store.outbox_retry(
                        item.event.id, attempts=0, next_at=time.time() - 1, error="", dead=False
                    )
            finally:
                await store.close()

        asyncio.run(lease_de())
        asyncio.run(deliver_all(db, url))
    return db


def test_status_counts_ages_and_last_errors(outbox: str) -> None:
    code, out, err = invoke("webhooks", "status", "--db", outbox, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["pending"] == 2
    assert status["dead"] == 3
    assert status["webhook_url_configured"] is False
    assert 590 <= status["oldest_pending_age_s"] <= 700  # d was created ~597 s ago
    assert status["next_attempt_at"] > time.time() + 3000  # the lease
    errors = status["last_errors"]
    assert sorted(e["id"] for e in errors) == ["evt_a", "evt_b", "evt_c"]
    assert all(e["last_error"] == "HTTP 410" and e["status"] == "dead" for e in errors)
    assert all(e["attempts"] == 1 and e["last_error_at"] for e in errors)

    code, out, err = invoke("webhooks", "status", "--db", outbox)
    assert code == 0, err
    assert "pending: 2" in out
    assert "dead:    3" in out
    assert "oldest pending: " in out
    assert "HTTP 410" in out
    assert "webhook_url is not set" in err


def test_list_by_status_oldest_first(outbox: str) -> None:
    code, out, err = invoke("webhooks", "list", "--db", outbox, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [f"evt_{s}" for s in "abcde"]
    code, out, _ = invoke("webhooks", "list", "--status", "dead", "--db", outbox, "--json")
    dead = json.loads(out)
    assert [r["id"] for r in dead] == ["evt_a", "evt_b", "evt_c"]
    assert all(r["next_at"] is None and r["last_error"] == "HTTP 410" for r in dead)
    code, out, _ = invoke("webhooks", "list", "--status", "pending", "--limit", "1", "--db", outbox)
    assert code == 0
    assert "evt_d" in out
    assert "evt_e" not in out
    code, _, err = invoke("webhooks", "list", "--status", "gone", "--db", outbox)
    assert code == 2
    assert "gone" in err


def test_retry_requeues_dead_events_and_a_worker_delivers_them(outbox: str) -> None:
    code, out, err = invoke("webhooks", "retry", "evt_a", "--db", outbox, "--json")
    assert code == 0, err
    assert json.loads(out) == {"requeued": ["evt_a"], "not_found": []}
    code, out, _ = invoke("webhooks", "list", "--status", "pending", "--db", outbox, "--json")
    again = next(r for r in json.loads(out) if r["id"] == "evt_a")
    assert again["attempts"] == 0
    assert again["next_at"] <= time.time()
    # A pending or unknown id is not a dead event: exit 1, the others are done.
    code, out, err = invoke("webhooks", "retry", "evt_b", "evt_d", "evt_nope", "--db", outbox)
    assert code == 1
    assert out.startswith("Requeued 1 event(s).")
    assert "evt_d: no such dead event" in err
    assert "evt_nope: no such dead event" in err
    # The receiver is back: the real worker sends exactly the re-queued events.
    with receiver(200) as url:
        asyncio.run(deliver_all(outbox, url))
    code, out, _ = invoke("webhooks", "list", "--db", outbox, "--json")
    assert [r["id"] for r in json.loads(out)] == ["evt_c", "evt_d", "evt_e"]
    code, out, _ = invoke("webhooks", "retry", "--all-dead", "--db", outbox, "--json")
    assert code == 0
    assert json.loads(out)["requeued"] == ["evt_c"]
    code, out, _ = invoke("webhooks", "status", "--db", outbox, "--json")
    assert json.loads(out)["dead"] == 0


def test_drop_deletes_for_good(outbox: str) -> None:
    code, out, err = invoke("webhooks", "drop", "evt_d", "--db", outbox, "--json")
    assert code == 0, err
    assert json.loads(out) == {"dropped": ["evt_d"], "not_found": []}
    code, out, err = invoke("webhooks", "drop", "--all-dead", "--db", outbox)
    assert code == 0, err
    assert out.startswith("Dropped 3 event(s).")
    code, out, _ = invoke("webhooks", "list", "--db", outbox, "--json")
    assert [r["id"] for r in json.loads(out)] == ["evt_e"]
    code, _, err = invoke("webhooks", "drop", "evt_a", "--db", outbox)
    assert code == 1
    assert "evt_a: no such event" in err


def test_bad_usage_is_exit_2(outbox: str, tmp_path: Path) -> None:
    for args in (
        ("retry",),
        ("drop",),
        ("retry", "evt_a", "--all-dead"),
        ("drop", "x" * 100),
    ):
        code, _, err = invoke("webhooks", *args, "--db", outbox)
        assert code == 2, (args, err)
        assert err.startswith("error: ") or "Usage" in err
    code, _, err = invoke("webhooks", "status", "--db", "postgres://x/y")
    assert code == 2
    # A store that does not exist is a problem with the store: exit 1.
    code, _, err = invoke("webhooks", "status", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 1, err


def test_an_empty_outbox(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'icewatch.db'}"

    async def create() -> None:
        store = await open_store(db)
        await store.close()

    asyncio.run(create())
    code, out, err = invoke("webhooks", "status", "--db", db, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert (status["pending"], status["dead"], status["oldest_pending_age_s"]) == (0, 0, None)
    assert status["last_errors"] == []
    code, out, _ = invoke("webhooks", "list", "--db", db)
    assert code == 0
    assert "0 webhook event(s)" in out
    code, out, _ = invoke("webhooks", "retry", "--all-dead", "--db", db)
    assert (code, out) == (0, "Requeued 0 event(s).\n")
