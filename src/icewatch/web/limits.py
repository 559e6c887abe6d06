"""Request-body cap, enforced while reading (pure ASGI middleware).

A declared ``Content-Length`` over the cap is answered 413 before a byte of the body is
read; a body without one (chunked) is counted as it arrives and cut off as soon as it
passes the cap. Nothing in the app ever holds more than ``max_bytes`` of one body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icewatch.web.errors import ApiError, error_response

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            if not declared.isdigit() or len(declared) > 15:
                await error_response("bad_request", "invalid Content-Length")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                message = f"the request body is over {self.max_bytes} bytes"
                await error_response("body_too_large", message)(scope, receive, send)
                return

        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError("body_too_large", f"the request body is over {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)
