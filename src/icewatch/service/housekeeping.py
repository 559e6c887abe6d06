"""Retention and address rewriting: the store's background housekeeping.

One task per ``icewatch serve`` process runs a *pass* at start and then every
``housekeeping_interval`` seconds:

1. **retention** (``retention``, default 30 days; ``off`` disables): every session
   created more than ``retention`` ago is deleted with everything stored about it
   (``SessionStore.purge``: 500 sessions per transaction, so reports keep being
   answered meanwhile);
2. **address rewriting** (``store_addresses`` = ``truncated`` or ``hashed``): sessions
   still stored with their addresses as captured — reported before the setting was
   turned on, or never reported and past their ``expires_at`` — are rewritten
   (``SqliteStore.rewrite_addresses``).

The pass runs in the event loop but every database step is one short transaction on
the store's writer thread, so request handling is never blocked for long; a failing
pass is logged and counted and the next one runs on schedule. Counts are exposed as
``icewatch_retention_purged_total``, ``icewatch_addresses_rewritten_total`` and
``icewatch_housekeeping_failures_total`` and logged when non-zero.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from icewatch.core.ports import SessionFilter, SessionStore
from icewatch.core.privacy import AddressPolicy
from icewatch.service._background import counter, gauge, stop_task
from icewatch.store.sqlite import SqliteStore

__all__ = ["ADDRESS_KEY_NAME", "Housekeeping", "HousekeepingCounts", "start_housekeeping"]

log = logging.getLogger("icewatch.housekeeping")


@dataclass
class HousekeepingCounts:
    passes: int = 0
    purged: int = 0
    rewritten: int = 0
    failures: int = 0
    last_pass: float = 0.0
    last_error: str | None = field(default=None, repr=False)


class _Collector(Collector):
    def __init__(self, counts: HousekeepingCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self._counts
        yield counter(
            "icewatch_retention_purged", "Sessions deleted by the retention period", c.purged
        )
        yield counter(
            "icewatch_addresses_rewritten",
            "Sessions whose stored addresses the background pass truncated or hashed",
            c.rewritten,
        )
        yield counter(
            "icewatch_housekeeping_failures", "Housekeeping passes that failed", c.failures
        )
        yield gauge(
            "icewatch_housekeeping_last_pass_timestamp_seconds",
            "When the last housekeeping pass finished (Unix seconds; 0: none yet)",
            c.last_pass,
        )


class Housekeeping:
    """The background task: :meth:`start`, then :meth:`close` before the store closes."""

    def __init__(
        self,
        store: SessionStore,
        *,
        retention: float,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention < 0:
            raise ValueError("retention must be 0 (off) or positive")
        if interval <= 0:
            raise ValueError("the housekeeping interval must be positive")
        self.store = store
        self.retention = retention
        self.interval = interval
        self.clock = clock
        self.counts = HousekeepingCounts()
        self._task: asyncio.Task[None] | None = None
        self._passed = asyncio.Event()

    def collector(self) -> Collector:
        return _Collector(self.counts)

    async def run_once(self) -> tuple[int, int]:
        """One pass now: ``(purged, rewritten)``."""
        now = self.clock()
        purged = rewritten = 0
        if self.retention > 0:
            purged = await self.store.purge(SessionFilter(until=now - self.retention))
        if isinstance(self.store, SqliteStore):
            rewritten = await self.store.rewrite_addresses(now)
        self.counts.passes += 1
        self.counts.purged += purged
        self.counts.rewritten += rewritten
        self.counts.last_pass = self.clock()
        if purged or rewritten:
            log.info(
                "housekeeping: %d session(s) past the retention period deleted, "
                "%d session(s) had their addresses rewritten",
                purged,
                rewritten,
                extra={"purged": purged, "rewritten": rewritten},
            )
        return purged, rewritten

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged and counted; the next pass runs on time
                self.counts.failures += 1
                self.counts.last_error = str(exc)
                log.warning("housekeeping pass failed: %s", exc)
            self._passed.set()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="icewatch-housekeeping")

    async def wait_first_pass(self) -> None:
        await self._passed.wait()

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None


#: The name the pseudonym key is stored under (``SessionStore.server_secret``).
ADDRESS_KEY_NAME = "address-pseudonyms"


async def start_housekeeping(
    store: SessionStore,
    *,
    retention: float,
    interval: float,
    store_addresses: str,
    random_bytes: Callable[[int], bytes],
) -> Housekeeping:
    """Apply ``store_addresses`` to the store (the ``hashed`` key is a persistent server
    secret, created on first use) and start the background task; raise ``ValueError``
    for settings the store cannot honour."""
    if store_addresses != "full" and not isinstance(store, SqliteStore):
        raise ValueError(f"store_addresses = {store_addresses} needs the SQLite store")
    if isinstance(store, SqliteStore):
        key = b""
        if store_addresses == "hashed":
            key = await store.server_secret(ADDRESS_KEY_NAME, random_bytes(32))
        store.set_address_policy(AddressPolicy(store_addresses, key))
    task = Housekeeping(store, retention=retention, interval=interval)
    task.start()
    return task
