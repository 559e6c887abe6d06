"""What a browser loads: the leak-test page, the collector script, and the health check.

The page uses nothing from another origin: its script and style are served from here
and the Content-Security-Policy says so, so a hostile network cannot add a tracker and
the page cannot leak the visitor anywhere but to this server.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from icewatch import __version__
from icewatch.web.context import WebContext
from icewatch.web.models import Health

__all__ = ["PAGE_CSP", "pages_router", "static_text"]

#: The page's policy: same-origin script, style and fetch; nothing else, no framing.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Ask for the high-entropy client hints on the page's own API calls (kept as evidence).
_ACCEPT_CH = (
    "Sec-CH-UA-Full-Version-List, Sec-CH-UA-Platform-Version, Sec-CH-UA-Arch, "
    "Sec-CH-UA-Bitness, Sec-CH-UA-Model, Sec-CH-UA-WoW64"
)
_COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
_STATIC = {
    "collector.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}


@cache
def static_text(name: str) -> str:
    """A file of ``icewatch/web/static`` (read once)."""
    return files("icewatch.web").joinpath("static", name).read_text("utf-8")


def pages_router(ctx: WebContext) -> APIRouter:
    router = APIRouter()
    cors = bool(ctx.settings.cors_origins)

    @router.get("/", include_in_schema=False)
    async def index() -> Response:
        headers = {
            **_COMMON,
            "Content-Security-Policy": PAGE_CSP,
            "Accept-CH": _ACCEPT_CH,
            "Cache-Control": "no-cache",
            "X-Frame-Options": "DENY",
        }
        return Response(
            static_text("index.html"), media_type="text/html; charset=utf-8", headers=headers
        )

    def static_route(name: str) -> None:
        async def serve() -> Response:
            headers = {**_COMMON, "Cache-Control": "public, max-age=300"}
            if cors and name == "collector.js":
                headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            return Response(static_text(name), media_type=_STATIC[name], headers=headers)

        serve.__name__ = f"static_{name.replace('.', '_')}"
        router.add_api_route(f"/{name}", serve, methods=["GET"], include_in_schema=False)

    for name in _STATIC:
        static_route(name)

    @router.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})

    @router.get(
        "/healthz",
        response_model=Health,
        tags=["health"],
        summary="Liveness",
        description="200 while the process serves HTTP; `listener` tells whether the "
        "STUN/TURN listener is up yet.",
    )
    async def healthz() -> JSONResponse:
        body = Health(
            status="ok",
            version=__version__,
            listener="ready" if ctx.listener_ready() else "starting",
        )
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})

    return router
