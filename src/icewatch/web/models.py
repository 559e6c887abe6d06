"""Request and response models: the API's JSON shapes, validated and documented.

Request models are strict (unknown fields rejected, every string and list bounded, no
NaN/Infinity) and only check *shape*: whether a candidate line or the SDP makes sense
is the core's business, and a malformed one is evidence (``candidate.malformed``), not
a 4xx. Response models describe the documents for OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from icewatch.core.evidence import (
    CandidateErrorReport,
    ConnectionReport,
    PageReport,
    ReportedCandidate,
    StatsCandidate,
    TamperCheck,
    TamperReport,
)
from icewatch.core.evidence import WebRtcStatus as CoreWebRtcStatus
from icewatch.web.context import (
    HARD_MAX_CANDIDATE_CHARS,
    HARD_MAX_CANDIDATE_ERRORS,
    HARD_MAX_CANDIDATES,
    HARD_MAX_SDP_CHARS,
    HARD_MAX_TEXT_CHARS,
)

__all__ = [
    "MAX_RTT_SAMPLES",
    "MAX_STATS_CANDIDATES",
    "MAX_TAMPER_FAILED",
    "MAX_UA_HINTS",
    "CandidateErrorIn",
    "CandidateIn",
    "ConnectionIn",
    "CreatedSession",
    "ErrorBody",
    "Health",
    "IceServer",
    "OfferAnswer",
    "OfferIn",
    "ReportIn",
    "SessionDocument",
    "SessionList",
    "SessionSummary",
    "SignalOut",
    "StatsCandidateIn",
    "TamperCheckIn",
    "TamperIn",
    "VerdictOut",
    "to_page_report",
]

MAX_UA_HINTS = 32
#: Most failed tamper checks and getStats() local candidates a report may carry.
MAX_TAMPER_FAILED = 32
MAX_STATS_CANDIDATES = 64
#: Most RTT samples (data-channel pings, HTTP fetches) a report may carry.
MAX_RTT_SAMPLES = 16

Text = Annotated[str, StringConstraints(max_length=HARD_MAX_TEXT_CHARS)]
ShortText = Annotated[str, StringConstraints(max_length=256)]
HintName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Millis = Annotated[float, Field(ge=0, le=3_600_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class CandidateIn(_Strict):
    """One ``icecandidate`` event (``candidate`` is ``""`` for end-of-candidates)."""

    candidate: Annotated[str, StringConstraints(max_length=HARD_MAX_CANDIDATE_CHARS)]
    ms: Millis | None = None
    sdp_mid: ShortText | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=65535)] | None = None
    username_fragment: ShortText | None = None


class CandidateErrorIn(_Strict):
    """One ``icecandidateerror`` event."""

    url: Text = ""
    address: ShortText | None = None
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    error_code: Annotated[int, Field(ge=0, le=999)] | None = None
    error_text: Text = ""
    ms: Millis | None = None


class TamperCheckIn(_Strict):
    """One failed check of the collector's API-integrity tests."""

    check: Annotated[str, StringConstraints(max_length=64)]
    detail: ShortText = ""


class StatsCandidateIn(_Strict):
    """One ``getStats()`` ``local-candidate`` entry."""

    address: ShortText | None = None
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    type: Annotated[str, StringConstraints(max_length=16)] | None = None
    protocol: Annotated[str, StringConstraints(max_length=16)] | None = None


class TamperIn(_Strict):
    """The collector's checks of the WebRTC API (docs/collector.md#tamper-checks)."""

    checks: Annotated[int, Field(ge=0, le=1000)] = 0
    failed: Annotated[list[TamperCheckIn], Field(max_length=MAX_TAMPER_FAILED)] = []
    stats: Annotated[list[StatsCandidateIn], Field(max_length=MAX_STATS_CANDIDATES)] = []
    stats_error: ShortText | None = None
    ms: Millis | None = None


RttSamples = Annotated[
    list[Annotated[float, Field(ge=0, le=60_000)]], Field(max_length=MAX_RTT_SAMPLES)
]


class ConnectionIn(_Strict):
    """The collector's test connection (docs/collector.md#test-connection)."""

    attempted: bool = False
    state: Literal["connected", "failed", "timeout", "refused", "skipped"] = "skipped"
    answer_ms: Millis | None = None
    open_ms: Millis | None = None
    rtts_ms: RttSamples = []
    error: ShortText | None = None
    server_error: Annotated[str, StringConstraints(max_length=64)] | None = None


class ReportIn(_Strict):
    """What the collector posts to ``/api/v1/sessions/{id}/report``."""

    webrtc: Literal["ok", "missing", "error"]
    candidates: Annotated[list[CandidateIn], Field(max_length=HARD_MAX_CANDIDATES)] = []
    candidate_errors: Annotated[
        list[CandidateErrorIn], Field(max_length=HARD_MAX_CANDIDATE_ERRORS)
    ] = []
    sdp: Annotated[str, StringConstraints(max_length=HARD_MAX_SDP_CHARS)] | None = None
    user_agent: Text = ""
    ua_hints: Annotated[dict[HintName, Text], Field(max_length=MAX_UA_HINTS)] = {}
    error: Text | None = None
    gathering_ms: Millis | None = None
    ended_by: Literal["complete", "deadline", "error"] | None = None
    deadline_ms: Millis | None = None
    collector_version: ShortText = ""
    tamper: TamperIn | None = None
    connection: ConnectionIn | None = None
    http_rtts_ms: RttSamples = []


def _connection(c: ConnectionIn | None) -> ConnectionReport | None:
    if c is None:
        return None
    return ConnectionReport(
        attempted=c.attempted,
        state=c.state,
        answer_ms=c.answer_ms,
        open_ms=c.open_ms,
        rtts_ms=tuple(c.rtts_ms),
        error=c.error,
        server_error=c.server_error,
    )


def _tamper(t: TamperIn | None) -> TamperReport | None:
    if t is None:
        return None
    return TamperReport(
        checks=t.checks,
        failed=tuple(TamperCheck(check=f.check, detail=f.detail) for f in t.failed),
        stats=tuple(
            StatsCandidate(address=x.address, port=x.port, type=x.type, protocol=x.protocol)
            for x in t.stats
        ),
        stats_error=t.stats_error,
        ms=t.ms,
    )


def to_page_report(body: ReportIn) -> PageReport:
    """The core's :class:`PageReport` for a validated report body."""
    return PageReport(
        webrtc=CoreWebRtcStatus(body.webrtc),
        candidates=tuple(
            ReportedCandidate(
                candidate=c.candidate,
                ms=c.ms,
                sdp_mid=c.sdp_mid,
                sdp_mline_index=c.sdp_mline_index,
                username_fragment=c.username_fragment,
            )
            for c in body.candidates
        ),
        candidate_errors=tuple(
            CandidateErrorReport(
                url=e.url,
                address=e.address,
                port=e.port,
                error_code=e.error_code,
                error_text=e.error_text,
                ms=e.ms,
            )
            for e in body.candidate_errors
        ),
        sdp=body.sdp,
        user_agent=body.user_agent,
        ua_hints=tuple(sorted(body.ua_hints.items())),
        error=body.error,
        gathering_ms=body.gathering_ms,
        ended_by=body.ended_by,
        deadline_ms=body.deadline_ms,
        collector_version=body.collector_version,
        tamper=_tamper(body.tamper),
        connection=_connection(body.connection),
        http_rtts_ms=tuple(body.http_rtts_ms),
    )


# --- responses ---------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="stable error code (docs/api.md)")
    message: str = Field(description="what went wrong, for people")
    field: str | None = Field(description="the offending part of the request, if any")


class ErrorBody(BaseModel):
    """The one shape of every 4xx/5xx answer."""

    error: ErrorDetail


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class CreatedSession(BaseModel):
    id: str = Field(description="session id (22 base64url characters)")
    token: str = Field(description="bearer token for this session only")
    ice_servers: list[IceServer] = Field(
        description="icewatch's own STUN and TURN URLs, with this session's TURN credential"
    )
    created_at: float = Field(description="Unix seconds")
    expires_at: float = Field(description="Unix seconds; token and TURN credential expire")
    report_url: str = Field(description="path of the report endpoint")
    deadline_ms: int = Field(description="default gathering deadline for the collector")
    test_connection: bool = Field(
        default=False,
        description="whether the server answers a test connection at offer_url",
    )
    offer_url: str | None = Field(
        default=None, description="path of the test connection's offer endpoint"
    )


class OfferIn(_Strict):
    """The collector's WebRTC offer for the test connection."""

    type: Literal["offer"] = "offer"
    #: Bounded by the body limit; over ``HARD_MAX_SDP_CHARS`` it is a ``bad_offer``.
    sdp: str


class OfferAnswer(BaseModel):
    type: Literal["answer"] = "answer"
    sdp: str = Field(description="the server peer's answer SDP")


class SignalOut(BaseModel):
    code: str = Field(description="stable signal code (docs/signals.md)")
    weight: int = Field(description="0 for informational signals")
    summary: str
    evidence: dict[str, Any]


class VerdictOut(BaseModel):
    score: int = Field(ge=0, le=100)
    level: Literal["low", "medium", "high"]
    signals: list[SignalOut]


class SessionDocument(BaseModel):
    """The session JSON (``core/document.py``, docs/json-output.md#session-json).

    Described here for OpenAPI; keys may be added (``version`` changes only when a key
    changes meaning or disappears)."""

    model_config = ConfigDict(extra="allow")

    version: int
    id: str
    created_at: str | None = Field(description="ISO 8601 UTC")
    reported_at: str | None
    http: dict[str, Any] | None = Field(description="the creating request: client_ip, …")
    report_http: dict[str, Any] | None
    observed: list[dict[str, Any]] = Field(description="packets icewatch's listener received")
    candidates: list[dict[str, Any]] = Field(description="the reported candidates, parsed")
    malformed_candidates: list[dict[str, Any]]
    end_of_candidates: bool
    public_ips: dict[str, Any] = Field(description="observed and reported public addresses")
    local_ips: list[dict[str, Any]]
    mdns_names: list[str]
    ipv6: dict[str, Any]
    sdp: str | None
    sdp_summary: dict[str, Any] | None
    report: dict[str, Any] | None
    verdict: VerdictOut | None = Field(description="null until the page has reported")
    fingerprint: dict[str, Any] | None = Field(
        default=None,
        description="the network fingerprint (docs/fingerprint.md): id, components and how "
        "many stored sessions share it; null until the page has reported",
    )


class SessionSummary(BaseModel):
    id: str
    created_at: float
    expires_at: float
    client_ip: str
    reported: bool
    score: int | None = None
    level: str | None = None
    signals: list[str] = Field(default=[], description="signal codes, in rule order")


class SessionList(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    listener: Literal["ready", "starting"]
