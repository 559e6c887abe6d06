"""Who may see what: a session's bearer token, or the operator API key.

A token opens exactly one session (HMAC over the session id and expiry, verified in the
core). Checks happen before any store lookup, so a wrong token learns nothing about
whether a session exists. Without a configured API key the operator endpoints are
closed (403), never open.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from icewatch.core.session import verify_token
from icewatch.web.errors import ApiError

__all__ = ["Access", "Principal", "authorize_operator", "authorize_session", "bearer"]

_MAX_CREDENTIAL = 512
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="icewatch"'}


class Access(StrEnum):
    SESSION = "session"  # the session's own token
    OPERATOR = "operator"  # the API key


@dataclass(frozen=True, slots=True)
class Principal:
    access: Access
    expired: bool = False  # a valid token whose session has expired


def bearer(request: Request) -> str | None:
    """The ``Authorization: Bearer`` credential, or ``None`` (bounded, never raises)."""
    value = request.headers.get("authorization")
    if value is None:
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential or len(credential) > _MAX_CREDENTIAL:
        return None
    return credential.strip()


def _api_key_matches(configured: str | None, offered: str | None) -> bool:
    if configured is None or offered is None or len(offered) > _MAX_CREDENTIAL:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "replace"), configured.encode("utf-8"))


def _offered_api_key(request: Request) -> str | None:
    return request.headers.get("x-api-key") or bearer(request)


def authorize_operator(request: Request, api_key: str | None) -> Principal:
    """The operator, or 403 (no API key configured) / 401 (missing or wrong key)."""
    if api_key is None:
        raise ApiError(
            "operator_api_disabled",
            "the operator API is disabled: start icewatch with an API key (--api-key)",
        )
    if not _api_key_matches(api_key, _offered_api_key(request)):
        raise ApiError(
            "unauthorized",
            "an API key is required (Authorization: Bearer KEY or X-API-Key: KEY)",
            field="authorization",
            headers=_CHALLENGE,
        )
    return Principal(Access.OPERATOR)


def authorize_session(
    request: Request,
    session_id: str,
    *,
    secret: bytes,
    now: float,
    api_key: str | None = None,
) -> Principal:
    """The session's token holder or (with ``api_key``) the operator; else 401.

    A token that was made for this session but has expired gives a principal with
    ``expired`` set: the caller answers 410, which only someone holding a genuine token
    can ever see.
    """
    if _api_key_matches(api_key, _offered_api_key(request)):
        return Principal(Access.OPERATOR)
    token = bearer(request)
    if token is not None:
        if verify_token(secret, token, session_id, now):
            return Principal(Access.SESSION)
        if verify_token(secret, token, session_id, float("-inf")):
            return Principal(Access.SESSION, expired=True)
    raise ApiError(
        "unauthorized",
        "a valid token for this session is required (Authorization: Bearer TOKEN)",
        field="authorization",
        headers=_CHALLENGE,
    )
