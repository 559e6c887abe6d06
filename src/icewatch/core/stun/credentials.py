"""TURN REST ephemeral credentials (draft-uberti-behave-turn-rest-00, coturn ``use-auth-secret``).

A web service that shares ``secret`` with the TURN server hands out::

    username = "<expiry unix seconds>:<user id>"
    password = base64(HMAC-SHA1(secret, username))

and the TURN server recomputes the password from the USERNAME it receives, then uses
the usual long-term key MD5(username:realm:password). The core never reads the clock:
expiry and "now" are parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from icewatch.core.errors import StunParseError

__all__ = [
    "MAX_EXPIRY_DIGITS",
    "parse_turn_rest_username",
    "turn_rest_expired",
    "turn_rest_password",
    "turn_rest_username",
]

#: An expiry has at most 12 decimal digits (year 33658); anything longer is garbage.
MAX_EXPIRY_DIGITS = 12


def turn_rest_username(expiry: int, user_id: str) -> str:
    """``f"{expiry}:{user_id}"``; ``expiry`` is a Unix time in seconds."""
    if expiry < 0:
        raise ValueError(f"expiry {expiry} is negative")
    return f"{expiry}:{user_id}"


def turn_rest_password(secret: bytes, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)), as coturn computes it."""
    mac = hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def parse_turn_rest_username(username: str) -> tuple[int, str]:
    """Split ``"<expiry>:<user id>"``; a bare ``"<expiry>"`` gives an empty user id.

    Raises :class:`StunParseError` (field ``"username"``) when the part before the first
    colon is not 1-12 ASCII digits.
    """
    head, _sep, user_id = username.partition(":")
    if not head or len(head) > MAX_EXPIRY_DIGITS or not (head.isascii() and head.isdigit()):
        raise StunParseError("username", f"{head[:20]!r} is not a TURN REST expiry timestamp")
    return int(head), user_id


def turn_rest_expired(username: str, now: int) -> bool:
    """True when the username's expiry is at or before ``now`` (Unix seconds)."""
    expiry, _ = parse_turn_rest_username(username)
    return expiry <= now
