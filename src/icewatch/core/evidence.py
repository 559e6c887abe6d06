"""What was seen about one session: the evidence every verdict is computed from.

Three kinds of evidence, by how far they can be trusted:

* :class:`Observation` — a packet that arrived at icewatch's own STUN/TURN (later ICE)
  socket. Its source address is ground truth: JavaScript cannot forge it.
* :class:`HttpSighting` — an HTTP request to icewatch: the socket peer (truth), the
  address resolved through trusted proxies, and the headers the client sent (claims).
* :class:`PageReport` — what the page's JavaScript reported: candidates, SDP, user
  agent. Everything in it is a claim, parsed with the core's parsers before use.

All values are frozen and hold no clock: times are given as Unix seconds (``float``) by
the adapter that saw them. ``as_dict`` gives the stable JSON used by the API and the
store; ``*_from_dict`` reads it back (stored evidence is re-scored when rules change).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from icewatch.core.addr import IPAddress, parse_ip
from icewatch.core.client import ClientClaim, client_claim_from_dict
from icewatch.core.errors import ParseError
from icewatch.core.intel.model import IntelResult

__all__ = [
    "CandidateErrorReport",
    "ConnectionReport",
    "HttpSighting",
    "IntelEvidence",
    "IntelLookup",
    "Observation",
    "ObservationSource",
    "PageReport",
    "ReportedCandidate",
    "SessionEvidence",
    "StatsCandidate",
    "StunKind",
    "TamperCheck",
    "TamperReport",
    "WebRtcStatus",
    "http_sighting_from_dict",
    "intel_evidence_from_dict",
    "observation_from_dict",
    "page_report_from_dict",
    "session_evidence_from_dict",
]


class ObservationSource(StrEnum):
    """Which listener role saw the packet."""

    STUN = "stun"  # a Binding request (no credentials, attributed by address)
    TURN = "turn"  # a TURN request carrying the session's credential (attributed by USERNAME)
    ICE = "ice"  # an ICE connectivity check of the test connection (a later milestone)


class StunKind(StrEnum):
    """Which message the observation records."""

    BINDING = "binding"
    ALLOCATE = "allocate"  # an Allocate without (valid) credentials
    ALLOCATE_AUTHENTICATED = "allocate-authenticated"  # MESSAGE-INTEGRITY verified
    REFRESH = "refresh"
    OTHER = "other"
    #: The remote address of the test connection's nominated (selected) candidate pair:
    #: where the browser's ICE checks really came from (peer-reflexive or host).
    ICE_NOMINATED = "ice-nominated"
    #: Another remote address the test connection's ICE checks came from.
    ICE_CHECK = "ice-check"


@dataclass(frozen=True, slots=True)
class Observation:
    """One request that reached icewatch's STUN/TURN socket.

    ``session_id`` is set when the packet itself names the session (a TURN USERNAME whose
    MESSAGE-INTEGRITY verified) and ``None`` for a Binding request, which carries no
    credential and is attributed later by its source address (see ``correlate``).
    """

    source: ObservationSource
    kind: StunKind
    ip: IPAddress
    port: int
    transport: str  # "udp" | "tcp"
    at: float  # Unix seconds, when the packet was received
    transaction_id: str  # hex
    session_id: str | None = None
    username: str | None = None  # the TURN USERNAME as received (even when it fails)
    software: str | None = None
    integrity: str | None = None  # "valid" | "invalid" | None (not applicable)
    local_ip: IPAddress | None = None  # the server address the packet arrived on
    local_port: int | None = None
    #: Server-measured round-trip samples (ms) tied to this observation (for
    #: ``ice-nominated``: the data-channel pings the server sent and the browser echoed).
    rtt_ms: tuple[float, ...] = ()

    @property
    def family(self) -> int:
        return self.ip.version

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.value,
            "kind": self.kind.value,
            "ip": str(self.ip),
            "port": self.port,
            "transport": self.transport,
            "family": f"ipv{self.ip.version}",
            "at": self.at,
            "transaction_id": self.transaction_id,
            "session_id": self.session_id,
            "username": self.username,
            "software": self.software,
            "integrity": self.integrity,
            "local_ip": None if self.local_ip is None else str(self.local_ip),
            "local_port": self.local_port,
            "rtt_ms": list(self.rtt_ms),
        }


def observation_from_dict(data: Mapping[str, Any]) -> Observation:
    """Read back :meth:`Observation.as_dict` (stored evidence); raise :class:`ParseError`."""
    try:
        local_ip = data.get("local_ip")
        return Observation(
            source=ObservationSource(data["source"]),
            kind=StunKind(data["kind"]),
            ip=parse_ip(str(data["ip"])).ip,
            port=int(data["port"]),
            transport=str(data["transport"]),
            at=float(data["at"]),
            transaction_id=str(data.get("transaction_id", "")),
            session_id=data.get("session_id"),
            username=data.get("username"),
            software=data.get("software"),
            integrity=data.get("integrity"),
            local_ip=None if local_ip is None else parse_ip(str(local_ip)).ip,
            local_port=data.get("local_port"),
            rtt_ms=tuple(float(x) for x in data.get("rtt_ms") or ()),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError("observation", f"unreadable stored observation: {exc}") from None


@dataclass(frozen=True, slots=True)
class HttpSighting:
    """One HTTP request to icewatch, as the web adapter saw it.

    ``peer_ip`` is the socket peer; ``client_ip`` is the address after honouring
    ``X-Forwarded-For``/``Forwarded`` from *trusted* proxies only (equal to ``peer_ip``
    when none is configured). Both are kept as evidence.
    """

    peer_ip: IPAddress
    client_ip: IPAddress
    at: float
    user_agent: str = ""
    forwarded_for: tuple[str, ...] = ()  # the chain as sent, when the peer is trusted
    host: str = ""  # the Host the browser used
    headers: tuple[tuple[str, str], ...] = ()  # selected client headers (client hints, language)

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer_ip": str(self.peer_ip),
            "client_ip": str(self.client_ip),
            "at": self.at,
            "user_agent": self.user_agent,
            "forwarded_for": list(self.forwarded_for),
            "host": self.host,
            "headers": dict(self.headers),
        }


@dataclass(frozen=True, slots=True)
class ReportedCandidate:
    """One ``icecandidate`` event as the page reported it (a claim)."""

    candidate: str  # the candidate string ("" is the end-of-candidates indication)
    ms: float | None = None  # milliseconds since the collector started
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "ms": self.ms,
            "sdp_mid": self.sdp_mid,
            "sdp_mline_index": self.sdp_mline_index,
            "username_fragment": self.username_fragment,
        }


@dataclass(frozen=True, slots=True)
class CandidateErrorReport:
    """One ``icecandidateerror`` event as the page reported it."""

    url: str = ""
    address: str | None = None
    port: int | None = None
    error_code: int | None = None
    error_text: str = ""
    ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "address": self.address,
            "port": self.port,
            "error_code": self.error_code,
            "error_text": self.error_text,
            "ms": self.ms,
        }


class WebRtcStatus(StrEnum):
    """What the collector could do with the WebRTC API."""

    OK = "ok"
    MISSING = "missing"  # RTCPeerConnection is not there
    ERROR = "error"  # it threw


@dataclass(frozen=True, slots=True)
class TamperCheck:
    """One check of the collector's API-integrity tests that failed: which, and what it
    saw (``native:RTCPeerConnection``, ``function RTCPeerConnection(cfg) {…}``)."""

    check: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class StatsCandidate:
    """One ``local-candidate`` entry of ``getStats()``, as the page reported it."""

    address: str | None = None  # "" when the browser hides it (Chromium, mDNS hosts)
    port: int | None = None
    type: str | None = None  # candidateType
    protocol: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "port": self.port,
            "type": self.type,
            "protocol": self.protocol,
        }


@dataclass(frozen=True, slots=True)
class TamperReport:
    """The collector's checks of the WebRTC API itself (all claims, like the rest).

    ``checks`` is how many checks ran and ``failed`` the ones that did not pass;
    ``stats`` are the ``getStats()`` local candidates read at the end of gathering (the
    server compares them with the events); ``stats_error`` says why there are none
    (``timeout``, the exception text); ``ms`` is the time the checks took."""

    checks: int = 0
    failed: tuple[TamperCheck, ...] = ()
    stats: tuple[StatsCandidate, ...] = ()
    stats_error: str | None = None
    ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "failed": [f.as_dict() for f in self.failed],
            "stats": [s.as_dict() for s in self.stats],
            "stats_error": self.stats_error,
            "ms": self.ms,
        }


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """The collector's test connection to icewatch's own WebRTC peer (all claims).

    ``state``: ``connected`` | ``failed`` | ``timeout`` | ``refused`` | ``skipped``;
    ``answer_ms`` and ``open_ms`` are ms since the collector started (offer answered,
    data channel open); ``rtts_ms`` are the page-measured data-channel ping RTTs;
    ``server_error`` is the error code of the ``/offer`` response, if any."""

    attempted: bool = False
    state: str = "skipped"
    answer_ms: float | None = None
    open_ms: float | None = None
    rtts_ms: tuple[float, ...] = ()
    error: str | None = None
    server_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "state": self.state,
            "answer_ms": self.answer_ms,
            "open_ms": self.open_ms,
            "rtts_ms": list(self.rtts_ms),
            "error": self.error,
            "server_error": self.server_error,
        }


@dataclass(frozen=True, slots=True)
class PageReport:
    """Everything the page's JavaScript reported for one session (all claims)."""

    webrtc: WebRtcStatus
    candidates: tuple[ReportedCandidate, ...] = ()
    candidate_errors: tuple[CandidateErrorReport, ...] = ()
    sdp: str | None = None
    user_agent: str = ""
    ua_hints: tuple[tuple[str, str], ...] = ()  # navigator.userAgentData, flattened to text
    error: str | None = None  # the exception text when webrtc == "error"
    gathering_ms: float | None = None  # collector start → end of gathering or deadline
    ended_by: str | None = None  # "complete" | "deadline" | "error"
    deadline_ms: float | None = None
    collector_version: str = ""
    tamper: TamperReport | None = None  # the collector's API-integrity checks
    connection: ConnectionReport | None = None  # the test connection (collector 3)
    http_rtts_ms: tuple[float, ...] = ()  # page-measured RTTs of tiny same-origin fetches

    def as_dict(self) -> dict[str, Any]:
        return {
            "webrtc": self.webrtc.value,
            "candidates": [c.as_dict() for c in self.candidates],
            "candidate_errors": [e.as_dict() for e in self.candidate_errors],
            "sdp": self.sdp,
            "user_agent": self.user_agent,
            "ua_hints": [list(pair) for pair in self.ua_hints],
            "error": self.error,
            "gathering_ms": self.gathering_ms,
            "ended_by": self.ended_by,
            "deadline_ms": self.deadline_ms,
            "collector_version": self.collector_version,
            "tamper": None if self.tamper is None else self.tamper.as_dict(),
            "connection": None if self.connection is None else self.connection.as_dict(),
            "http_rtts_ms": list(self.http_rtts_ms),
        }


@dataclass(frozen=True, slots=True)
class IntelLookup:
    """What the IP-intelligence data says about one address of the session (derived
    evidence, added by the intel adapter's enricher). ``seen_as``: ``http`` (an HTTP
    client or peer address), ``observed`` (a packet's source at icewatch's STUN/TURN
    socket), ``reported`` (a candidate or related address the page reported)."""

    ip: IPAddress
    seen_as: tuple[str, ...]
    result: IntelResult

    def as_dict(self) -> dict[str, Any]:
        return {"ip": str(self.ip), "seen_as": list(self.seen_as)} | self.result.as_dict()


@dataclass(frozen=True, slots=True)
class IntelEvidence:
    """Every address looked up and its hits with provenance; ``data`` names the data that
    answered (compiled file, embedded default, operator lists). Empty: not looked up."""

    data: str = ""
    lookups: tuple[IntelLookup, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"data": self.data, "lookups": [x.as_dict() for x in self.lookups]}


@dataclass(frozen=True, slots=True)
class SessionEvidence:
    """All evidence of one session, as handed to ``correlate`` and the scoring rules."""

    session_id: str
    created_at: float
    http: HttpSighting  # the request that created the session
    report: PageReport | None = None
    report_http: HttpSighting | None = None  # the request that carried the report
    reported_at: float | None = None
    observations: tuple[Observation, ...] = field(default=())
    client: ClientClaim | None = None  # the claimed browser, OS, device (UA enricher)
    intel: IntelEvidence = field(default=IntelEvidence())  # IP intelligence (enricher)

    def as_dict(self) -> dict[str, Any]:
        """The stored form: everything, raw, so a verdict can be recomputed from it."""
        return {
            "session_id": self.session_id,
            "created_at": self.created_at,
            "http": self.http.as_dict(),
            "report": None if self.report is None else self.report.as_dict(),
            "report_http": None if self.report_http is None else self.report_http.as_dict(),
            "reported_at": self.reported_at,
            "observations": [o.as_dict() for o in self.observations],
            "client": None if self.client is None else self.client.as_dict(),
            "intel": self.intel.as_dict(),
        }


# --- reading the stored form back -------------------------------------------------------
#
# The readers accept what ``as_dict`` writes, tolerate missing optional keys (a field
# added later with a default reads back as that default from older rows) and ignore
# unknown ones; anything unreadable raises ParseError("evidence", ...).


def _fail(what: str, reason: object) -> ParseError:
    return ParseError("evidence", f"unreadable stored {what}: {reason}")


def _opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """Name/value pairs written as a JSON object or as a list of two-item lists."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return list(value)


def http_sighting_from_dict(data: Mapping[str, Any]) -> HttpSighting:
    """Read back :meth:`HttpSighting.as_dict`; raise :class:`ParseError`."""
    try:
        peer = parse_ip(str(data["peer_ip"])).ip
        client = data.get("client_ip")
        return HttpSighting(
            peer_ip=peer,
            client_ip=peer if client is None else parse_ip(str(client)).ip,
            at=float(data["at"]),
            user_agent=_opt_str(data.get("user_agent")) or "",
            forwarded_for=tuple(str(x) for x in _list(data.get("forwarded_for"))),
            host=_opt_str(data.get("host")) or "",
            headers=_pairs(data.get("headers")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise _fail("HTTP sighting", exc) from None


def _candidate_from_dict(data: Mapping[str, Any]) -> ReportedCandidate:
    return ReportedCandidate(
        candidate=_opt_str(data.get("candidate")) or "",
        ms=_opt_float(data.get("ms")),
        sdp_mid=_opt_str(data.get("sdp_mid")),
        sdp_mline_index=_opt_int(data.get("sdp_mline_index")),
        username_fragment=_opt_str(data.get("username_fragment")),
    )


def _candidate_error_from_dict(data: Mapping[str, Any]) -> CandidateErrorReport:
    return CandidateErrorReport(
        url=_opt_str(data.get("url")) or "",
        address=_opt_str(data.get("address")),
        port=_opt_int(data.get("port")),
        error_code=_opt_int(data.get("error_code")),
        error_text=_opt_str(data.get("error_text")) or "",
        ms=_opt_float(data.get("ms")),
    )


def _tamper_from_dict(data: Any) -> TamperReport | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object, got {type(data).__name__}")
    return TamperReport(
        checks=_opt_int(data.get("checks")) or 0,
        failed=tuple(
            TamperCheck(
                check=_opt_str(f.get("check")) or "", detail=_opt_str(f.get("detail")) or ""
            )
            for f in _list(data.get("failed"))
        ),
        stats=tuple(
            StatsCandidate(
                address=_opt_str(s.get("address")),
                port=_opt_int(s.get("port")),
                type=_opt_str(s.get("type")),
                protocol=_opt_str(s.get("protocol")),
            )
            for s in _list(data.get("stats"))
        ),
        stats_error=_opt_str(data.get("stats_error")),
        ms=_opt_float(data.get("ms")),
    )


def _floats(data: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in _list(data))


def _connection_from_dict(data: Any) -> ConnectionReport | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TypeError(f"expected an object, got {type(data).__name__}")
    return ConnectionReport(
        attempted=bool(data.get("attempted", False)),
        state=_opt_str(data.get("state")) or "skipped",
        answer_ms=_opt_float(data.get("answer_ms")),
        open_ms=_opt_float(data.get("open_ms")),
        rtts_ms=_floats(data.get("rtts_ms")),
        error=_opt_str(data.get("error")),
        server_error=_opt_str(data.get("server_error")),
    )


def page_report_from_dict(data: Mapping[str, Any]) -> PageReport:
    """Read back :meth:`PageReport.as_dict`; raise :class:`ParseError`."""
    try:
        return PageReport(
            webrtc=WebRtcStatus(data["webrtc"]),
            candidates=tuple(_candidate_from_dict(c) for c in _list(data.get("candidates"))),
            candidate_errors=tuple(
                _candidate_error_from_dict(e) for e in _list(data.get("candidate_errors"))
            ),
            sdp=_opt_str(data.get("sdp")),
            user_agent=_opt_str(data.get("user_agent")) or "",
            ua_hints=_pairs(data.get("ua_hints")),
            error=_opt_str(data.get("error")),
            gathering_ms=_opt_float(data.get("gathering_ms")),
            ended_by=_opt_str(data.get("ended_by")),
            deadline_ms=_opt_float(data.get("deadline_ms")),
            collector_version=_opt_str(data.get("collector_version")) or "",
            tamper=_tamper_from_dict(data.get("tamper")),
            connection=_connection_from_dict(data.get("connection")),
            http_rtts_ms=_floats(data.get("http_rtts_ms")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise _fail("page report", exc) from None


def _client_from_dict(data: Any) -> ClientClaim | None:
    return None if data is None else client_claim_from_dict(data)


def session_evidence_from_dict(data: Mapping[str, Any]) -> SessionEvidence:
    """Read back :meth:`SessionEvidence.as_dict`; raise :class:`ParseError`."""
    try:
        report = data.get("report")
        report_http = data.get("report_http")
        return SessionEvidence(
            session_id=str(data["session_id"]),
            created_at=float(data["created_at"]),
            http=http_sighting_from_dict(data["http"]),
            report=None if report is None else page_report_from_dict(report),
            report_http=None if report_http is None else http_sighting_from_dict(report_http),
            reported_at=_opt_float(data.get("reported_at")),
            observations=tuple(observation_from_dict(o) for o in _list(data.get("observations"))),
            client=_client_from_dict(data.get("client")),
            intel=intel_evidence_from_dict(data.get("intel")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise _fail("session evidence", exc) from None


def intel_evidence_from_dict(data: Mapping[str, Any] | None) -> IntelEvidence:
    """Read back :meth:`IntelEvidence.as_dict` (``None``: none); raise :class:`ParseError`."""
    if data is None:
        return IntelEvidence()
    try:
        lookups = []
        for item in _list(data.get("lookups")):
            lookups.append(
                IntelLookup(
                    ip=parse_ip(str(item["ip"])).ip,
                    seen_as=tuple(str(x) for x in _list(item.get("seen_as"))),
                    result=IntelResult.from_dict(item),
                )
            )
        return IntelEvidence(data=_opt_str(data.get("data")) or "", lookups=tuple(lookups))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise _fail("IP intelligence", exc) from None
