"""A small Python client for site backends: ask icewatch for a session's verdict.

The page embeds the collector (``/collector.js``), which gives it a session id; the page
sends that id to its own backend, and the backend asks icewatch with the operator API key
(docs/integration.md)::

    from icewatch.client import IcewatchClient

    with IcewatchClient("https://icewatch.example", api_key) as icewatch:
        verdict = icewatch.wait_for_verdict(session_id, timeout=10)
        if verdict.level == "high":
            ...  # step-up authentication, manual review
        for signal in verdict.signals:
            print(signal.code, signal.title, signal.reason, signal.evidence)

:class:`AsyncIcewatchClient` has the same methods as coroutines (and an async iterator
for :meth:`~AsyncIcewatchClient.sessions`). Every failure raises
:class:`IcewatchClientError` (``status``, ``code``, ``message`` as in the API's error
JSON). Only idempotent GETs are retried, on a refused/failed connection or a 503, a few
times with a short backoff. :func:`verify_webhook` checks a webhook's signature.

Importing this module imports httpx; ``import icewatch`` alone does not.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from icewatch import __version__
from icewatch.core.webhook import SignatureError, verify_signature

__all__ = [
    "AsyncIcewatchClient",
    "IcewatchClient",
    "IcewatchClientError",
    "SessionSummary",
    "Signal",
    "SignalInfo",
    "Verdict",
    "verify_webhook",
]

LevelName = Literal["low", "medium", "high", "pending"]

#: Statuses of a GET worth another try (the store or the peer was briefly unavailable).
_RETRY_STATUSES = frozenset({503})
#: Largest response body read (a session JSON with its SDP is well below).
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class IcewatchClientError(Exception):
    """A call failed. ``status`` is the HTTP status (``None`` when there was no answer);
    ``code`` is the API's error code (docs/api.md) or one of the client's own:
    ``connect_error``, ``timeout`` (no answer in time, or no verdict in time),
    ``bad_response`` (not the JSON expected), ``bad_signature`` (webhooks)."""

    def __init__(
        self, code: str, message: str, *, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal of a verdict: stable ``code``, its ``title`` (from the rule table),
    ``weight`` as applied, the plain-language ``reason`` and its ``evidence``."""

    code: str
    title: str | None
    weight: int
    reason: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A session's verdict. ``level`` is ``pending`` (and ``score`` ``None``) until the
    page has reported; ``document`` is the whole session JSON (docs/json-output.md)."""

    session_id: str
    level: LevelName
    score: int | None
    signals: tuple[Signal, ...]
    created_at: str | None
    reported_at: str | None
    document: Mapping[str, Any] = field(repr=False)

    @property
    def pending(self) -> bool:
        return self.level == "pending"

    def codes(self) -> list[str]:
        return [s.code for s in self.signals]


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One row of the operator listing (``GET /api/v1/sessions``)."""

    id: str
    created_at: float
    expires_at: float
    client_ip: str
    reported: bool
    level: str | None
    score: int | None
    signals: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """One rule of ``GET /api/v1/signals`` (docs/signals.md)."""

    code: str
    title: str
    weight: int
    default_weight: int
    description: str
    raw: Mapping[str, Any] = field(repr=False)


# -- shared request building and response reading (no I/O) ------------------------------


def _when(value: float | int | str | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        raise TypeError("a time is epoch seconds, ISO 8601 text or a datetime")
    return str(value)


def session_filters(
    *,
    level: str | Iterable[str] | None = None,
    signal: str | None = None,
    ip: str | None = None,
    provider: str | None = None,
    since: float | int | str | datetime | None = None,
    until: float | int | str | datetime | None = None,
    ua: str | None = None,
) -> dict[str, str]:
    """The shared filter query parameters (``level``, ``signal``, ``ip``, ``provider``,
    ``since``, ``until``, ``ua``), as the dashboard and the CLI spell them."""
    params: dict[str, str] = {}
    if level is not None:
        params["level"] = level if isinstance(level, str) else ",".join(level)
    for name, text in (("signal", signal), ("ip", ip), ("provider", provider), ("ua", ua)):
        if text is not None:
            params[name] = text
    if since is not None:
        params["since"] = _when(since)
    if until is not None:
        params["until"] = _when(until)
    return params


def _session_path(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
        raise IcewatchClientError("not_found", "not a session id")
    return f"/api/v1/sessions/{quote(session_id, safe='')}"


def _error_of(response: httpx.Response) -> IcewatchClientError:
    code, message, where = f"http_{response.status_code}", response.reason_phrase, None
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or code)
            message = str(error.get("message") or message)
            where = None if error.get("field") is None else str(error.get("field"))
    except ValueError:
        pass
    return IcewatchClientError(code, message, status=response.status_code, field=where)


def _json_of(response: httpx.Response) -> Any:
    if not 200 <= response.status_code < 300:
        raise _error_of(response)
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise IcewatchClientError("bad_response", "the answer is too large")
    try:
        return response.json()
    except ValueError:
        raise IcewatchClientError(
            "bad_response", "the answer is not JSON (is base_url icewatch?)"
        ) from None


def _verdict_of(document: Any, titles: Mapping[str, str]) -> Verdict:
    if not isinstance(document, dict) or not isinstance(document.get("id"), str):
        raise IcewatchClientError("bad_response", "the answer is not a session JSON")
    verdict = document.get("verdict")
    if verdict is None:
        return Verdict(
            session_id=document["id"],
            level="pending",
            score=None,
            signals=(),
            created_at=document.get("created_at"),
            reported_at=document.get("reported_at"),
            document=document,
        )
    try:
        level = str(verdict["level"])
        if level not in ("low", "medium", "high"):
            raise ValueError(level)
        signals = tuple(
            Signal(
                code=str(s["code"]),
                title=titles.get(str(s["code"])),
                weight=int(s.get("weight", 0)),
                reason=str(s.get("summary", "")),
                evidence=dict(s.get("evidence") or {}),
            )
            for s in verdict.get("signals") or ()
        )
        return Verdict(
            session_id=document["id"],
            level=level,  # type: ignore[arg-type]  # checked just above
            score=int(verdict["score"]),
            signals=signals,
            created_at=document.get("created_at"),
            reported_at=document.get("reported_at"),
            document=document,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IcewatchClientError(
            "bad_response", "the session JSON has no readable verdict"
        ) from None


def _summaries(body: Any) -> tuple[list[SessionSummary], str | None]:
    try:
        rows = [
            SessionSummary(
                id=str(r["id"]),
                created_at=float(r["created_at"]),
                expires_at=float(r["expires_at"]),
                client_ip=str(r["client_ip"]),
                reported=bool(r["reported"]),
                level=None if r.get("level") is None else str(r["level"]),
                score=None if r.get("score") is None else int(r["score"]),
                signals=tuple(str(c) for c in r.get("signals") or ()),
                raw=r,
            )
            for r in body["sessions"]
        ]
        cursor = body.get("next_cursor")
        return rows, None if cursor is None else str(cursor)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IcewatchClientError("bad_response", "the answer is not a session listing") from None


def _signal_infos(body: Any) -> list[SignalInfo]:
    try:
        return [
            SignalInfo(
                code=str(r["code"]),
                title=str(r["title"]),
                weight=int(r["weight"]),
                default_weight=int(r.get("default_weight", r["weight"])),
                description=str(r.get("description", "")),
                raw=r,
            )
            for r in body
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise IcewatchClientError("bad_response", "the answer is not the rule table") from None


def _transport_error(exc: httpx.HTTPError) -> IcewatchClientError:
    if isinstance(exc, httpx.TimeoutException):
        return IcewatchClientError("timeout", f"no answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError | httpx.NetworkError):
        return IcewatchClientError("connect_error", f"cannot reach icewatch: {exc}")
    return IcewatchClientError("bad_response", f"{type(exc).__name__}: {exc}")


def _retryable(exc: httpx.HTTPError) -> bool:
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": f"icewatch-client/{__version__}",
    }


def _check_args(base_url: str, api_key: str, timeout: float, retries: int) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    if not api_key:
        raise ValueError("api_key is required (the operator API key)")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    return base_url.rstrip("/")


#: What one try of a GET says when another try is due.
_RETRY: Any = object()


def _settle(outcome: httpx.Response | httpx.HTTPError, *, last: bool) -> Any:
    """The JSON of one GET try, its error raised, or :data:`_RETRY` for another try."""
    if isinstance(outcome, httpx.HTTPError):
        if last or not _retryable(outcome):
            raise _transport_error(outcome) from None
        return _RETRY
    if last or outcome.status_code not in _RETRY_STATUSES:
        return _json_of(outcome)
    return _RETRY


def _verdict_in_time(found: Verdict, left: float, session_id: str, timeout: float) -> bool:
    """Whether waiting is over: the verdict is there, or (raised) the time is up."""
    if not found.pending:
        return True
    if left <= 0:
        raise IcewatchClientError(
            "timeout", f"session {session_id} has no verdict after {timeout:g} s"
        )
    return False


class _Pager:
    """The page queries of a session listing and what their answers give (no I/O)."""

    def __init__(self, params: dict[str, str], limit: int | None, page_size: int) -> None:
        self._params = params
        self._limit = limit
        self._page_size = page_size
        self._given = 0
        self._cursor: str | None = None
        self._done = False

    def query(self) -> dict[str, str] | None:
        """The next page's query parameters; ``None`` when the listing is over."""
        if self._done or (self._limit is not None and self._given >= self._limit):
            return None
        size = (
            self._page_size
            if self._limit is None
            else min(self._page_size, self._limit - self._given)
        )
        cursor = self._cursor
        return {**self._params, "limit": str(size)} | ({"cursor": cursor} if cursor else {})

    def take(self, body: Any) -> list[SessionSummary]:
        rows, self._cursor = _summaries(body)
        self._given += len(rows)
        self._done = self._cursor is None or not rows
        return rows


class _ClientBase:
    """What both clients share: checked arguments, retry settings, the title cache."""

    def __init__(
        self, base_url: str, api_key: str, timeout: float, retries: int, backoff: float
    ) -> None:
        self.base_url = _check_args(base_url, api_key, timeout, retries)
        self._retries = retries
        self._backoff = backoff
        self._titles: dict[str, str] | None = None
        self._http_options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": _headers(api_key),
            "timeout": timeout,
            "follow_redirects": False,
        }

    def _tries(self) -> Iterator[tuple[bool, float]]:
        """Each try of a GET: whether it is the last, and the pause before the next."""
        delay = self._backoff
        for attempt in range(self._retries + 1):
            yield attempt == self._retries, delay
            delay *= 2

    def _keep_titles(self, infos: list[SignalInfo]) -> Mapping[str, str]:
        self._titles = {s.code: s.title for s in infos}
        return self._titles


class IcewatchClient(_ClientBase):
    """Blocking client. ``timeout`` bounds each HTTP request (seconds); ``transport``
    is an optional ``httpx.BaseTransport`` (tests, proxies); ``retries`` extra tries of
    a GET after a connection failure or a 503, ``backoff`` seconds apart (doubling)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 2,
        backoff: float = 0.2,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retries, backoff)
        self._http = httpx.Client(**self._http_options, transport=transport)

    def __enter__(self) -> IcewatchClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        for last, delay in self._tries():
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = self._http.get(path, params=params)
            except httpx.HTTPError as exc:
                outcome = exc
            result = _settle(outcome, last=last)
            if result is not _RETRY:
                return result
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _signal_titles(self) -> Mapping[str, str]:
        return self._titles if self._titles is not None else self._keep_titles(self.signals())

    def verdict(self, session_id: str) -> Verdict:
        """The session's verdict now (``level == "pending"`` before its report)."""
        document = self._get(_session_path(session_id))
        return _verdict_of(document, self._signal_titles())

    def wait_for_verdict(
        self, session_id: str, timeout: float = 30.0, *, interval: float = 0.5
    ) -> Verdict:
        """Poll until the session has its verdict; raise ``IcewatchClientError("timeout")``
        when it is still pending after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.verdict(session_id)
            left = deadline - time.monotonic()
            if _verdict_in_time(found, left, session_id, timeout):
                return found
            time.sleep(min(interval, left))

    def sessions(
        self,
        *,
        level: str | Iterable[str] | None = None,
        signal: str | None = None,
        ip: str | None = None,
        provider: str | None = None,
        since: float | int | str | datetime | None = None,
        until: float | int | str | datetime | None = None,
        ua: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[SessionSummary]:
        """Sessions newest first, matching the filters, page after page (at most
        ``limit`` in all)."""
        params = session_filters(
            level=level, signal=signal, ip=ip, provider=provider, since=since, until=until, ua=ua
        )
        pager = _Pager(params, limit, page_size)
        while (query := pager.query()) is not None:
            yield from pager.take(self._get("/api/v1/sessions", query))

    def signals(self) -> list[SignalInfo]:
        """The rule table: every signal code, its title, weights and explanation."""
        return _signal_infos(self._get("/api/v1/signals"))


class AsyncIcewatchClient(_ClientBase):
    """:class:`IcewatchClient`'s asyncio twin (``httpx.AsyncClient``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = 2,
        backoff: float = 0.2,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retries, backoff)
        self._http = httpx.AsyncClient(**self._http_options, transport=transport)

    async def __aenter__(self) -> AsyncIcewatchClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        for last, delay in self._tries():
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = await self._http.get(path, params=params)
            except httpx.HTTPError as exc:
                outcome = exc
            result = _settle(outcome, last=last)
            if result is not _RETRY:
                return result
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _signal_titles(self) -> Mapping[str, str]:
        if self._titles is not None:
            return self._titles
        return self._keep_titles(await self.signals())

    async def verdict(self, session_id: str) -> Verdict:
        document = await self._get(_session_path(session_id))
        return _verdict_of(document, await self._signal_titles())

    async def wait_for_verdict(
        self, session_id: str, timeout: float = 30.0, *, interval: float = 0.5
    ) -> Verdict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await self.verdict(session_id)
            left = deadline - loop.time()
            if _verdict_in_time(found, left, session_id, timeout):
                return found
            await asyncio.sleep(min(interval, left))

    async def sessions(
        self,
        *,
        level: str | Iterable[str] | None = None,
        signal: str | None = None,
        ip: str | None = None,
        provider: str | None = None,
        since: float | int | str | datetime | None = None,
        until: float | int | str | datetime | None = None,
        ua: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[SessionSummary]:
        params = session_filters(
            level=level, signal=signal, ip=ip, provider=provider, since=since, until=until, ua=ua
        )
        pager = _Pager(params, limit, page_size)
        while (query := pager.query()) is not None:
            for row in pager.take(await self._get("/api/v1/sessions", query)):
                yield row

    async def signals(self) -> list[SignalInfo]:
        return _signal_infos(await self._get("/api/v1/signals"))


def verify_webhook(
    body: bytes,
    header: str | None,
    secret: str | bytes,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a webhook's ``Icewatch-Signature`` header over the raw ``body`` bytes (as
    received, before any JSON parsing) and return the parsed event. Raise
    :class:`IcewatchClientError` with code ``bad_signature`` when the header is missing
    or malformed, the timestamp is more than ``tolerance`` seconds from ``now`` (default:
    this machine's clock), or the HMAC does not match."""
    try:
        verify_signature(
            body, header or "", secret, now=time.time() if now is None else now, tolerance=tolerance
        )
    except SignatureError as exc:
        raise IcewatchClientError("bad_signature", str(exc)) from None
    try:
        event = json.loads(body)
    except ValueError:
        raise IcewatchClientError("bad_response", "the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise IcewatchClientError("bad_response", "the webhook body is not a JSON object")
    return event
