"""Request ids for logs: a small ASGI middleware and the context variables it sets.

Every HTTP request gets a fresh id, echoed as ``X-Request-Id``; while the request runs,
:func:`log_ids` returns it (and the session id of ``/api/v1/sessions/{id}/…`` paths) so a
log formatter can add them to every line logged on the request's behalf.
"""

from __future__ import annotations

import secrets
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIdMiddleware", "log_ids"]

_request_id: ContextVar[str | None] = ContextVar("icewatch_request_id", default=None)
_session_id: ContextVar[str | None] = ContextVar("icewatch_session_id", default=None)

_SESSIONS = "/api/v1/sessions/"
_MAX_ID = 128


def log_ids() -> dict[str, str]:
    """The ids known in the current context (``request_id``, ``session_id``)."""
    ids: dict[str, str] = {}
    request_id = _request_id.get()
    if request_id is not None:
        ids["request_id"] = request_id
    session_id = _session_id.get()
    if session_id is not None:
        ids["session_id"] = session_id
    return ids


def _session_of(path: str) -> str | None:
    if not path.startswith(_SESSIONS):
        return None
    candidate = path[len(_SESSIONS) :].split("/", 1)[0]
    if not candidate or len(candidate) > _MAX_ID or not candidate.isascii():
        return None
    return candidate


class RequestIdMiddleware:
    """Assigns each HTTP request an id (``X-Request-Id`` on the answer) for the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        request_token = _request_id.set(request_id)
        session_token = _session_id.set(_session_of(str(scope.get("path", ""))))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _session_id.reset(session_token)
            _request_id.reset(request_token)
