"""The dashboard's routes: login/logout, overview, sessions list (+ CSV/JSONL export),
session detail, and its style sheet.

Every page answers HTML (errors too: 400 naming the bad filter field, 401 with the login
form, 403 when no API key is configured, 404 for an unknown session) with
``Cache-Control: no-store`` and a Content-Security-Policy that allows nothing but this
server's own style sheet and form targets (no script at all).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.routing import Match

from icewatch import __version__
from icewatch.core.errors import IcewatchError, ParseError
from icewatch.core.export import CSV_COLUMNS, csv_row, jsonl_record
from icewatch.core.ports import SessionFilter, StoredSession
from icewatch.core.session import is_session_id
from icewatch.web.context import WebContext
from icewatch.web.dashboard.auth import (
    COOKIE_NAME,
    api_key_matches,
    make_cookie,
    offered_api_key,
    same_origin,
    verify_cookie,
)
from icewatch.web.dashboard.query import Query, parse_query
from icewatch.web.dashboard.views import (
    LEVELS,
    RANGES,
    detail_view,
    flagged,
    fmt_time,
    overview_charts,
    overview_tables,
    session_row,
    share,
    signal_choices,
    webhook_state,
)
from icewatch.web.render import stored_document, stored_fingerprint

__all__ = ["DASHBOARD_CSP", "dashboard_router"]

log = logging.getLogger("icewatch.web")

#: Nothing but this server's style sheet; forms post only here; no script, no framing.
DASHBOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
#: Sessions read from the store per step of an export (bounded memory per request).
EXPORT_PAGE = 200
_MAX_FORM_BYTES = 4096
_SECRET_NAME = "dashboard-cookie"  # noqa: S105 - the name, not the secret
#: The sessions list counts the matching sessions up to this many (one bounded COUNT).
_COUNT_LIMIT = 100_000
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@cache
def template_environment() -> Environment:
    """The dashboard's templates (autoescaped), also used for the rate limit's HTML page."""
    env = Environment(
        loader=PackageLoader("icewatch.web.dashboard", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
    return env


@cache
def _stylesheet() -> str:
    return files("icewatch.web.dashboard").joinpath("static", "dashboard.css").read_text("utf-8")


def _is_https(request: Request, ctx: WebContext) -> bool:
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if proto != "https" or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in ctx.settings.trusted_proxies)


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard (never another host) is a redirect target."""
    if (
        not target
        or len(target) > 2000
        or not target.startswith("/dashboard")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return "/dashboard"
    return target


def dashboard_router(ctx: WebContext) -> APIRouter:
    """The ``/dashboard`` routes, bound to one :class:`WebContext`."""
    router = APIRouter(prefix="/dashboard", include_in_schema=False)
    settings = ctx.settings
    env = template_environment()
    secret_box: list[bytes] = []
    signals = signal_choices()

    async def cookie_secret() -> bytes:
        if not secret_box:
            secret_box.append(await ctx.store.server_secret(_SECRET_NAME, ctx.random_bytes(32)))
        return secret_box[0]

    def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            request_path=request.url.path,
            logged_in=values.pop("logged_in", False),
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def disabled(request: Request) -> HTMLResponse:
        return page(request, "disabled.html", 403, title="Dashboard disabled")

    def login_form(
        request: Request, status: int = 200, error: str = "", target: str = "/dashboard"
    ) -> HTMLResponse:
        return page(request, "login.html", status, title="Log in", error=error, next_path=target)

    async def gate(request: Request) -> Response | None:
        """``None`` when the request may see the dashboard, else the answer to send."""
        api_key = settings.api_key
        if api_key is None:
            return disabled(request)
        offered = offered_api_key(request)
        if offered is not None:
            if api_key_matches(api_key, offered):
                return None
            return login_form(request, 401, "That API key is not the one configured.")
        cookie = request.cookies.get(COOKIE_NAME)
        if cookie is not None and verify_cookie(
            await cookie_secret(), api_key, cookie, ctx.clock()
        ):
            return None
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"/dashboard/login?next={quote(target, safe='')}",
            status_code=303,
            headers={"Cache-Control": "no-store"},
        )

    def bad_filter(request: Request, exc: ParseError, template_values: dict[str, Any]) -> Response:
        return page(
            request,
            "bad_request.html",
            400,
            title="Bad filter",
            field=exc.field,
            reason=exc.reason,
            **template_values,
        )

    def unavailable(request: Request, exc: Exception) -> HTMLResponse:
        log.error("session store failed (dashboard): %s", exc)
        return page(request, "error.html", 503, title="Unavailable",
                    message="Session storage is unavailable; try again later.")  # fmt: skip

    def filter_form(q: Query | None) -> dict[str, Any]:
        return {
            "q": q,
            "levels": LEVELS,
            "signal_choices": signals,
            "ranges": RANGES,
        }

    def link(path: str, q: Query, **extra: str) -> str:
        pairs = [*q.pairs(), *((k, v) for k, v in extra.items() if v)]
        return path + (f"?{urlencode(pairs)}" if pairs else "")

    # -- login ----------------------------------------------------------------------------

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        if settings.api_key is None:
            return disabled(request)
        return login_form(request, target=_safe_next(request.query_params.get("next")))

    @router.post("/login")
    async def login(request: Request) -> Response:
        if settings.api_key is None:
            return disabled(request)
        if not same_origin(request):
            return page(request, "error.html", 403, title="Refused",
                        message="The login form was posted from another site.")  # fmt: skip
        body = await request.body()
        if len(body) > _MAX_FORM_BYTES:
            return login_form(request, 400, "The form is too large.")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        target = _safe_next(form.get("next"))
        if not api_key_matches(settings.api_key, form.get("api_key", "").strip()):
            return login_form(request, 401, "That API key is not the one configured.", target)
        expiry = int(ctx.clock()) + settings.dashboard_login_ttl
        value = make_cookie(await cookie_secret(), settings.api_key, expiry, ctx.random_bytes(16))
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            COOKIE_NAME,
            value,
            max_age=settings.dashboard_login_ttl,
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=_is_https(request, ctx),
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if not same_origin(request):
            return page(request, "error.html", 403, title="Refused",
                        message="The logout form was posted from another site.")  # fmt: skip
        response = RedirectResponse(
            "/dashboard/login", status_code=303, headers={"Cache-Control": "no-store"}
        )
        response.delete_cookie(
            COOKIE_NAME, path="/dashboard", httponly=True, samesite="strict",
            secure=_is_https(request, ctx),
        )  # fmt: skip
        return response

    @router.get("/static/dashboard.css")
    async def stylesheet() -> Response:
        return Response(
            _stylesheet(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # -- overview -------------------------------------------------------------------------

    @router.get("")
    async def overview(request: Request) -> Response:
        if (refused := await gate(request)) is not None:
            return refused
        logged_in = COOKIE_NAME in request.cookies
        try:
            q = parse_query(request.query_params.multi_items(), ctx.clock(), default_range="7d")
        except ParseError as exc:
            return bad_filter(request, exc, {"logged_in": logged_in})
        buckets = next((b for value, _, _, b in RANGES if value == q.range), 30)
        where = q.where
        if q.range in {value for value, _, _, _ in RANGES} and not q.first("since"):
            # Whole buckets that end at the next bucket boundary after now.
            width = q.span / buckets
            until = math.ceil(ctx.clock() / width) * width
            until = until if where.until is None else min(until, where.until)
            where = replace(where, since=until - q.span, until=until)
        try:
            ov = await ctx.store.overview(where, buckets=buckets)
        except IcewatchError as exc:
            return unavailable(request, exc)
        counts = {level: ov.by_level.get(level, 0) for level in LEVELS}
        range_links = [
            (value, label, link("/dashboard", _with_range(q, value, keep_times=False)))
            for value, label, _, _ in RANGES
        ]
        return page(
            request,
            "overview.html",
            title="Overview",
            logged_in=logged_in,
            total=ov.total,
            counts=counts,
            charts={k: Markup(v) for k, v in overview_charts(ov, q.span).items()},  # noqa: S704
            tables=overview_tables(ov, q.span),
            flagged_count=flagged(counts),
            flagged_share=share(flagged(counts), ov.total),
            range_links=range_links,
            sessions_link=link("/dashboard/sessions", q),
            level_links={lv: link("/dashboard/sessions", _with_levels(q, lv)) for lv in LEVELS},
            **filter_form(q),
        )

    # -- sessions -------------------------------------------------------------------------

    @router.get("/sessions")
    async def sessions(request: Request) -> Response:
        if (refused := await gate(request)) is not None:
            return refused
        logged_in = COOKIE_NAME in request.cookies
        params = request.query_params
        try:
            q = parse_query(params.multi_items(), ctx.clock())
        except ParseError as exc:
            return bad_filter(request, exc, {"logged_in": logged_in})
        fmt = params.get("format", "")
        if fmt in ("csv", "jsonl"):
            return _export(ctx, q.where, fmt)
        if fmt:
            bad = ParseError("format", "must be csv or jsonl")
            return bad_filter(request, bad, {"logged_in": logged_in})
        cursor = params.get("cursor") or None
        if cursor is not None and len(cursor) > 256:
            return bad_filter(request, ParseError("cursor", "too long"), {"logged_in": logged_in})
        try:
            result = await ctx.store.query_sessions(
                q.where, limit=settings.page_size, cursor=cursor
            )
        except (ValueError, KeyError):
            bad = ParseError("cursor", "not a cursor this server made")
            return bad_filter(request, bad, {"logged_in": logged_in})
        except IcewatchError as exc:
            return unavailable(request, exc)
        rows = [session_row(s) for s in result.sessions]
        count = None
        if cursor is None:  # the first page: how many match (one bounded COUNT)
            try:
                count = await ctx.store.count_matching(q.where, limit=_COUNT_LIMIT)
            except IcewatchError as exc:
                return unavailable(request, exc)
        notice = ""
        gone = params.get("deleted", "")
        if is_session_id(gone):
            try:  # only say so when it is true (the link may be old or made up)
                if await ctx.store.get_session(gone) is None:
                    notice = f"Session {gone} deleted."
            except IcewatchError as exc:
                return unavailable(request, exc)
        return page(
            request,
            "sessions.html",
            title="Sessions",
            logged_in=logged_in,
            rows=rows,
            notice=notice,
            chips=_chips(q, "/dashboard/sessions"),
            count=None if count is None else _count_text(count, bool(q.pairs())),
            first_page=cursor is None,
            first_link=link("/dashboard/sessions", q),
            next_link=None
            if result.next_cursor is None
            else link("/dashboard/sessions", q, cursor=result.next_cursor),
            csv_link=link("/dashboard/sessions", q, format="csv"),
            jsonl_link=link("/dashboard/sessions", q, format="jsonl"),
            **filter_form(q),
        )

    async def stored_or_404(
        request: Request, session_id: str, logged_in: bool
    ) -> StoredSession | Response:
        stored = None
        if is_session_id(session_id):
            try:
                stored = await ctx.store.get_session(session_id)
            except IcewatchError as exc:
                return unavailable(request, exc)
        if stored is None:
            message = "No such session (it may have expired or been purged)."
            return page(
                request, "error.html", 404, title="Not found", logged_in=logged_in, message=message
            )
        return stored

    @router.get("/sessions/{session_id}")
    async def session_detail(request: Request, session_id: str) -> Response:
        if (refused := await gate(request)) is not None:
            return refused
        logged_in = COOKIE_NAME in request.cookies
        stored = await stored_or_404(request, session_id, logged_in)
        if not isinstance(stored, StoredSession):
            return stored
        correlation, fingerprint = stored_fingerprint(stored.evidence)
        population = None
        if fingerprint is not None:
            try:
                population = await ctx.store.fingerprint_stats(fingerprint)
            except IcewatchError as exc:
                log.error("session store failed reading fingerprint counts: %s", exc)
        document = stored_document(stored.evidence, stored.verdict, population, correlation)
        if request.query_params.get("format") == "json":
            headers = {"Cache-Control": "no-store"}
            if request.query_params.get("download"):
                headers["Content-Disposition"] = (
                    f'attachment; filename="icewatch-session-{session_id}.json"'
                )
            return JSONResponse(document, headers=headers)
        view = detail_view(document)
        view["timeline_svg"] = Markup(view["timeline_svg"])  # noqa: S704
        view["webhook"] = None
        if ctx.webhooks is not None:
            threshold = ctx.webhooks.level
            try:
                items = await ctx.store.outbox_for_session(session_id)
            except IcewatchError as exc:
                return unavailable(request, exc)
            level = None if stored.verdict is None else str(stored.verdict.level)
            view["webhook"] = webhook_state(items, level, str(threshold), ctx.clock())
        return page(
            request,
            "session.html",
            title=f"Session {session_id}",
            logged_in=logged_in,
            created=fmt_time(stored.evidence.created_at),
            reported=fmt_time(stored.evidence.reported_at),
            json_link=f"/dashboard/sessions/{session_id}?format=json",
            download_link=f"/dashboard/sessions/{session_id}?format=json&download=1",
            delete_link=f"/dashboard/sessions/{session_id}/delete",
            **view,
        )

    # -- deleting one session ---------------------------------------------------------------

    @router.get("/sessions/{session_id}/delete")
    async def delete_confirm(request: Request, session_id: str) -> Response:
        """The confirmation page: what will be deleted, and the button that does it."""
        if (refused := await gate(request)) is not None:
            return refused
        logged_in = COOKIE_NAME in request.cookies
        stored = await stored_or_404(request, session_id, logged_in)
        if not isinstance(stored, StoredSession):
            return stored
        return page(
            request,
            "delete.html",
            title=f"Delete session {session_id}",
            logged_in=logged_in,
            row=session_row(stored),
        )

    @router.post("/sessions/{session_id}/delete")
    async def delete(request: Request, session_id: str) -> Response:
        """Delete the session (``SessionStore.delete_session``: its evidence, verdict,
        index rows, fingerprint count and undelivered webhook events), then back to the
        list with a notice. The same CSRF care as the login form, plus ``Sec-Fetch-Site``."""
        if (refused := await gate(request)) is not None:
            return refused
        logged_in = COOKIE_NAME in request.cookies
        fetch_site = request.headers.get("sec-fetch-site", "same-origin").strip().lower()
        if not same_origin(request) or fetch_site not in ("same-origin", "none"):
            return page(request, "error.html", 403, title="Refused", logged_in=logged_in,
                        message="The delete form was posted from another site.")  # fmt: skip
        deleted = False
        if is_session_id(session_id):
            try:
                deleted = await ctx.store.delete_session(session_id)
            except IcewatchError as exc:
                return unavailable(request, exc)
        if not deleted:
            message = "No such session (it may have expired, been purged or deleted already)."
            return page(
                request, "error.html", 404, title="Not found", logged_in=logged_in, message=message
            )
        log.info("dashboard: session %s deleted", session_id)
        return RedirectResponse(
            f"/dashboard/sessions?deleted={session_id}",
            status_code=303,
            headers={"Cache-Control": "no-store"},
        )

    # -- anything else under /dashboard -----------------------------------------------------

    async def not_found(request: Request, rest: str = "") -> Response:
        """An unknown dashboard path: a 404 page (405 for a known path and another
        method), in the dashboard's layout, for browsers and scripts alike."""
        if not rest and request.method in ("GET", "HEAD"):  # "/dashboard/"
            return RedirectResponse("/dashboard", status_code=307)
        logged_in = COOKIE_NAME in request.cookies
        allowed = sorted(
            {
                method
                for route in router.routes
                if isinstance(route, APIRoute) and route.endpoint is not not_found
                and route.matches(request.scope)[0] is Match.PARTIAL
                for method in route.methods or ()
            }
        )  # fmt: skip
        if allowed:
            response = page(
                request, "error.html", 405, title="Method not allowed", logged_in=logged_in,
                message=f"This page does not take {request.method[:12]} requests.",
            )  # fmt: skip
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return page(
            request,
            "error.html",
            404,
            title="Not found",
            logged_in=logged_in,
            message="There is no dashboard page at this address.",
            path=request.url.path[:200],
        )

    # Keep these two last: a route added after them would never be reached.
    router.add_api_route("/{rest:path}", not_found, methods=list(_ALL_METHODS))
    other = [m for m in _ALL_METHODS if m not in ("GET", "HEAD")]
    router.add_api_route("", not_found, methods=other)  # e.g. DELETE /dashboard
    return router


def _with_range(q: Query, value: str, *, keep_times: bool = True) -> Query:
    """``q`` with another time range; without ``keep_times``, ``since`` and ``until`` go
    too (a range button replaces them; every other filter stays)."""
    values = dict(q.values)
    if not keep_times:
        values.pop("since", None)
        values.pop("until", None)
    return Query(q.where, values, value, q.span)


def _count_text(count: int, filtered: bool) -> str:
    """``1 session matches``, ``12,345 sessions stored``, ``100,000+ sessions match``
    (counting stopped at the limit)."""
    more = "+" if count >= _COUNT_LIMIT else ""
    one = count == 1 and not more
    verb = ("matches" if one else "match") if filtered else "stored"
    return f"{count:,}{more} session{'' if one else 's'} {verb}"


_CHIP_LABELS = {
    "level": "Level",
    "signal": "Signal",
    "ip": "IP",
    "provider": "Provider",
    "since": "Since",
    "until": "Until",
    "ua": "Browser",
}


def _chips(q: Query, path: str) -> list[tuple[str, str, str]]:
    """The active filters as ``(label, value, link without it)``: one chip per level
    (``level=medium,high`` gives two), per other value, and the time range."""

    def href(values: dict[str, tuple[str, ...]], picked: str) -> str:
        pairs = Query(q.where, values, picked, q.span).pairs()
        return path + (f"?{urlencode(pairs)}" if pairs else "")

    chips: list[tuple[str, str, str]] = []
    levels = [level for level in LEVELS if level in q.where.levels]
    for level in levels:
        values = dict(q.values)
        values["level"] = tuple(other for other in levels if other != level)
        chips.append(("Level", level, href(values, q.range)))
    for key, label in _CHIP_LABELS.items():
        if key == "level":
            continue
        for value in q.values.get(key, ()):
            values = dict(q.values)
            values[key] = tuple(other for other in values[key] if other != value)
            chips.append((label, value, href(values, q.range)))
    if q.range and q.range != "all":
        chips.append(("Range", q.range, href(dict(q.values), "")))
    return chips


def _with_levels(q: Query, level: str) -> Query:
    values = dict(q.values)
    values["level"] = (level,)
    return Query(q.where, values, q.range, q.span)


def _export(ctx: WebContext, where: SessionFilter, fmt: str) -> StreamingResponse:
    """The filtered sessions, newest first, streamed page by page (one store read of at
    most 200 sessions at a time; a failure mid-stream ends the body early and is logged)."""

    async def pages() -> AsyncIterator[list[StoredSession]]:
        cursor: str | None = None
        while True:
            result = await ctx.store.query_sessions(where, limit=EXPORT_PAGE, cursor=cursor)
            yield list(result.sessions)
            if result.next_cursor is None:
                return
            cursor = result.next_cursor

    def csv_text(rows: list[list[str]]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerows(rows)
        return buf.getvalue()

    async def body(
        encode: Callable[[list[StoredSession]], str], header: str
    ) -> AsyncIterator[bytes]:
        if header:
            yield header.encode("utf-8")
        try:
            async for batch in pages():
                if batch:
                    yield encode(batch).encode("utf-8")
        except (IcewatchError, ValueError) as exc:
            log.error("dashboard export stopped: %s", exc)

    stamp = fmt_time(ctx.clock()).replace(" ", "T").replace(":", "")
    if fmt == "csv":
        stream = body(
            lambda batch: csv_text([csv_row(s) for s in batch]), csv_text([list(CSV_COLUMNS)])
        )
        media = "text/csv; charset=utf-8"
    else:
        stream = body(
            lambda batch: "".join(
                json.dumps(jsonl_record(s), ensure_ascii=False, separators=(",", ":")) + "\n"
                for s in batch
            ),
            "",
        )
        media = "application/x-ndjson; charset=utf-8"
    return StreamingResponse(
        stream,
        media_type=media,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="icewatch-sessions-{stamp}.{fmt}"',
        },
    )
