"""``/api/v1``: create a session, take its report, show sessions to their owners.

The report handler is where the three kinds of evidence meet: the HTTP sighting of the
creating request, the page's claims, and the packets the STUN/TURN listener recorded.
Packets may still be in flight when the report arrives (the collector can stop at its
deadline before the last Binding or Allocate was received), so the handler waits a
little — at most ``report_wait`` — until every srflx endpoint the page reported has
been seen and at least one TURN request of the session has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import normalize_ip, reported_endpoints
from icewatch.core.errors import IcewatchError, ParseError, PeerError
from icewatch.core.evidence import (
    Observation,
    ObservationSource,
    PageReport,
    SessionEvidence,
    WebRtcStatus,
)
from icewatch.core.filters import FILTER_NAMES, parse_filter
from icewatch.core.fingerprint import NetworkFingerprint, Population
from icewatch.core.ice import Candidate, CandidateType, Transport, parse_ice_line, parse_sdp
from icewatch.core.ports import StoredSession
from icewatch.core.scoring import RULES, validate_weights
from icewatch.core.session import (
    SESSION_ID_BYTES,
    is_session_id,
    make_session_id,
    make_token,
    session_turn_credential,
)
from icewatch.web.auth import authorize_operator, authorize_session
from icewatch.web.client import sighting_from_request
from icewatch.web.context import HARD_MAX_SDP_CHARS, WebContext
from icewatch.web.errors import ApiError
from icewatch.web.host import normalise_host
from icewatch.web.models import (
    CreatedSession,
    ErrorBody,
    IceServer,
    OfferAnswer,
    OfferIn,
    ReportIn,
    SessionDocument,
    SessionList,
    SessionSummary,
    to_page_report,
)
from icewatch.web.render import score_report, stored_document, stored_fingerprint

__all__ = ["api_router", "report_access"]

log = logging.getLogger("icewatch.web")

_POLL_S = 0.02
_JSON_TYPES = ("application/json",)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 410, 413, 415, 422, 503)
}


def _unavailable(exc: Exception) -> ApiError:
    """The store failed: the operator reads why in the log; the client learns only that."""
    log.error("session store failed: %s", exc)
    return ApiError("unavailable", "session storage is unavailable; try again later")


def _peer_error(exc: PeerError) -> ApiError:
    if exc.reason == "busy":
        return ApiError("peer_busy", "too many test connections right now; try again later")
    if exc.reason == "bad_offer":
        return ApiError("bad_offer", f"unusable offer: {exc.message}", field="sdp")
    if exc.reason == "disabled":
        return ApiError("test_connection_disabled", "the test connection is turned off")
    return ApiError("peer_timeout", "the server peer could not answer in time")


def _no_store(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _require_json(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES:
        raise ApiError(
            "unsupported_media_type",
            "the report must be sent as Content-Type: application/json",
            field="content-type",
        )


def _session_id(session_id: str) -> str:
    if not is_session_id(session_id):
        raise ApiError("not_found", "no such session")
    return session_id


async def _stored(ctx: WebContext, session_id: str) -> StoredSession:
    try:
        stored = await ctx.store.get_session(session_id)
    except IcewatchError as exc:
        raise _unavailable(exc) from exc
    if stored is None:
        raise ApiError("not_found", "no such session")
    return stored


async def _population(ctx: WebContext, fingerprint: NetworkFingerprint | None) -> Population | None:
    """The store's counts for a fingerprint; ``None`` (counts shown as null) when there is
    no fingerprint or the store cannot answer — the session JSON is served regardless."""
    if fingerprint is None:
        return None
    try:
        return await ctx.store.fingerprint_stats(fingerprint)
    except IcewatchError as exc:
        log.error("session store failed reading fingerprint counts: %s", exc)
        return None


def _srflx_endpoints(report: PageReport) -> frozenset[tuple[IPAddress, int]]:
    """The UDP srflx endpoints the page reported (events and SDP): each should match a
    Binding request the listener received."""
    candidates: list[Candidate] = []
    for reported in report.candidates:
        try:
            parsed = parse_ice_line(reported.candidate)
        except ParseError:
            continue
        if isinstance(parsed, Candidate):
            candidates.append(parsed)
    if report.sdp:
        with contextlib.suppress(ParseError):  # a broken SDP is the core's finding
            candidates.extend(parse_sdp(report.sdp).all_candidates())
    return frozenset(
        (normalize_ip(c.address.ip), c.port)
        for c in candidates
        if c.type is CandidateType.SRFLX
        and c.transport is Transport.UDP
        and not isinstance(c.address, str)
    )


def _turn_expected(report: PageReport) -> bool:
    """Whether a credentialed TURN request of this session must have reached us.

    A gathering that completed has concluded every STUN/TURN transaction. If it got no
    error *response* from a ``turn:`` URL (icewatch always refuses the allocation, so a
    TURN request that arrived yields a 4xx ``icecandidateerror``), none is coming; a
    gathering cut short by the deadline may still have requests in flight."""
    if report.ended_by != "complete":
        return True
    return any(
        e.url.startswith(("turn:", "turns:"))
        and e.error_code is not None
        and 400 <= e.error_code < 600
        for e in report.candidate_errors
    )


def _arrived(
    session_id: str,
    observations: Sequence[Observation],
    srflx: Collection[tuple[IPAddress, int]],
    turn_expected: bool,
    ice_expected: bool = False,
) -> bool:
    turn = any(
        o.source is ObservationSource.TURN and o.session_id == session_id for o in observations
    )
    # The page says its test connection opened: the server's peer reports the ICE
    # address when its pings are done or the page closes the connection, just before.
    ice = any(
        o.source is ObservationSource.ICE and o.session_id == session_id for o in observations
    )
    seen = {(normalize_ip(o.ip), o.port) for o in observations}
    return (
        (turn or not turn_expected)
        and (ice or not ice_expected)
        and all(endpoint in seen for endpoint in srflx)
    )


async def _gather_observations(
    ctx: WebContext, stored: StoredSession, report: PageReport
) -> tuple[Observation, ...]:
    """The session's observations, waiting up to ``report_wait`` for those in flight."""
    session_id = stored.evidence.session_id
    since = stored.evidence.created_at - 1.0
    endpoints = reported_endpoints(report)
    srflx = _srflx_endpoints(report)
    turn_expected = _turn_expected(report)
    ice_expected = report.connection is not None and report.connection.state == "connected"
    loop = asyncio.get_running_loop()
    give_up = loop.time() + ctx.settings.report_wait
    while True:
        found = await ctx.state.observations_for(session_id, endpoints, since, ctx.clock() + 1.0)
        left = give_up - loop.time()
        if report.webrtc is not WebRtcStatus.OK or left <= 0:
            return tuple(found)
        if _arrived(session_id, found, srflx, turn_expected, ice_expected):
            return tuple(found)
        await asyncio.sleep(min(_POLL_S, left))


def _check_limits(ctx: WebContext, body: ReportIn) -> None:
    """The operator's limits, when lower than the hard caps of the request model."""
    s = ctx.settings
    checks = (
        ("candidates", len(body.candidates), s.max_candidates),
        ("candidate_errors", len(body.candidate_errors), s.max_candidate_errors),
        ("sdp", len(body.sdp or ""), s.max_sdp_chars),
    )
    for field, size, limit in checks:
        if size > limit:
            raise ApiError(
                "validation_failed", f"{field} is over the limit of {limit}", field=field
            )


def _context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.icewatch
    return ctx


def _query_parameter(name: str, description: str, *, repeat: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": 200}
    if repeat:
        schema = {"type": "array", "items": schema, "maxItems": 16}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **({"style": "form", "explode": True} if repeat else {}),
    }


#: The listing's filters as OpenAPI parameters; ``core.filters.parse_filter`` reads them
#: (one parser for the API, the dashboard and the CLI), so they are declared, not bound.
_FILTER_PARAMETERS = [
    _query_parameter(
        "level",
        "Verdict levels: low, medium, high, pending (repeatable or comma-separated).",
        repeat=True,
    ),
    _query_parameter("signal", "A signal code the verdict carries, e.g. ip.datacenter."),
    _query_parameter(
        "ip",
        "An address or CIDR prefix: the HTTP client or any address the session revealed.",
    ),
    _query_parameter("provider", "A provider name from the IP intelligence, or AS64500."),
    _query_parameter(
        "since", "Created at or after: ISO 8601, epoch seconds, or a duration ago (24h, 7d)."
    ),
    _query_parameter("until", "Created before: ISO 8601, epoch seconds, or a duration ago."),
    _query_parameter("ua", "The claimed browser family (case-insensitive), e.g. Chrome."),
]


def report_access(request: Request, session_id: str) -> str:
    """The report's gate, in order: session id shape (404), token (401; 410 when it has
    expired), then ``Content-Type`` (415) — all before the body is validated."""
    ctx = _context(request)
    session_id = _session_id(session_id)
    principal = authorize_session(request, session_id, secret=ctx.secret, now=ctx.clock())
    if principal.expired:
        raise ApiError("session_expired", "this session has expired")
    _require_json(request)
    return session_id


def _ice_servers(host: str, port: int, username: str, credential: str) -> list[IceServer]:
    return [
        IceServer(urls=[f"stun:{host}:{port}"]),
        IceServer(
            urls=[f"turn:{host}:{port}?transport=udp", f"turn:{host}:{port}?transport=tcp"],
            username=username,
            credential=credential,
        ),
    ]


def _summary(stored: StoredSession) -> SessionSummary:
    ev = stored.evidence
    verdict = stored.verdict
    return SessionSummary(
        id=ev.session_id,
        created_at=ev.created_at,
        expires_at=stored.expires_at,
        client_ip=str(ev.http.client_ip),
        reported=ev.report is not None,
        score=None if verdict is None else verdict.score,
        level=None if verdict is None else verdict.level.value,
        signals=[] if verdict is None else [s.code for s in verdict.signals],
    )


def api_router(ctx: WebContext) -> APIRouter:
    """The ``/api/v1`` routes, bound to one :class:`WebContext`."""
    router = APIRouter(prefix="/api/v1", tags=["sessions"], responses=_ERRORS)
    settings = ctx.settings
    reporting: set[str] = set()  # sessions whose report is being processed right now
    # The leak-test page and the API show the weights in effect, the default beside them.
    effective = validate_weights(settings.weights)
    catalog = [
        rule.as_dict() | {"weight": effective[rule.code], "default_weight": rule.weight}
        for rule in RULES
    ]
    public_host = (
        None
        if settings.public_host is None
        else normalise_host(settings.public_host, allow_port=False)
    )

    def url_host(request: Request) -> str:
        if public_host is not None:
            return public_host
        host = normalise_host(request.headers.get("host", ""))
        if host is None:
            raise ApiError("bad_host", "missing or invalid Host header", field="host")
        return host

    @router.post(
        "/sessions",
        status_code=201,
        response_model=CreatedSession,
        summary="Create a session",
        description="A new session: its id, a bearer token for it, and the ice_servers "
        "(icewatch's own STUN/TURN, with a per-session TURN credential) for "
        "RTCPeerConnection. No request body is needed.",
    )
    async def create_session(request: Request) -> JSONResponse:
        host = url_host(request)
        now = ctx.clock()
        expires = int(now) + settings.session_ttl
        sighting = sighting_from_request(
            request,
            at=now,
            proxies=settings.trusted_proxies,
            forwarded_header=settings.forwarded_header,
            host=request.headers.get("host", ""),
        )
        for attempt in (1, 2):
            session_id = make_session_id(ctx.random_bytes(SESSION_ID_BYTES))
            try:
                await ctx.store.create_session(
                    SessionEvidence(session_id=session_id, created_at=now, http=sighting),
                    float(expires),
                )
                break
            except KeyError:  # an id collision: 128 random bits make this a broken RNG
                if attempt == 2:
                    raise
            except IcewatchError as exc:
                raise _unavailable(exc) from exc
        username, credential = session_turn_credential(ctx.secret, session_id, expires)
        created = CreatedSession(
            id=session_id,
            token=make_token(ctx.secret, session_id, expires),
            ice_servers=_ice_servers(host, settings.stun_port, username, credential),
            created_at=now,
            expires_at=float(expires),
            report_url=f"/api/v1/sessions/{session_id}/report",
            deadline_ms=settings.collector_deadline_ms,
            test_connection=ctx.peer is not None,
            offer_url=None if ctx.peer is None else f"/api/v1/sessions/{session_id}/offer",
        )
        return _no_store(created.model_dump(exclude_none=True), 201)

    @router.post(
        "/sessions/{session_id}/report",
        response_model=None,
        responses={200: {"model": SessionDocument, "description": "the session JSON"}},
        summary="Report what the page gathered",
        description="The collector's report (Bearer: the session's token). Answers with "
        "the session JSON once the server's own observations are joined and scored. "
        "One report per session (409 for a second one).",
    )
    async def post_report(
        request: Request,
        body: ReportIn,
        session_id: Annotated[str, Depends(report_access)],
    ) -> JSONResponse:
        started = time.perf_counter()
        _check_limits(ctx, body)
        if session_id in reporting:
            raise ApiError("already_reported", "a report for this session is in progress")
        reporting.add(session_id)
        try:
            stored = await _stored(ctx, session_id)
            if stored.evidence.report is not None:
                raise ApiError("already_reported", "this session already has its report")
            now = ctx.clock()
            if now >= stored.expires_at:
                raise ApiError("session_expired", "this session has expired")
            report = to_page_report(body)
            report_http = sighting_from_request(
                request,
                at=now,
                proxies=settings.trusted_proxies,
                forwarded_header=settings.forwarded_header,
                host=request.headers.get("host", ""),
            )
            observations = await _gather_observations(ctx, stored, report)
            evidence = SessionEvidence(
                session_id=session_id,
                created_at=stored.evidence.created_at,
                http=stored.evidence.http,
                report=report,
                report_http=report_http,
                reported_at=now,
                observations=observations,
            )
            for enrich in ctx.enrichers:
                evidence = await enrich(evidence)
            scored = score_report(evidence, settings.weights)
            hook = ctx.webhooks
            event = None if hook is None else hook.event_for(evidence, scored.verdict)
            try:
                # The webhook event is written in the verdict's own transaction.
                queued = await ctx.store.save_result(
                    evidence,
                    scored.verdict,
                    scored.fingerprint,
                    outbox=event,
                    outbox_max=0 if hook is None else hook.queue_max,
                )
            except IcewatchError as exc:
                raise _unavailable(exc) from exc
            if hook is not None and event is not None:
                hook.enqueued(event, queued)
            # Counted after the save: the population includes this session.
            answer = _no_store(scored.document(await _population(ctx, scored.fingerprint)))
            if ctx.metrics is not None:
                ctx.metrics.observe_verdict(
                    scored.verdict.level.value,
                    [signal.code for signal in scored.verdict.signals],
                    now - evidence.created_at,
                )
                ctx.metrics.report_latency.observe(time.perf_counter() - started)
            return answer
        finally:
            reporting.discard(session_id)

    offered: dict[str, float] = {}  # session id -> expiry: one test connection per session

    @router.post(
        "/sessions/{session_id}/offer",
        response_model=OfferAnswer,
        summary="Open the test connection",
        description="The collector's WebRTC offer (Bearer: the session's token); the server "
        "answers as a real peer (data channel, ping/pong). One offer per session, before "
        "the report (409 for another). `peer_busy` when the server holds its cap of test "
        "connections; `test_connection_disabled` when the operator turned it off.",
    )
    async def post_offer(
        body: OfferIn,
        session_id: Annotated[str, Depends(report_access)],
    ) -> JSONResponse:
        peer = ctx.peer
        if peer is None:
            raise ApiError("test_connection_disabled", "the test connection is turned off")
        if len(body.sdp) > min(settings.max_sdp_chars, HARD_MAX_SDP_CHARS):
            raise ApiError("bad_offer", "the offer SDP is too long", field="sdp")
        now = ctx.clock()
        for sid in [sid for sid, until in offered.items() if until <= now]:
            del offered[sid]
        if session_id in offered:
            raise ApiError("already_offered", "this session already made its test connection")
        stored = await _stored(ctx, session_id)
        if stored.evidence.report is not None:
            raise ApiError("already_reported", "this session already has its report")
        if now >= stored.expires_at:
            raise ApiError("session_expired", "this session has expired")
        if session_id in offered:  # another offer arrived while the store was read
            raise ApiError("already_offered", "this session already made its test connection")
        offered[session_id] = stored.expires_at
        try:
            answer = await peer.answer(session_id, body.sdp, deadline=settings.peer_deadline)
        except PeerError as exc:
            if exc.reason == "busy":  # nothing was tried: the page may offer again
                offered.pop(session_id, None)
            raise _peer_error(exc) from None
        return _no_store(OfferAnswer(sdp=answer).model_dump())

    @router.get(
        "/sessions/{session_id}",
        response_model=None,
        responses={200: {"model": SessionDocument, "description": "the session JSON"}},
        summary="Get one session",
        description="The session JSON. Authorization: the session's token "
        "(Authorization: Bearer TOKEN) or the operator API key (Bearer or X-API-Key).",
    )
    async def get_session(request: Request, session_id: str) -> JSONResponse:
        session_id = _session_id(session_id)
        principal = authorize_session(
            request, session_id, secret=ctx.secret, now=ctx.clock(), api_key=settings.api_key
        )
        if principal.expired:
            raise ApiError("session_expired", "this session has expired")
        stored = await _stored(ctx, session_id)
        correlation, fingerprint = stored_fingerprint(stored.evidence)
        population = await _population(ctx, fingerprint)
        document = stored_document(stored.evidence, stored.verdict, population, correlation)
        return _no_store(document)

    @router.delete(
        "/sessions/{session_id}",
        status_code=204,
        response_model=None,
        summary="Delete one session (operator)",
        description="Delete the session and everything stored about it (evidence, "
        "observations, verdict; its share of the fingerprint statistics). 204 when it "
        "was deleted, 404 when there is no such session. Needs the operator API key.",
    )
    async def delete_session(request: Request, session_id: str) -> Response:
        authorize_operator(request, settings.api_key)
        session_id = _session_id(session_id)
        try:
            deleted = await ctx.store.delete_session(session_id)
        except IcewatchError as exc:
            raise _unavailable(exc) from exc
        if not deleted:
            raise ApiError("not_found", "no such session")
        log.info("session deleted by the operator", extra={"session_id": session_id})
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    @router.get(
        "/sessions",
        response_model=SessionList,
        summary="List sessions (operator)",
        description="Newest first, one page at a time; pass next_cursor as ?cursor= for "
        "the next page (with the same filters). Filters (all optional, combined with AND): "
        "level (low|medium|high|pending; repeatable or comma-separated), signal (a code), "
        "ip (an address or CIDR prefix), provider (a name or AS64500), since and until "
        "(ISO 8601, epoch seconds, or a duration before now such as 24h), ua (browser "
        "family). A bad filter is a 400 naming it in error.field. Needs the operator API key.",
        openapi_extra={"parameters": _FILTER_PARAMETERS},
    )
    async def list_sessions(
        request: Request,
        limit: Annotated[int | None, Query(ge=1, le=200)] = None,
        cursor: Annotated[str | None, Query(max_length=256)] = None,
    ) -> JSONResponse:
        authorize_operator(request, settings.api_key)
        query: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            if name in FILTER_NAMES:
                query.setdefault(name, []).append(value)
        try:
            where = parse_filter(query, ctx.clock())
        except ParseError as exc:
            raise ApiError("bad_request", f"invalid filter: {exc.reason}", field=exc.field) from exc
        try:
            page = await ctx.store.query_sessions(
                where, limit=limit or settings.page_size, cursor=cursor or None
            )
        except (ValueError, KeyError) as exc:  # the store's answer to a cursor it never made
            raise ApiError("bad_cursor", "invalid cursor", field="cursor") from exc
        except IcewatchError as exc:
            raise _unavailable(exc) from exc
        listing = SessionList(
            sessions=[_summary(s) for s in page.sessions], next_cursor=page.next_cursor
        )
        return _no_store(listing.model_dump())

    @router.get(
        "/signals",
        tags=["signals"],
        summary="Every signal code, explained",
        description="The rule table: code, the weight in effect (`weight`: the operator's "
        "`signal_weights` over the default), `default_weight`, title, what it means, the "
        "evidence fields, benign causes and fixes (the texts of docs/signals.md).",
    )
    async def signals() -> JSONResponse:
        return JSONResponse(catalog, headers={"Cache-Control": "public, max-age=300"})

    return router
