"""The in-process :class:`~icewatch.core.ports.CorrelationState` (``memory://``).

It holds the packets the STUN/TURN listener saw until the session they belong to
reports (a second or two later), indexed two ways: observations that name their
session (a verified TURN credential) by session id, and those that do not (Binding
requests, unauthenticated Allocates) by source ``(ip, port)``. Which of them belong to a
session is decided by :func:`icewatch.core.correlate.attribute_bindings`, the one rule
every backend shares; this class only finds the few candidates fast.

Everything is bounded, because UDP sources are free to forge: a flood of Binding
requests from millions of spoofed sources must not exhaust memory nor push out the
observations of real sessions. So the two kinds live in separate pools, each with its
own capacity, a time-to-live, and a cap per key (per source for unattributed ones, per
session for attributed ones). Every eviction is counted by reason (:class:`StateStats`).
Nothing here is acknowledged to anyone: an evicted observation is a counted drop.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import attribute_bindings, normalize_ip
from icewatch.core.evidence import Observation
from icewatch.store.errors import StoreError

__all__ = ["MemoryCorrelationState", "StateLimits", "StateStats"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class StateLimits:
    """Bounds of the in-memory state (defaults fit one process; see docs/storage.md).

    At the defaults the state holds at most 40 000 observations, about 700 bytes each
    with their indexes: under 30 MB in the worst case, whatever arrives. 20 000
    unattributed observations in 60 s is ~330 Binding requests a second, the traffic
    of roughly 100 new sessions a second.
    """

    ttl: float = 60.0  # seconds an observation is kept (a session reports within seconds)
    max_unattributed: int = 20_000  # Binding requests etc. naming no session
    max_attributed: int = 20_000  # TURN requests carrying a verified session credential
    per_source: int = 8  # unattributed observations kept per source (ip, port)
    per_session: int = 64  # attributed observations kept per session

    def __post_init__(self) -> None:
        if not self.ttl > 0:
            raise ValueError("ttl must be positive")
        for name in ("max_unattributed", "max_attributed", "per_source", "per_session"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(slots=True)
class StateStats:
    """Counters since start (for logs, /healthz and the benchmark)."""

    added: int = 0
    expired: int = 0  # older than ``ttl``
    evicted_capacity: int = 0  # a pool was full: its oldest observation went
    evicted_per_source: int = 0  # a source exceeded ``per_source``: its oldest went
    evicted_per_session: int = 0  # a session exceeded ``per_session``: its oldest went
    refused_closed: int = 0  # arrived after close()

    @property
    def evicted(self) -> int:
        return self.evicted_capacity + self.evicted_per_source + self.evicted_per_session


class _Pool(Generic[K]):
    """Observations in arrival order, with an index by key.

    Every removal takes the oldest observation of its key (the globally oldest is also
    the oldest of its own key), so the per-key lists only ever pop their head. Index
    lists are plain lists (short, capped) rather than deques: with 100 000 distinct
    sources a deque each would cost far more memory than the observations."""

    __slots__ = ("by_key", "capacity", "fifo", "per_key")

    def __init__(self, capacity: int, per_key: int) -> None:
        self.capacity = capacity
        self.per_key = per_key
        self.fifo: OrderedDict[int, tuple[Observation, K, float]] = OrderedDict()
        self.by_key: dict[K, list[int]] = {}

    def __len__(self) -> int:
        return len(self.fifo)

    def add(self, seq: int, key: K, observation: Observation, added: float) -> tuple[int, int]:
        """Insert; return how many went for the per-key cap and for capacity."""
        self.fifo[seq] = (observation, key, added)
        seqs = self.by_key.setdefault(key, [])
        seqs.append(seq)
        over_key = 0
        while len(seqs) > self.per_key:
            del self.fifo[seqs.pop(0)]
            over_key += 1
        over_capacity = 0
        while len(self.fifo) > self.capacity:
            self._pop_oldest()
            over_capacity += 1
        return over_key, over_capacity

    def expire(self, before: float) -> int:
        gone = 0
        while self.fifo:
            _, (_, _, added) = next(iter(self.fifo.items()))
            if added >= before:
                break
            self._pop_oldest()
            gone += 1
        return gone

    def _pop_oldest(self) -> None:
        seq, (_, key, _) = self.fifo.popitem(last=False)
        seqs = self.by_key[key]
        head = seqs.pop(0)  # the oldest of its key is its head (see the class docstring)
        if head != seq:  # pragma: no cover - an invariant, checked cheaply
            raise RuntimeError("correlation state index out of order")
        if not seqs:
            del self.by_key[key]

    def get(self, key: K) -> list[Observation]:
        return [self.fifo[seq][0] for seq in self.by_key.get(key, ())]

    def clear(self) -> None:
        self.fifo.clear()
        self.by_key.clear()


class MemoryCorrelationState:
    """A bounded in-process correlation state; use it from one event loop.

    ``clock`` (monotonic seconds) drives the time-to-live only; attribution uses the
    observations' own ``at`` times.
    """

    def __init__(
        self,
        limits: StateLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or StateLimits()
        self._clock = clock
        self._seq = itertools.count()
        self._bound: _Pool[str] = _Pool(self.limits.max_attributed, self.limits.per_session)
        self._free: _Pool[tuple[IPAddress, int]] = _Pool(
            self.limits.max_unattributed, self.limits.per_source
        )
        self._closed = False
        self.stats = StateStats()

    def __repr__(self) -> str:
        return (
            f"<MemoryCorrelationState attributed={len(self._bound)} unattributed={len(self._free)}>"
        )

    def __len__(self) -> int:
        return len(self._bound) + len(self._free)

    @property
    def sources(self) -> int:
        """Distinct sources with unattributed observations held."""
        return len(self._free.by_key)

    @property
    def sessions(self) -> int:
        """Distinct sessions with observations held."""
        return len(self._bound.by_key)

    def _expire(self, now: float) -> None:
        before = now - self.limits.ttl
        self.stats.expired += self._bound.expire(before) + self._free.expire(before)

    async def add_observation(self, observation: Observation) -> None:
        if self._closed:
            self.stats.refused_closed += 1
            raise StoreError("the correlation state is closed")
        now = self._clock()
        self._expire(now)
        seq = next(self._seq)
        self.stats.added += 1
        if observation.session_id is None:
            key = (normalize_ip(observation.ip), observation.port)
            per_key, capacity = self._free.add(seq, key, observation, now)
            self.stats.evicted_per_source += per_key
        else:
            per_key, capacity = self._bound.add(seq, observation.session_id, observation, now)
            self.stats.evicted_per_session += per_key
        self.stats.evicted_capacity += capacity

    async def observations_for(
        self,
        session_id: str,
        endpoints: Collection[tuple[IPAddress, int]],
        since: float,
        until: float,
    ) -> Sequence[Observation]:
        """See :class:`~icewatch.core.ports.CorrelationState` and
        :func:`~icewatch.core.correlate.attribute_bindings` (the rule applied here)."""
        if self._closed:
            raise StoreError("the correlation state is closed")
        self._expire(self._clock())
        own = self._bound.get(session_id)
        wanted = {(normalize_ip(ip), port) for ip, port in endpoints}
        wanted.update((normalize_ip(o.ip), o.port) for o in own if since <= o.at <= until)
        found = list(own)
        for key in wanted:
            found.extend(self._free.get(key))
        return attribute_bindings(session_id, found, endpoints, since, until)

    async def close(self) -> None:
        self._closed = True
        self._bound.clear()
        self._free.clear()
