"""Webhooks from a real ``icewatch serve`` to a real local HTTP receiver: signed, retried
after failures, given up on 410, bounded, and kept across a restart."""

from __future__ import annotations

import http.server
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from icewatch.client import IcewatchClient, verify_webhook
from tests.service.proc import (
    API_KEY,
    Served,
    create_session,
    free_port,
    kill_quietly,
    run_failing,
    send_report,
    serve_argv,
)
from tests.service.proc import start as start_served

pytestmark = pytest.mark.timeout(90)

SECRET = "webhook-secret-0123456789"
REPORT: dict[str, Any] = {
    "webrtc": "ok",
    "candidates": [{"candidate": "", "ms": 3.0}],
    "user_agent": "icewatch-webhook-test",
    "gathering_ms": 30.0,
    "ended_by": "complete",
    "deadline_ms": 1500,
}


@dataclass
class Delivery:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A real HTTP server on loopback that answers ``statuses`` in turn (then 200)."""

    port: int
    statuses: list[int] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/icewatch?token=abc"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.deliveries.append(
                        Delivery(time.time(), dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait(self, count: int, timeout: float = 20) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.deliveries)} deliveries, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    try:
        yield r
    finally:
        r.stop()


def serve(cwd: Path, receiver: Receiver, *extra: str, level: str = "low") -> Served:
    return start_served(
        cwd,
        "--webhook-url", receiver.url, "--webhook-secret", SECRET, "--webhook-level", level,
        "--webhook-retry-base", "0.1", *extra,
    )  # fmt: skip


def report(served: Served) -> dict[str, Any]:
    return send_report(served, create_session(served), REPORT)


def metric(served: Served, name: str, labels: dict[str, str] | None = None) -> float:
    text = httpx.get(f"{served.base}/metrics", headers={"X-API-Key": API_KEY}, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def outbox_rows(db: Path) -> list[tuple[str, str, int, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT session_id, status, attempts, last_error FROM webhook_outbox"
            " ORDER BY created_at"
        ).fetchall()


def test_a_flagged_report_is_delivered_signed_after_failures(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses.extend([500, 503])  # the first two deliveries fail
    receiver.start()
    served = serve(tmp_path, receiver)
    try:
        started = time.time()
        answer = report(served)
        got = receiver.wait(3)
        assert [d.status for d in got] == [500, 503, 200]
        event_ids = {d.headers["Icewatch-Event-Id"] for d in got}
        assert len(event_ids) == 1  # one event, retried: the receiver deduplicates on it
        assert got[1].at - got[0].at >= 0.07  # backoff 0.1 s +-25 %
        for d in got:
            assert d.headers["Content-Type"] == "application/json"
            assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", d.headers["Icewatch-Signature"])
            event = verify_webhook(d.body, d.headers["Icewatch-Signature"], SECRET)
        assert event["id"] == event_ids.pop()
        assert event["type"] == "session.verdict"
        assert event["session_id"] == answer["id"]
        assert event["level"] == answer["verdict"]["level"]
        assert event["score"] == answer["verdict"]["score"]
        assert event["reported_at"] == answer["reported_at"]
        assert event["session_created_at"] == answer["created_at"]
        assert event["session_url"] == f"/api/v1/sessions/{answer['id']}"
        assert [s["code"] for s in event["signals"]] == [
            s["code"] for s in answer["verdict"]["signals"]
        ]
        first = event["signals"][0]
        assert first["title"]
        assert first["reason"] == answer["verdict"]["signals"][0]["summary"]
        assert first["evidence"] == answer["verdict"]["signals"][0]["evidence"]
        assert got[0].at - started < 5  # the report did not wait for the delivery

        # The session URL of the event answers with the API key (the backend's next step).
        with IcewatchClient(served.base, API_KEY) as client:
            assert client.verdict(event["session_id"]).score == event["score"]
        eventually(
            lambda: metric(served, "icewatch_webhook_events_total", {"outcome": "delivered"}) == 1
        )
        assert metric(served, "icewatch_webhook_events_total", {"outcome": "queued"}) == 1
        assert metric(served, "icewatch_webhook_attempts_failed_total") == 2
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    assert "token=abc" not in err  # the URL's query (a receiver's token) is never logged
    assert outbox_rows(tmp_path / "icewatch.db") == []  # delivered events are removed


def test_below_the_level_nothing_is_sent(tmp_path: Path, receiver: Receiver) -> None:
    receiver.start()
    served = serve(tmp_path, receiver, level="high")
    try:
        answer = report(served)
        assert answer["verdict"]["level"] != "high"
        time.sleep(1.0)
        assert receiver.deliveries == []
        assert metric(served, "icewatch_webhook_events_total", {"outcome": "queued"}) == 0
    finally:
        kill_quietly(served)
    assert outbox_rows(tmp_path / "icewatch.db") == []


def test_410_gives_up_and_keeps_the_event_as_dead(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses.append(410)
    receiver.start()
    served = serve(tmp_path, receiver)
    try:
        answer = report(served)
        receiver.wait(1)
        eventually(
            lambda: metric(served, "icewatch_webhook_events_total", {"outcome": "failed"}) == 1
        )
        time.sleep(0.5)
        assert len(receiver.deliveries) == 1  # never again
    finally:
        code, _, err = served.stop()
    assert code == 0
    assert "gave up after 1 attempt(s) (HTTP 410)" in err
    assert outbox_rows(tmp_path / "icewatch.db") == [(answer["id"], "dead", 1, "HTTP 410")]


def test_pending_events_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    # The receiver is down: every attempt is refused, the events stay pending.
    served = serve(tmp_path, receiver)
    try:
        sessions = [report(served)["id"] for _ in range(3)]
        eventually(lambda: metric(served, "icewatch_webhook_attempts_failed_total") >= 3)
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    rows = outbox_rows(tmp_path / "icewatch.db")
    assert sorted(r[0] for r in rows) == sorted(sessions)
    assert {r[1] for r in rows} == {"pending"}
    assert all(r[2] >= 1 and "ConnectError" in (r[3] or "") for r in rows)

    receiver.start()
    again = serve(tmp_path, receiver)
    try:
        got = receiver.wait(3)
        delivered = sorted(
            verify_webhook(d.body, d.headers["Icewatch-Signature"], SECRET)["session_id"]
            for d in got
        )
        assert delivered == sorted(sessions)
        eventually(lambda: outbox_rows(tmp_path / "icewatch.db") == [])
    finally:
        code, _, err = again.stop()
    assert code == 0, err


def test_a_full_outbox_refuses_new_events_and_counts_them(
    tmp_path: Path, receiver: Receiver
) -> None:
    served = serve(tmp_path, receiver, "--webhook-queue-max", "2")  # receiver down
    try:
        answers = [report(served) for _ in range(4)]  # every report is answered
        assert all(a["verdict"] is not None for a in answers)
        assert metric(served, "icewatch_webhook_events_total", {"outcome": "queued"}) == 2
        assert metric(served, "icewatch_webhook_events_total", {"outcome": "dropped"}) == 2
    finally:
        code, _, err = served.stop()
    assert code == 0
    assert "webhook outbox full (2 pending events): dropped 1 event(s)" in err
    assert "token=abc" not in err  # the URL's query is not logged
    assert [r[0] for r in outbox_rows(tmp_path / "icewatch.db")] == [a["id"] for a in answers[:2]]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--webhook-url", "http://127.0.0.1:9/x"], "webhook_secret is not (required)"),
        (["--webhook-url", "ftp://example.test/x", "--webhook-secret", SECRET], "unknown scheme"),
        (["--webhook-url", "http://127.0.0.1:9/", "--webhook-secret", "short"], "shorter than 16"),
        (["--webhook-level", "severe"], "not one of low, medium, high"),
    ],
)
def test_bad_webhook_settings_stop_the_start(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    done = run_failing(tmp_path, serve_argv(free_port(), free_port(), "sqlite:///x.db", *extra))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1


def test_deleting_a_session_deletes_its_pending_event(tmp_path: Path, receiver: Receiver) -> None:
    served = serve(tmp_path, receiver)  # receiver down
    try:
        sid = report(served)["id"]
    finally:
        kill_quietly(served)
    db = tmp_path / "icewatch.db"
    assert [r[0] for r in outbox_rows(db)] == [sid]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
    assert outbox_rows(db) == []
