"""One JSON error shape for every error response.

``{"error": {"code": "...", "message": "...", "field": "..." | null}}`` — for our own
errors, for FastAPI's request validation (422), for Starlette's 404/405, for an
oversized body (413) and for anything unexpected (500, without internals). ``code`` is
stable API (listed in docs/api.md); ``message`` is for people; ``field`` names the
offending part of the request (``"candidates.3.candidate"``, ``"authorization"``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

__all__ = ["ERROR_CODES", "ApiError", "error_body", "error_response", "install_error_handlers"]

log = logging.getLogger("icewatch.web")

#: Every error code the API emits, with its HTTP status (documented in docs/api.md).
ERROR_CODES: Mapping[str, int] = {
    "bad_request": 400,
    "bad_json": 400,
    "bad_host": 400,
    "bad_cursor": 400,
    "bad_offer": 400,
    "unauthorized": 401,
    "operator_api_disabled": 403,
    "not_found": 404,
    "test_connection_disabled": 404,
    "method_not_allowed": 405,
    "already_reported": 409,
    "already_offered": 409,
    "session_expired": 410,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "validation_failed": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "unavailable": 503,
    "peer_busy": 503,
    "peer_timeout": 503,
}

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "operator_api_disabled",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_reported",
    410: "session_expired",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(StarletteHTTPException):
    """An error answered in the one shape; ``code`` must be one of :data:`ERROR_CODES`.

    A subclass of Starlette's ``HTTPException`` so that FastAPI re-raises it unchanged
    even when it is raised while the request body is being read.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(ERROR_CODES[code], message, dict(headers) if headers else None)
        self.code = code
        self.message = message
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    merged = {"Cache-Control": "no-store", **(headers or {})}
    return JSONResponse(
        error_body(code, message, field), status_code=ERROR_CODES[code], headers=merged
    )


def _loc_field(loc: Sequence[Any]) -> str | None:
    """``("body", "candidates", 3, "candidate")`` → ``"candidates.3.candidate"``; parts
    that echo the client's own keys are cut short (the answer stays bounded)."""
    parts = [str(p)[:64] for p in loc[:8] if p != "body"]
    return ".".join(parts) if parts else None


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if not errors:
        return error_response("validation_failed", "the request is not valid")
    first = errors[0]
    kind = str(first.get("type", ""))
    loc = tuple(first.get("loc", ()))
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        return error_response("bad_json", f"the body is not valid JSON: {reason}")
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response("validation_failed", f"{message}{more}", _loc_field(loc))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error FastAPI or Starlette can produce into the one shape."""

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, ApiError):
            return error_response(exc.code, exc.message, exc.field, exc.headers)
        if not isinstance(exc, StarletteHTTPException):  # registered for this type only
            return await on_unexpected(_request, exc)
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 413:
            message = "the request body is too large"
        elif exc.status_code == 400 and message == "There was an error parsing the body":
            code, message = "bad_json", "the body could not be parsed as JSON"
        headers = {"Cache-Control": "no-store", **(exc.headers or {})}
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for this type only
            return await on_unexpected(_request, exc)
        return _validation_response(exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response("internal_error", "internal error (logged on the server)")

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
