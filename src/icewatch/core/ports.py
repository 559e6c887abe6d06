"""The interfaces adapters plug into (``typing.Protocol``; implementations live outside
the core and are chosen by the composition root in ``icewatch.service``).

* :class:`SessionStore` — durable storage of sessions (evidence + verdict), chosen by URL
  scheme (``sqlite:///path`` now; PostgreSQL later). Every method is a coroutine so a
  network database fits the same shape; nothing returns before the write is durable.
* :class:`PeerService` — the server side of the test connection: answers a session's
  WebRTC offer as a real peer and reports what the ICE checks revealed (aiortc now).
* :class:`CorrelationState` — the short-lived join between packets seen by the STUN/TURN
  listener and sessions seen by the web app (in-process now; Redis later, when
  listeners and web workers run as separate processes on several hosts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from icewatch.core.addr import IPAddress, IPNetwork
from icewatch.core.evidence import Observation, SessionEvidence
from icewatch.core.fingerprint import NetworkFingerprint, Population
from icewatch.core.verdict import Verdict

__all__ = [
    "CorrelationState",
    "OutboxEvent",
    "OutboxItem",
    "OutboxSummary",
    "Overview",
    "PeerService",
    "Rescored",
    "SessionBatch",
    "SessionFilter",
    "SessionPage",
    "SessionStore",
    "StoredSession",
]


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session as stored: its evidence (the source of truth) and the verdict computed
    from it (recomputable when rules change)."""

    evidence: SessionEvidence
    expires_at: float
    verdict: Verdict | None = None
    #: The stored network fingerprint id (``None`` before the report, or not computed yet).
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of a newest-first listing; ``next_cursor`` is ``None`` on the last page."""

    sessions: tuple[StoredSession, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SessionBatch:
    """One batch of :meth:`SessionStore.iter_sessions`: the sessions that read back, and
    ``(id, reason)`` of those that did not (skipped, never fatal to the iteration)."""

    sessions: tuple[StoredSession, ...]
    unreadable: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Rescored:
    """A session's recomputed verdict and fingerprint, for :meth:`SessionStore.save_verdicts`."""

    session_id: str
    verdict: Verdict
    fingerprint: NetworkFingerprint | None = None


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions a listing, an export, the overview or a purge looks at: every
    condition given must hold; the empty filter matches every session.

    ``levels``: verdict levels (``low``/``medium``/``high``; ``pending`` = not reported
    yet). ``signal``: a signal code the verdict carries. ``network``: the HTTP client
    address or any address the session revealed (observed at icewatch's sockets or
    reported by the page) lies in it (one address = a /32 or /128). ``provider``: a
    provider/organisation name from the IP intelligence (case-insensitive) or ``AS64500``.
    ``since``/``until``: ``since <= created_at < until`` (epoch seconds).
    ``ua_family``: the claimed browser family (case-insensitive, e.g. ``Chrome``).
    """

    levels: frozenset[str] = frozenset()
    signal: str | None = None
    network: IPNetwork | None = None
    provider: str | None = None
    since: float | None = None
    until: float | None = None
    ua_family: str | None = None


@dataclass(frozen=True, slots=True)
class Overview:
    """Aggregates over the sessions a filter matches (the dashboard's pictures).

    ``timeline``: ``(bucket_start, {level: sessions})`` for equal time buckets covering
    the filter's range, oldest first. ``top_signals``: ``(code, sessions)``, most first.
    ``top_providers``: ``(provider or ASN label, sessions)`` among sessions at ``medium``
    or ``high``, most first. ``time_to_verdict``: ``(upper bound in seconds, sessions)``
    from session creation to its scored report, the last bound ``inf``.
    ``surprisal``: ``(bits lower bound, sessions)`` of the network-fingerprint surprisal.
    """

    total: int
    by_level: dict[str, int]
    timeline: tuple[tuple[float, dict[str, int]], ...]
    top_signals: tuple[tuple[str, int], ...]
    top_providers: tuple[tuple[str, int], ...]
    time_to_verdict: tuple[tuple[float, int], ...]
    surprisal: tuple[tuple[float, int], ...]


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A webhook event to deliver, written in the same transaction as the verdict it
    announces (so an acknowledged report never loses its webhook)."""

    id: str
    session_id: str
    created_at: float
    body: bytes  # the exact bytes to POST (signed at each attempt)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An outbox row as the delivery worker sees it."""

    event: OutboxEvent
    status: str  # pending | dead
    attempts: int
    next_at: float
    last_error: str | None = None
    updated_at: float | None = None  # when the row last changed (the last attempt)


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """The webhook outbox at a glance (``icewatch webhooks status``)."""

    pending: int
    dead: int
    oldest_pending: float | None  # created_at of the oldest pending event
    oldest_dead: float | None
    next_due: float | None  # the earliest pending next_at
    last_errors: tuple[OutboxItem, ...]  # the most recent failures first


class SessionStore(Protocol):
    async def create_session(self, evidence: SessionEvidence, expires_at: float) -> None:
        """Store a new session (raise ``KeyError`` if the id exists)."""

    async def save_result(
        self,
        evidence: SessionEvidence,
        verdict: Verdict,
        fingerprint: NetworkFingerprint | None = None,
        *,
        outbox: OutboxEvent | None = None,
        outbox_max: int = 0,
    ) -> bool:
        """Replace a session's evidence (report, observations), verdict and network
        fingerprint (counted in the population statistics at once). With ``outbox``, also
        queue that webhook event in the same transaction unless ``outbox_max`` events are
        already pending; return whether it was queued (``False`` without one)."""

    async def fingerprint_stats(self, fingerprint: NetworkFingerprint) -> Population:
        """How many stored sessions have a fingerprint, how many have this one, and how
        many have each of its component values."""

    def iter_sessions(
        self, *, batch: int = 500, since: float | None = None
    ) -> AsyncIterator[SessionBatch]:
        """Every reported session created at or after ``since``, oldest first, ``batch``
        at a time (each batch one read; safe while others write)."""

    async def count_sessions(self, *, since: float | None = None) -> int:
        """How many reported sessions :meth:`iter_sessions` would give."""

    async def save_verdicts(self, items: Sequence[Rescored]) -> int:
        """Replace the verdict and fingerprint of reported sessions (evidence untouched),
        all in one transaction; return how many sessions were updated (a session that
        is gone is skipped)."""

    async def get_session(self, session_id: str) -> StoredSession | None: ...

    async def list_sessions(self, *, limit: int, cursor: str | None = None) -> SessionPage: ...

    async def query_sessions(
        self, where: SessionFilter, *, limit: int, cursor: str | None = None
    ) -> SessionPage:
        """Newest first, the sessions ``where`` matches, one page (``limit`` at most);
        pass ``next_cursor`` back for the next page. A bad cursor raises ``ValueError``."""

    async def overview(self, where: SessionFilter, *, buckets: int = 24) -> Overview:
        """The aggregates of :class:`Overview` over the sessions ``where`` matches."""

    async def count_matching(self, where: SessionFilter, *, limit: int = 100_000) -> int:
        """How many sessions ``where`` matches, counted no further than ``limit`` (a
        result of ``limit`` means "at least that many")."""

    async def delete_session(self, session_id: str) -> bool:
        """Delete one session and everything stored about it; ``False`` if it was absent."""

    async def purge(self, where: SessionFilter) -> int:
        """Delete every session ``where`` matches (in bounded batches, safe while others
        write); return how many were deleted."""

    async def outbox_claim(self, now: float, *, limit: int, lease: float) -> Sequence[OutboxItem]:
        """Up to ``limit`` pending webhook events due at ``now`` (oldest due first), each
        leased for ``lease`` seconds (its ``next_at`` moved on, so another worker or
        process does not send it meanwhile; a crash lets the lease run out)."""

    async def outbox_done(self, event_id: str) -> None:
        """A webhook event was delivered: remove it."""

    async def outbox_retry(
        self, event_id: str, *, attempts: int, next_at: float, error: str, dead: bool
    ) -> None:
        """Record a failed attempt: try again at ``next_at``, or keep it as ``dead``."""

    async def outbox_stats(self) -> dict[str, float | None]:
        """``pending`` and ``dead`` counts and ``next_due`` (the earliest pending
        ``next_at``, ``None`` when none is pending)."""

    async def outbox_items(self, *, status: str, limit: int) -> Sequence[OutboxItem]:
        """Events of one status, oldest first (for inspection)."""

    async def outbox_for_session(self, session_id: str) -> Sequence[OutboxItem]:
        """One session's events still in the outbox (pending or dead; delivered ones are
        deleted), oldest first, at most 20 (the dashboard's delivery state)."""

    async def outbox_summary(self, *, errors: int = 5) -> OutboxSummary:
        """Counts, the oldest events, the next attempt and the ``errors`` most recent
        failures (for operators)."""

    async def outbox_requeue(self, event_ids: Sequence[str] | None, *, now: float) -> list[str]:
        """Put dead events back in the queue (due at ``now``, attempts from zero): those
        of ``event_ids`` that are dead, or every dead one for ``None``; return their ids."""

    async def outbox_drop(self, event_ids: Sequence[str] | None) -> list[str]:
        """Delete the events of ``event_ids`` (any status), or every dead one for
        ``None``; return the ids deleted."""

    async def server_secret(self, name: str, new_secret: bytes) -> bytes:
        """The persistent secret called ``name``: stored on first call (``new_secret``),
        the stored one afterwards, so tokens and TURN credentials survive restarts."""

    async def ping(self) -> None:
        """Raise if the store is not usable (readiness)."""

    async def close(self) -> None:
        """Finish every acknowledged write, then release the store."""


class CorrelationState(Protocol):
    async def add_observation(self, observation: Observation) -> None:
        """Record a packet the listener saw (attributed to a session or not)."""

    async def observations_for(
        self,
        session_id: str,
        endpoints: Collection[tuple[IPAddress, int]],
        since: float,
        until: float,
    ) -> Sequence[Observation]:
        """The session's own observations, plus unattributed Binding observations whose
        source ``(ip, port)`` is in ``endpoints`` or is the source of one of the
        session's TURN observations, received within ``[since, until]``; oldest first."""

    async def close(self) -> None: ...


class PeerService(Protocol):
    """The server side of the test connection (one WebRTC peer per session).

    The implementation reports what it saw (``ice-nominated`` / ``ice-check``
    observations, with the data-channel RTTs) through the ``on_observation`` callback it
    was built with — the same pump the STUN/TURN listener feeds, so the session's report
    finds them in the :class:`CorrelationState` whichever worker handles it.
    """

    async def answer(self, session_id: str, offer_sdp: str, *, deadline: float) -> str:
        """The answer SDP to ``offer_sdp``; the peer connection lives at most ``deadline``
        seconds. Raise :class:`~icewatch.core.errors.PeerError` (``reason``: ``disabled``,
        ``busy``, ``bad_offer``, ``timeout``)."""

    async def close(self) -> None:
        """Close every peer connection and free its sockets and tasks."""
