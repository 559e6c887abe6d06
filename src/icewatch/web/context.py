"""Everything the web adapter needs from the outside, passed in by the composition root.

The app never reads the clock, the random source, the environment or the secret by
itself: :class:`WebContext` carries them, so tests can pin time and randomness and the
service decides where settings come from (one settings table: flags, env, config file).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from icewatch.core.addr import IPNetwork
from icewatch.core.evidence import SessionEvidence
from icewatch.core.ports import CorrelationState, OutboxEvent, PeerService, SessionStore
from icewatch.core.scoring import validate_weights
from icewatch.core.verdict import Level, Verdict
from icewatch.web.host import normalise_host
from icewatch.web.metrics import Metrics

__all__ = [
    "HARD_MAX_CANDIDATES",
    "HARD_MAX_CANDIDATE_CHARS",
    "HARD_MAX_CANDIDATE_ERRORS",
    "HARD_MAX_SDP_CHARS",
    "HARD_MAX_TEXT_CHARS",
    "WebContext",
    "WebSettings",
    "WebhookHook",
    "parse_public_host",
]

#: Absolute caps baked into the request models (and so into the OpenAPI document);
#: :class:`WebSettings` may lower them, never raise them.
HARD_MAX_CANDIDATES = 200
HARD_MAX_CANDIDATE_ERRORS = 50
HARD_MAX_SDP_CHARS = 64 * 1024
HARD_MAX_CANDIDATE_CHARS = 2048  # the core's grammar stops at 1024: longer is "malformed"
HARD_MAX_TEXT_CHARS = 1024  # user agent, URLs, error texts, hint values


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The web adapter's share of the settings table (defaults are the documented ones)."""

    public_host: str | None = None  # host name put in the STUN/TURN URLs; None: the Host header
    stun_port: int = 3478
    api_key: str | None = field(default=None, repr=False)  # None closes the operator API
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: Which header a trusted proxy writes: "x-forwarded-for" or "forwarded" (RFC 7239).
    #: Only one is honoured, so a client cannot slip in the other one past the proxy.
    forwarded_header: str = "x-forwarded-for"
    session_ttl: int = 3600  # seconds a session's token and TURN credential stay valid
    report_wait: float = 0.25  # longest wait for STUN/TURN observations still in flight
    max_body_bytes: int = 256 * 1024
    max_candidates: int = HARD_MAX_CANDIDATES
    max_candidate_errors: int = HARD_MAX_CANDIDATE_ERRORS
    max_sdp_chars: int = HARD_MAX_SDP_CHARS
    collector_deadline_ms: int = 1500  # default deadline handed to the collector
    cors_origins: tuple[str, ...] = ()  # origins allowed to embed the collector; "*" for any
    page_size: int = 50  # default page size of the operator listing (max 200)
    #: Operator overrides of signal weights (code, weight); checked by the scoring engine.
    signal_weights: tuple[tuple[str, int], ...] = ()
    #: Longest life of one test connection's peer (seconds).
    peer_deadline: float = 2.0
    #: How long a dashboard login (its signed cookie) lasts, in seconds.
    dashboard_login_ttl: int = 8 * 3600
    #: Per-client rate limits as (requests, per seconds); ``None`` is off. The service's
    #: settings table turns them on by default (``rate_limit_sessions``,
    #: ``rate_limit_login``); the adapter alone leaves them off.
    rate_limit_sessions: tuple[int, float] | None = None
    rate_limit_login: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        if self.public_host is not None:
            parse_public_host(self.public_host)
        if not 1 <= self.stun_port <= 65535:
            raise ValueError(f"stun_port {self.stun_port} out of range 1..65535")
        if self.api_key is not None and len(self.api_key) < 16:
            raise ValueError("api_key must be at least 16 characters")
        if self.forwarded_header not in ("x-forwarded-for", "forwarded"):
            raise ValueError("forwarded_header must be 'x-forwarded-for' or 'forwarded'")
        for net in self.trusted_proxies:
            if not isinstance(net, ipaddress.IPv4Network | ipaddress.IPv6Network):
                raise TypeError(f"trusted_proxies holds {net!r}, not an ip_network")
        if not 60 <= self.session_ttl <= 30 * 86400:
            raise ValueError("session_ttl must be 60 s .. 30 days")
        if not 0 <= self.report_wait <= 5:
            raise ValueError("report_wait must be 0..5 s")
        if not 1024 <= self.max_body_bytes <= 4 * 1024 * 1024:
            raise ValueError("max_body_bytes must be 1 KiB .. 4 MiB")
        _within("max_candidates", self.max_candidates, HARD_MAX_CANDIDATES)
        _within("max_candidate_errors", self.max_candidate_errors, HARD_MAX_CANDIDATE_ERRORS)
        _within("max_sdp_chars", self.max_sdp_chars, HARD_MAX_SDP_CHARS)
        if not 100 <= self.collector_deadline_ms <= 60_000:
            raise ValueError("collector_deadline_ms must be 100..60000")
        if not 0.2 <= self.peer_deadline <= 30:
            raise ValueError("peer_deadline must be 0.2..30 s")
        if not 1 <= self.page_size <= 200:
            raise ValueError("page_size must be 1..200")
        if not 300 <= self.dashboard_login_ttl <= 30 * 86400:
            raise ValueError("dashboard_login_ttl must be 5 minutes .. 30 days")
        for name in ("rate_limit_sessions", "rate_limit_login"):
            rate = getattr(self, name)
            if rate is not None and not (1 <= rate[0] <= 1_000_000 and 0 < rate[1] <= 86400):
                raise ValueError(f"{name} must be 1..1000000 requests per 0..86400 s")
        validate_weights(dict(self.signal_weights))

    @property
    def weights(self) -> dict[str, int] | None:
        return dict(self.signal_weights) or None


def _within(name: str, value: int, hard_max: int) -> None:
    if not 0 <= value <= hard_max:
        raise ValueError(f"{name} must be 0..{hard_max}")


def parse_public_host(text: str) -> str:
    """The configured public host as it goes into a URL (IPv6 bracketed); raise ValueError."""
    host = normalise_host(text.strip(), allow_port=False)
    if host is None:
        raise ValueError(f"public_host {text!r} is not a host name or IP address")
    return host


Enricher = Callable[[SessionEvidence], Awaitable[SessionEvidence]]


class WebhookHook(Protocol):
    """How the report flow queues webhook events (``icewatch.service.webhooks``)."""

    @property
    def queue_max(self) -> int:
        """Most events pending in the outbox; more are refused."""

    @property
    def level(self) -> Level:
        """The lowest verdict level announced (``webhook_level``; the dashboard's
        delivery state)."""

    def event_for(self, evidence: SessionEvidence, verdict: Verdict) -> OutboxEvent | None:
        """The event announcing this verdict, or ``None`` below the configured level."""

    def enqueued(self, event: OutboxEvent, queued: bool) -> None:
        """The store queued the event, or refused it (outbox full): count, log, wake."""


@dataclass(frozen=True, slots=True)
class WebContext:
    """The app's dependencies: ports, the server secret, settings, clock and randomness."""

    store: SessionStore
    state: CorrelationState
    secret: bytes  # the server master secret (persisted by the store)
    clock: Callable[[], float]  # Unix seconds (time.time)
    random_bytes: Callable[[int], bytes]  # secrets.token_bytes
    listener_ready: Callable[[], bool]  # the STUN/TURN listener is bound and answering
    settings: WebSettings = field(default_factory=WebSettings)
    #: Derived evidence added before scoring, by adapters the service wires in (IP
    #: intelligence, user-agent parsing…): each takes the session's evidence and returns
    #: it with its own part filled in, so the verdict stays a pure function of evidence.
    enrichers: tuple[Enricher, ...] = ()
    #: The server side of the test connection; ``None`` when it is turned off.
    peer: PeerService | None = None
    #: Prometheus metrics for ``GET /metrics``; ``None`` turns the route off.
    metrics: Metrics | None = None
    #: Webhook events for flagged verdicts, queued with the verdict; ``None``: off.
    webhooks: WebhookHook | None = None

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the server secret must be at least 16 bytes")
