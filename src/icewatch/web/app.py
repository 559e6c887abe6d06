"""The app factory: one FastAPI app bound to one :class:`WebContext`."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from icewatch import __version__
from icewatch.web.api import api_router
from icewatch.web.context import WebContext
from icewatch.web.dashboard import dashboard_router
from icewatch.web.errors import install_error_handlers
from icewatch.web.limits import BodyLimitMiddleware
from icewatch.web.logcontext import RequestIdMiddleware
from icewatch.web.ops import ops_router
from icewatch.web.pages import pages_router
from icewatch.web.ratelimit import RateLimitMiddleware

__all__ = ["create_app"]

_DESCRIPTION = """\
icewatch sees a browser's real network from the packets its ICE gathering sends to
icewatch's own STUN/TURN listener, and compares that with the HTTP request and with what
the page's JavaScript claims. Every error answers `{"error": {"code", "message", "field"}}`.
"""


def create_app(ctx: WebContext) -> FastAPI:
    """The ASGI app: ``/api/v1`` (sessions), ``/`` (leak test), ``/collector.js``,
    ``/healthz`` and ``/openapi.json`` (``/docs`` is off: it loads third-party code)."""
    app = FastAPI(
        title="icewatch",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.icewatch = ctx
    install_error_handlers(app)
    app.include_router(pages_router(ctx))
    app.include_router(api_router(ctx))
    app.include_router(ops_router(ctx))
    app.include_router(dashboard_router(ctx))
    # Inside CORS, so that a 429 still carries the CORS headers the page needs to read it.
    app.add_middleware(RateLimitMiddleware, ctx=ctx)
    origins = list(ctx.settings.cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    # An oversized body is refused before anything else looks at it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=ctx.settings.max_body_bytes)
    # Outermost: every answer (a 413 too) carries its request id, and logs name it.
    app.add_middleware(RequestIdMiddleware)
    return app
