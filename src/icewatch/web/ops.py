"""Operations routes: ``GET /metrics`` (Prometheus) and ``GET /readyz`` (readiness)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from icewatch.core.errors import IcewatchError
from icewatch.web.auth import authorize_operator
from icewatch.web.context import WebContext
from icewatch.web.metrics import CONTENT_TYPE

__all__ = ["ops_router"]


def ops_router(ctx: WebContext) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/readyz",
        summary="Readiness",
        description="200 when the STUN/TURN listener is ready and the store answers; 503 "
        'with `{"status": "not_ready", "checks": {...}}` naming the part that is not. IP '
        "data is loaded (or absent by configuration) before HTTP starts; `checks.intel` "
        "names the data in use.",
    )
    async def readyz() -> JSONResponse:
        checks = {"listener": "ready" if ctx.listener_ready() else "starting"}
        try:
            await ctx.store.ping()
            checks["store"] = "ok"
        except (IcewatchError, OSError, ValueError) as exc:
            checks["store"] = f"unavailable: {type(exc).__name__}"
        ready = checks["listener"] == "ready" and checks["store"] == "ok"
        # IP data is loaded (or turned off) before HTTP starts, and a failed reload keeps
        # the data in use: it is named here, never a reason to be unready.
        if ctx.metrics is not None and ctx.metrics.intel_data is not None:
            _, origin, version = ctx.metrics.intel_data()
            checks["intel"] = f"{origin} {version}".strip() if origin != "none" else "none"
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    if ctx.metrics is not None:
        metrics = ctx.metrics

        @router.get(
            "/metrics",
            summary="Prometheus metrics",
            description="Prometheus text format. Needs the operator API key unless the "
            "server runs with `metrics_public`.",
            response_class=Response,
        )
        async def get_metrics(request: Request) -> Response:
            if not metrics.public:
                authorize_operator(request, ctx.settings.api_key)
            return Response(
                metrics.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"}
            )

    return router
