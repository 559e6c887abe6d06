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

from icewatch.core.addr import IPAddress
from icewatch.core.evidence import Observation, SessionEvidence
from icewatch.core.fingerprint import NetworkFingerprint, Population
from icewatch.core.verdict import Verdict

__all__ = [
    "CorrelationState",
    "PeerService",
    "Rescored",
    "SessionBatch",
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


class SessionStore(Protocol):
    async def create_session(self, evidence: SessionEvidence, expires_at: float) -> None:
        """Store a new session (raise ``KeyError`` if the id exists)."""

    async def save_result(
        self,
        evidence: SessionEvidence,
        verdict: Verdict,
        fingerprint: NetworkFingerprint | None = None,
    ) -> None:
        """Replace a session's evidence (report, observations), verdict and network
        fingerprint (counted in the population statistics at once)."""

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
