"""Per-client rate limits: token buckets keyed by the client address, bounded in memory.

A :class:`RateLimiter` gives each client ``count`` tokens (the burst) that refill at
``count`` per ``period`` seconds. The client is the address the app already believes
(:func:`icewatch.web.client.client_ip`: the socket peer, or the forwarded client behind
a configured trusted proxy), grouped so one host cannot rotate its way out: an IPv4
address is its own key, an IPv6 address counts for its whole /64 (one subscriber's
prefix), an IPv4-mapped IPv6 address as the IPv4 address it carries.

Memory is bounded: at most ``max_keys`` buckets are kept, in least-recently-used order.
A bucket that has refilled completely means nothing (it is the same as no bucket), so
such buckets are dropped as soon as they reach the old end; when the table is full
anyway, the least recently used bucket is forgotten. A flood of distinct addresses
therefore costs a fixed amount of memory (and at worst lets the oldest limited clients
start afresh), never an unbounded table.

Time comes from the caller (the :class:`~icewatch.web.context.WebContext` clock), so
tests move it by hand. The state lives in this process: with one process per database
the limit is exact; with several processes behind one address, each keeps its own.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icewatch.core.addr import IPAddress
from icewatch.web.client import client_ip
from icewatch.web.context import WebContext
from icewatch.web.dashboard.routes import DASHBOARD_CSP, template_environment
from icewatch.web.errors import error_response

__all__ = ["DEFAULT_MAX_KEYS", "RateLimitMiddleware", "RateLimiter", "client_key"]

#: Most clients tracked per limit (about 190 bytes each: at most ~3.5 MiB per limit).
DEFAULT_MAX_KEYS = 20_000
#: Full buckets looked at (and dropped) at the old end on each hit: amortised clean-up.
_SWEEP = 2


def client_key(ip: IPAddress) -> bytes:
    """The bucket key of a client: its IPv4 address, or its IPv6 /64 (4 or 8 bytes)."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return mapped.packed
        return ip.packed[:8]
    return ip.packed


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``count`` requests per ``period`` seconds per client (burst ``count``)."""

    def __init__(self, count: int, period: float, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if count < 1:
            raise ValueError("a rate limit needs at least one request per period")
        if not period > 0:
            raise ValueError("a rate limit needs a period longer than zero")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.count = count
        self.period = float(period)
        self.max_keys = max_keys
        self._rate = count / self.period  # tokens per second
        self._buckets: OrderedDict[bytes, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """How many clients are tracked right now."""
        return len(self._buckets)

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.at)  # a clock stepping back refills nothing
        return min(float(self.count), bucket.tokens + elapsed * self._rate)

    def _retry_after(self, tokens: float) -> int:
        """Whole seconds until one token is back (at least 1)."""
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def _sweep(self, now: float) -> None:
        for _ in range(_SWEEP):
            if not self._buckets:
                return
            key, bucket = next(iter(self._buckets.items()))
            if self._refilled(bucket, now) < self.count:
                return
            del self._buckets[key]

    def blocked(self, ip: IPAddress, now: float) -> int:
        """Seconds to wait before this client may try again (0: it may), spending nothing."""
        bucket = self._buckets.get(client_key(ip))
        if bucket is None:
            return 0
        tokens = self._refilled(bucket, now)
        return 0 if tokens >= 1.0 else self._retry_after(tokens)

    def hit(self, ip: IPAddress, now: float) -> int:
        """Spend one token of this client's: 0 when it had one, else the seconds to wait
        (``Retry-After``; nothing is spent then)."""
        key = client_key(ip)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._sweep(now)
            while len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            self._buckets[key] = _Bucket(float(self.count) - 1.0, now)
            return 0
        self._buckets.move_to_end(key)
        tokens = self._refilled(bucket, now)
        bucket.at = max(bucket.at, now)
        if tokens < 1.0:
            bucket.tokens = tokens
            return self._retry_after(tokens)
        bucket.tokens = tokens - 1.0
        self._sweep(now)
        return 0


# -- the middleware -----------------------------------------------------------------------

#: The one path whose every request costs a token of ``rate_limit_sessions``.
SESSIONS_PATH = "/api/v1/sessions"
LOGIN_PATH = "/dashboard/login"
_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
#: The page's own routes: they take only the session's token (an HMAC nobody can guess,
#: never the API key), so they are no place to guess the key, and visitors sharing an
#: address with someone who is guessing must still get their verdicts.
_PAGE_ROUTES = re.compile(r"/api/v1/sessions/[^/]+/(?:report|offer)")
_HTML_HEADERS = {
    "Content-Security-Policy": DASHBOARD_CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _route_path(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class RateLimitMiddleware:
    """Applies ``rate_limit_sessions`` and ``rate_limit_login`` (pure ASGI middleware).

    * ``POST /api/v1/sessions``: every request costs one token of the client's.
    * Authentication attempts — ``POST /dashboard/login``, and any request that carries
      an ``Authorization`` or ``X-API-Key`` header: each one answered ``401`` costs a
      token (a wrong API key or token); a client with none left is answered 429 before
      its credential is even looked at, so it learns nothing more. Correct credentials
      cost nothing. The page's report and offer routes are exempt: they accept only the
      session's token, so a visitor behind the same NAT as a key-guesser still reports.

    Refused requests are answered ``429`` with ``Retry-After`` (JSON ``rate_limited``,
    or an HTML page under ``/dashboard``) and counted in
    ``icewatch_rate_limited_total{route}``.
    """

    def __init__(self, app: ASGIApp, ctx: WebContext, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.app = app
        self.ctx = ctx
        settings = ctx.settings
        self.sessions = _limiter(settings.rate_limit_sessions, max_keys)
        self.login = _limiter(settings.rate_limit_login, max_keys)

    def _client(self, scope: Scope) -> IPAddress:
        settings = self.ctx.settings
        return client_ip(
            Request(scope),
            proxies=settings.trusted_proxies,
            forwarded_header=settings.forwarded_header,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.sessions is None and self.login is None):
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        method = scope.get("method", "GET")
        if self.sessions is not None and method == "POST" and path == SESSIONS_PATH:
            wait = self.sessions.hit(self._client(scope), self.ctx.clock())
            if wait:
                await self._refuse("sessions", path, wait, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        login = self.login
        attempt = (method == "POST" and path == LOGIN_PATH) or (
            not _PAGE_ROUTES.fullmatch(path)
            and any(name in _CREDENTIAL_HEADERS for name, _ in scope.get("headers", ()))
        )
        if login is None or not attempt:
            await self.app(scope, receive, send)
            return
        client = self._client(scope)
        wait = login.blocked(client, self.ctx.clock())
        if wait:
            await self._refuse("login", path, wait, scope, receive, send)
            return

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 401:
                login.hit(client, self.ctx.clock())
            await send(message)

        await self.app(scope, receive, watching_send)

    async def _refuse(
        self, route: str, path: str, wait: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if self.ctx.metrics is not None:
            self.ctx.metrics.rate_limited.labels(route=route).inc()
        response: Response
        if path == "/dashboard" or path.startswith("/dashboard/"):
            html = (
                template_environment()
                .get_template("rate_limited.html")
                .render(title="Too many attempts", retry_after=wait)
            )
            headers = {**_HTML_HEADERS, "Retry-After": str(wait)}
            response = HTMLResponse(html, status_code=429, headers=headers)
        else:
            what = "sessions" if route == "sessions" else "failed authentication attempts"
            response = error_response(
                "rate_limited",
                f"too many {what} from this address; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        await response(scope, receive, send)


def _limiter(rate: tuple[int, float] | None, max_keys: int) -> RateLimiter | None:
    return None if rate is None else RateLimiter(rate[0], rate[1], max_keys=max_keys)
