"""Who may see the dashboard: the operator API key, offered once on the login form (a
signed cookie afterwards) or on every request (``X-API-Key`` / ``Authorization: Bearer``).

The cookie is stateless: ``v1.EXPIRY.NONCE.MAC`` where ``MAC`` is HMAC-SHA256, under a
persistent server secret (the store's ``server_secret("dashboard-cookie")``), over the
expiry, the nonce and a digest of the API key in force, so it ends at its expiry, when
the API key changes, or when one byte of it changes. It is ``HttpOnly``,
``SameSite=Strict``, ``Path=/dashboard`` and ``Secure`` when the request came over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = [
    "COOKIE_NAME",
    "api_key_matches",
    "make_cookie",
    "offered_api_key",
    "same_origin",
    "verify_cookie",
]

COOKIE_NAME = "icewatch_dashboard"
_VERSION = "v1"
_MAX_CREDENTIAL = 512
_MAX_COOKIE = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _key_digest(api_key: str) -> bytes:
    return hashlib.sha256(b"icewatch-dashboard-key\x00" + api_key.encode("utf-8")).digest()


def _mac(secret: bytes, api_key: str, expiry: int, nonce: str) -> str:
    message = f"{_VERSION}|{expiry}|{nonce}|".encode() + _key_digest(api_key)
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def make_cookie(secret: bytes, api_key: str, expiry: int, nonce: bytes) -> str:
    """The cookie value for a login that lasts until ``expiry`` (Unix seconds)."""
    n = _b64(nonce)
    return f"{_VERSION}.{expiry}.{n}.{_mac(secret, api_key, expiry, n)}"


def verify_cookie(secret: bytes, api_key: str, value: str | None, now: float) -> bool:
    """Whether ``value`` is a cookie :func:`make_cookie` made with this secret and API
    key, not yet expired. Never raises (bounded, malformed → ``False``)."""
    if not value or len(value) > _MAX_COOKIE:
        return False
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != _VERSION:
        return False
    _, expiry_text, nonce, mac = parts
    if not expiry_text.isascii() or not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    expected = _mac(secret, api_key, expiry, nonce)
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace")):
        return False
    return now < expiry


def api_key_matches(configured: str | None, offered: str | None) -> bool:
    """Constant-time comparison of an offered key with the configured one."""
    if configured is None or offered is None or len(offered) > _MAX_CREDENTIAL:
        return False
    return hmac.compare_digest(offered.encode("utf-8", "replace"), configured.encode("utf-8"))


def offered_api_key(request: Request) -> str | None:
    """The key in ``X-API-Key`` or ``Authorization: Bearer`` (scripted access)."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    value = request.headers.get("authorization", "")
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() == "bearer" and credential:
        return credential.strip()
    return None


def same_origin(request: Request) -> bool:
    """CSRF check for a form POST: an ``Origin`` header, when present, must name this
    server (the host and port of the ``Host`` header; the scheme is not compared, since
    a TLS-terminating proxy may stand in front). Browsers always send ``Origin`` on a
    cross-site POST; ``null`` (sandboxed or privacy-stripped) is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().lower()
    host = request.headers.get("host", "").strip().lower()
    if origin == "null" or len(origin) > 300 or not host or len(host) > 300:
        return False
    try:
        theirs = urlsplit(origin)
        ours = urlsplit(f"//{host}")
        their_port = theirs.port or (443 if theirs.scheme == "https" else 80)
        our_port = ours.port
    except ValueError:
        return False
    if theirs.scheme not in ("http", "https") or not theirs.hostname:
        return False
    return theirs.hostname == ours.hostname and (our_port is None or our_port == their_port)
