"""Session identities and the secrets derived for them: ids, API tokens, per-session TURN
credentials and stateless STUN nonces.

Pure: the caller passes the random bytes, the server secret and the current time.
Keys for each purpose are derived from one server secret, so a token can never be
replayed as a TURN password or a nonce, and vice versa.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from icewatch.core.addr import IPAddress
from icewatch.core.stun.credentials import turn_rest_password, turn_rest_username

__all__ = [
    "SESSION_ID_BYTES",
    "derive_key",
    "is_session_id",
    "make_nonce",
    "make_session_id",
    "make_token",
    "session_turn_credential",
    "turn_username_session",
    "verify_nonce",
    "verify_token",
]

#: 16 random bytes → 22 base64url characters (128 bits: not guessable).
SESSION_ID_BYTES = 16
_SESSION_ID_LENGTH = 22
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAC_BYTES = 18  # 144-bit tags, 24 base64url characters


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose (``"token"``, ``"turn"``, ``"nonce"``…) from the server secret."""
    return hmac.new(secret, b"icewatch/v1/" + purpose.encode("ascii"), hashlib.sha256).digest()


def make_session_id(random_bytes: bytes) -> str:
    """A session id from :data:`SESSION_ID_BYTES` random bytes (the caller's ``secrets``).

    Its first character is never ``-`` or ``_`` (the first byte's top bit is cleared:
    127 random bits), so an id can be passed to a command line as it is, without ``--``
    (``icewatch sessions show ID``). Ids made before this rule stay valid."""
    if len(random_bytes) != SESSION_ID_BYTES:
        raise ValueError(f"need {SESSION_ID_BYTES} random bytes")
    return _b64(bytes([random_bytes[0] & 0x7F]) + random_bytes[1:])


def is_session_id(text: str) -> bool:
    """Whether ``text`` has the shape of a session id (cheap check before any lookup)."""
    return len(text) == _SESSION_ID_LENGTH and not set(text) - _B64URL


def _token_mac(secret: bytes, session_id: str, expires: int) -> str:
    key = derive_key(secret, "token")
    msg = f"{session_id}.{expires}".encode("ascii")
    return _b64(hmac.new(key, msg, hashlib.sha256).digest()[:_MAC_BYTES])


def make_token(secret: bytes, session_id: str, expires: int) -> str:
    """A bearer token that opens exactly this session until ``expires`` (Unix seconds)."""
    return f"{session_id}.{expires}.{_token_mac(secret, session_id, expires)}"


def verify_token(secret: bytes, token: str, session_id: str, now: float) -> bool:
    """True when ``token`` was made for ``session_id`` and has not expired."""
    if len(token) > 128:
        return False
    parts = token.split(".")
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 12:
        return False
    token_session, expires_text, mac = parts
    expected = _token_mac(secret, session_id, int(expires_text))
    same_mac = hmac.compare_digest(mac.encode("ascii", "replace"), expected.encode("ascii"))
    same_session = hmac.compare_digest(
        token_session.encode("ascii", "replace"), session_id.encode("ascii")
    )
    return same_mac and same_session and now < int(expires_text)


def session_turn_credential(secret: bytes, session_id: str, expires: int) -> tuple[str, str]:
    """The per-session TURN REST credential: ``("<expires>:<session id>", password)``."""
    username = turn_rest_username(expires, session_id)
    return username, turn_rest_password(derive_key(secret, "turn"), username)


def turn_username_session(username: str, now: float) -> str | None:
    """The session id a TURN USERNAME names, or ``None`` if malformed or expired."""
    expires_text, sep, session_id = username.partition(":")
    # isascii: str.isdigit() accepts '²' and other digits that int() refuses.
    if not sep or not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12:
        return None
    if not is_session_id(session_id) or now >= int(expires_text):
        return None
    return session_id


def _nonce_mac(secret: bytes, expires: int, ip: IPAddress) -> str:
    key = derive_key(secret, "nonce")
    msg = f"{expires:x}|{ip}".encode("ascii")
    return _b64(hmac.new(key, msg, hashlib.sha256).digest()[:12])


def make_nonce(secret: bytes, ip: IPAddress, now: float, lifetime: int = 600) -> str:
    """A stateless NONCE for a 401 answer: bound to the client address, valid ``lifetime`` s."""
    expires = int(now) + lifetime
    return f"{expires:x}-{_nonce_mac(secret, expires, ip)}"


def verify_nonce(secret: bytes, nonce: str, ip: IPAddress, now: float) -> bool:
    """True when ``nonce`` was made for ``ip`` by :func:`make_nonce` and is still valid."""
    expires_hex, sep, mac = nonce.partition("-")
    if not sep or not 0 < len(expires_hex) <= 12 or len(mac) > 64:
        return False
    try:
        expires = int(expires_hex, 16)
    except ValueError:
        return False
    expected = _nonce_mac(secret, expires, ip)
    return hmac.compare_digest(mac.encode("ascii", "replace"), expected.encode("ascii")) and (
        now < expires
    )
