"""Webhook delivery: the outbox the report flow fills, emptied by a background worker.

The report handler builds the event (:meth:`Webhooks.event_for`) and the store writes it
in the transaction that saves the verdict (``SessionStore.save_result(outbox=...)``), so
an acknowledged report never loses its webhook. :class:`WebhookWorker` claims due events
(with a lease, so several processes on one database do not send one event twice at the
same time), POSTs each with ``Icewatch-Signature`` and ``Icewatch-Event-Id`` headers and
records the outcome:

* ``2xx``: delivered (the row is deleted);
* ``410 Gone``: the receiver wants no more: kept as ``dead`` at once;
* anything else, or no answer within ``webhook_timeout``: retried after
  ``webhook_retry_base`` * 2^(attempts-1), with ±25 % jitter, at most one hour; after
  :data:`MAX_ATTEMPTS` attempts or ``webhook_max_age`` seconds it is kept as ``dead``.

Pending events survive restarts (they are rows in the database); an event interrupted
by a shutdown is released for the next start. Delivery is at least once: receivers
deduplicate on ``Icewatch-Event-Id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from icewatch import __version__
from icewatch.core.evidence import SessionEvidence
from icewatch.core.ports import OutboxEvent, OutboxItem, SessionStore
from icewatch.core.verdict import Level, Verdict
from icewatch.core.webhook import (
    at_or_above,
    event_id,
    signature_header,
    webhook_body,
    webhook_payload,
)
from icewatch.service._background import counter, gauge, stop_task

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "WebhookConfig",
    "WebhookWorker",
    "check_webhook_url",
    "retry_delay",
]

log = logging.getLogger("icewatch.webhooks")

#: Attempts before an event is kept as ``dead``.
MAX_ATTEMPTS = 25
#: Longest delay between two attempts (seconds).
MAX_DELAY = 3600.0
#: Events one worker sends at once.
CONCURRENCY = 4
#: Events claimed per round.
BATCH = 32
#: Longest sleep between two looks at the outbox (other processes may fill it too).
IDLE_POLL = 15.0
#: Seconds between two "queue full" log lines.
DROP_LOG_EVERY = 60.0


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host; raise ``ValueError``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"webhook_url must be http:// or https://, not {parts.scheme}://")
    if not parts.hostname:
        raise ValueError("webhook_url has no host")
    if parts.username or parts.password:
        raise ValueError("webhook_url must not carry credentials (the HMAC signs the events)")
    return url


def retry_delay(attempts: int, base: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base`` doubled
    each time, ±25 % jitter, at most :data:`MAX_DELAY`."""
    raw = min(MAX_DELAY, base * 2.0 ** max(0, min(attempts - 1, 40)))
    return min(MAX_DELAY, raw * (0.75 + 0.5 * rand()))


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret: str
    level: Level = Level.HIGH
    queue_max: int = 10000
    timeout: float = 10.0
    retry_base: float = 1.0
    max_age: float = 86400.0
    max_attempts: int = MAX_ATTEMPTS


@dataclass(slots=True)
class _Counts:
    queued: int = 0
    dropped: int = 0
    delivered: int = 0
    failed: int = 0  # gave up (dead)
    attempts_failed: int = 0
    pending: float = 0.0
    dead: float = 0.0


class _WebhookCollector(Collector):
    def __init__(self, counts: _Counts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self._counts
        events = CounterMetricFamily(
            "icewatch_webhook_events",
            "Webhook events by outcome: queued (written to the outbox), delivered (2xx), "
            "failed (gave up: 410, too many attempts or too old), dropped (outbox full)",
            labels=["outcome"],
        )
        for outcome in ("queued", "delivered", "failed", "dropped"):
            events.add_metric([outcome], float(getattr(c, outcome)))
        yield events
        yield counter(
            "icewatch_webhook_attempts_failed",
            "Webhook delivery attempts that failed",
            c.attempts_failed,
        )
        yield gauge(
            "icewatch_webhook_pending",
            "Webhook events waiting in the outbox (last look)",
            c.pending,
        )
        yield gauge(
            "icewatch_webhook_dead", "Webhook events kept as dead in the outbox (last look)", c.dead
        )


class WebhookWorker:
    """Builds events for the report flow and delivers the outbox in the background."""

    def __init__(
        self,
        store: SessionStore,
        config: WebhookConfig,
        *,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_webhook_url(config.url)
        if len(config.secret) < 16:
            raise ValueError("webhook_secret must be at least 16 characters")
        self.store = store
        self.config = config
        self.clock = clock
        self._random_bytes = random_bytes or secrets.token_bytes
        self.counts = _Counts()
        self._transport = transport
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: dict[str, OutboxItem] = {}
        self._last_drop_log = float("-inf")
        self._drops_unlogged = 0

    # -- the report flow's side -------------------------------------------------------

    @property
    def queue_max(self) -> int:
        return self.config.queue_max

    @property
    def level(self) -> Level:
        """The lowest verdict level that is announced (``webhook_level``)."""
        return self.config.level

    def event_for(self, evidence: SessionEvidence, verdict: Verdict) -> OutboxEvent | None:
        """The event announcing this verdict, or ``None`` below ``webhook_level``."""
        if not at_or_above(verdict.level, self.config.level):
            return None
        now = self.clock()
        eid = event_id(self._random_bytes(16))
        body = webhook_body(webhook_payload(evidence, verdict, event=eid, now=now))
        return OutboxEvent(eid, evidence.session_id, now, body)

    def enqueued(self, event: OutboxEvent, queued: bool) -> None:
        """The store wrote the event (``queued``) or refused it (outbox full)."""
        if queued:
            self.counts.queued += 1
            self._wake.set()
            return
        self.counts.dropped += 1
        self._drops_unlogged += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_EVERY:
            log.warning(
                "webhook outbox full (%d pending events): dropped %d event(s), the last for "
                "session %s; is %s down?",
                self.config.queue_max,
                self._drops_unlogged,
                event.session_id,
                _safe_url(self.config.url),
            )
            self._last_drop_log = now
            self._drops_unlogged = 0

    def collector(self) -> Collector:
        """Prometheus collector of the webhook counters (register it on the metrics)."""
        return _WebhookCollector(self.counts)

    # -- the worker ---------------------------------------------------------------------

    def start(self) -> None:
        # httpx logs every request's full URL at INFO: the webhook URL's query may hold
        # the receiver's token, so its lines stay out of the log unless asked for.
        quiet = logging.getLogger("httpx")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self.config.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"icewatch/{__version__} (webhook)"},
        )
        self._task = asyncio.create_task(self._run(), name="icewatch-webhooks")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Stop delivering; events in flight are released for the next start."""
        await stop_task(self._task)
        self._task = None
        for item in list(self._in_flight.values()):
            with contextlib.suppress(Exception):
                await self.store.outbox_retry(
                    item.event.id,
                    attempts=item.attempts,
                    next_at=self.clock(),
                    error="interrupted by a shutdown",
                    dead=False,
                )
        self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
                stats = await self.store.outbox_stats()
                self.counts.pending = float(stats["pending"] or 0)
                self.counts.dead = float(stats["dead"] or 0)
                next_due = stats["next_due"]
                wait = IDLE_POLL if next_due is None else next_due - self.clock()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker: the outbox could not be read; retrying")
                wait = 5.0
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(wait, IDLE_POLL))

    async def run_once(self) -> int:
        """Deliver every event due now (one claim); return how many were tried."""
        lease = self.config.timeout + 30.0
        claim = asyncio.ensure_future(
            self.store.outbox_claim(self.clock(), limit=BATCH, lease=lease)
        )
        try:
            items = await asyncio.shield(claim)
        except asyncio.CancelledError:
            # A shutdown while the claim is being written: the claim still completes, and
            # what it leased is handed to close() to release, not left leased.
            with contextlib.suppress(Exception):
                for item in await claim:
                    self._in_flight[item.event.id] = item
            raise
        if not items:
            return 0
        gate = asyncio.Semaphore(CONCURRENCY)
        # Every claimed event is in flight from now on, also while it waits for the gate:
        # a shutdown releases them all, or those still waiting would stay leased.
        for item in items:
            self._in_flight[item.event.id] = item

        async def one(item: OutboxItem) -> None:
            try:
                async with gate:
                    await self._deliver(item)
            finally:
                self._in_flight.pop(item.event.id, None)

        await asyncio.gather(*(one(item) for item in items))
        return len(items)

    async def _deliver(self, item: OutboxItem) -> None:
        if self._client is None:
            raise RuntimeError("start() the webhook worker first")
        event = item.event
        now = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "Icewatch-Event-Id": event.id,
            "Icewatch-Signature": signature_header(self.config.secret, now, event.body),
        }
        status: int | None = None
        try:
            async with self._client.stream(
                "POST", self.config.url, content=event.body, headers=headers
            ) as response:
                status = response.status_code
            error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
        if status is not None and 200 <= status < 300:
            await self.store.outbox_done(event.id)
            self.counts.delivered += 1
            log.debug("webhook %s delivered for session %s", event.id, event.session_id)
            return
        attempts = item.attempts + 1
        self.counts.attempts_failed += 1
        delay = retry_delay(attempts, self.config.retry_base)
        age = self.clock() + delay - event.created_at
        dead = status == 410 or attempts >= self.config.max_attempts or age > self.config.max_age
        await self.store.outbox_retry(
            event.id, attempts=attempts, next_at=self.clock() + delay, error=error, dead=dead
        )
        if dead:
            self.counts.failed += 1
            log.warning(
                "webhook %s for session %s gave up after %d attempt(s) (%s); kept as dead",
                event.id,
                event.session_id,
                attempts,
                error,
            )
        else:
            log.info(
                "webhook %s attempt %d failed (%s); next in %.1f s",
                event.id,
                attempts,
                error,
                delay,
            )


def _safe_url(url: str) -> str:
    """The URL without its query (it may carry a token of the receiver's)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
