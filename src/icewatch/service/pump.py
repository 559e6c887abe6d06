"""The bounded hand-off from the STUN/TURN listener to the correlation state.

The listener calls :meth:`ObservationPump.offer` synchronously from its datagram
callback: it must never block or await, whatever the state backend costs. Offers go
into a bounded :class:`asyncio.Queue`; one task writes them to
``state.add_observation`` in arrival order. When the queue is full the observation is
counted in ``dropped`` and discarded (a flood cannot grow memory); a failing write is
counted in ``failed`` and logged, and the task carries on.

On shutdown :meth:`close` stops taking offers and writes everything already queued
before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from icewatch.core.evidence import Observation
from icewatch.core.ports import CorrelationState

__all__ = ["ObservationPump", "PumpStats"]

log = logging.getLogger("icewatch.service")


@dataclass(slots=True)
class PumpStats:
    offered: int = 0
    written: int = 0
    dropped: int = 0  # the queue was full
    failed: int = 0  # the state refused the write
    refused: int = 0  # offered after close


class ObservationPump:
    """A bounded queue and one writer task between the listener and the state."""

    def __init__(self, state: CorrelationState, maxsize: int) -> None:
        self._state = state
        self._queue: asyncio.Queue[Observation] = asyncio.Queue(maxsize=maxsize)
        self._task: asyncio.Task[None] | None = None
        self._open = True
        self.stats = PumpStats()

    def start(self) -> None:
        """Start the writer task (call on the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="icewatch-observation-pump"
            )

    def offer(self, observation: Observation) -> None:
        """Queue one observation; never blocks (drops and counts when full)."""
        if not self._open:
            self.stats.refused += 1
            return
        self.stats.offered += 1
        try:
            self._queue.put_nowait(observation)
        except asyncio.QueueFull:
            self.stats.dropped += 1

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            observation = await self._queue.get()
            try:
                await self._state.add_observation(observation)
                self.stats.written += 1
            except Exception:  # the pump must outlive any one bad write
                self.stats.failed += 1
                log.exception("could not record an observation")
            finally:
                self._queue.task_done()

    async def close(self, timeout: float = 5.0) -> None:
        """Stop taking offers, write what is queued (up to ``timeout`` s), end the task."""
        self._open = False
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.error("observation queue not drained in %.1f s: %d left", timeout, self.pending)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
