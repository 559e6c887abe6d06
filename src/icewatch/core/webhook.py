"""Webhook events: the payload of a scored session, and its signature.

The server POSTs an event to the operator's ``webhook_url`` when a session's verdict is
at or above ``webhook_level`` (``docs/integration.md#webhooks``). The body is the JSON
of :func:`webhook_payload`; the ``Icewatch-Signature`` header is
``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` (Stripe's scheme): the
receiver recomputes the HMAC over the exact bytes it received, compares in constant
time, and refuses timestamps too far from its own clock (replays).

Pure: the caller passes the time, the event id's random bytes and the secret.
:func:`verify_signature` is what :func:`icewatch.client.verify_webhook` runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from icewatch.core.document import iso_utc
from icewatch.core.evidence import SessionEvidence
from icewatch.core.scoring import RULES_BY_CODE
from icewatch.core.verdict import Level, Verdict

__all__ = [
    "EVENT_TYPE",
    "MAX_HEADER_CHARS",
    "PAYLOAD_VERSION",
    "SignatureError",
    "at_or_above",
    "event_id",
    "sign",
    "signature_header",
    "verify_signature",
    "webhook_body",
    "webhook_payload",
]

#: The one event type so far: a session was scored at or above the configured level.
EVENT_TYPE = "session.verdict"
#: Bumped when a key changes meaning or disappears (new keys may be added).
PAYLOAD_VERSION = 1
#: Longest ``Icewatch-Signature`` header :func:`verify_signature` reads.
MAX_HEADER_CHARS = 2048

_RANK = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}


class SignatureError(ValueError):
    """A webhook signature header that is missing, malformed, stale or wrong."""


def at_or_above(level: Level, threshold: Level) -> bool:
    """Whether a verdict ``level`` reaches ``threshold`` (low < medium < high)."""
    return _RANK[level] >= _RANK[threshold]


def event_id(random16: bytes) -> str:
    """An event id from 16 random bytes: ``evt_`` + 22 URL-safe characters."""
    if len(random16) != 16:
        raise ValueError("an event id needs 16 random bytes")
    return "evt_" + base64.urlsafe_b64encode(random16).decode().rstrip("=")


def webhook_payload(
    evidence: SessionEvidence, verdict: Verdict, *, event: str, now: float
) -> dict[str, Any]:
    """The event for a scored session (``docs/integration.md#payload``): its id, times,
    level, score, and every signal with its title, reason and evidence."""
    signals = []
    for s in verdict.signals:
        rule = RULES_BY_CODE.get(s.code)  # type: ignore[call-overload]
        signals.append(
            {
                "code": s.code,
                "title": None if rule is None else rule.title,
                "weight": s.weight,
                "reason": s.summary,
                "evidence": dict(s.evidence),
            }
        )
    return {
        "version": PAYLOAD_VERSION,
        "id": event,
        "type": EVENT_TYPE,
        "created_at": iso_utc(now),
        "session_id": evidence.session_id,
        "session_created_at": iso_utc(evidence.created_at),
        "reported_at": iso_utc(evidence.reported_at),
        "level": verdict.level.value,
        "score": verdict.score,
        "client_ip": str(evidence.http.client_ip),
        "signals": signals,
        "session_url": f"/api/v1/sessions/{evidence.session_id}",
    }


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed (compact UTF-8 JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, str(int(timestamp)).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The ``Icewatch-Signature`` header value: ``t=<timestamp>,v1=<hex>``."""
    return f"t={int(timestamp)},v1={sign(secret, timestamp, body)}"


def verify_signature(
    body: bytes, header: str, secret: str | bytes, *, now: float, tolerance: float = 300
) -> int:
    """Check an ``Icewatch-Signature`` header against ``body``; return its timestamp.

    Every ``v1=`` entry is tried (a receiver may see several during a secret rotation);
    the timestamp must be within ``tolerance`` seconds of ``now``. Raise
    :class:`SignatureError` saying what is wrong."""
    if not isinstance(header, str) or not header.strip():
        raise SignatureError("no Icewatch-Signature header")
    if len(header) > MAX_HEADER_CHARS:
        raise SignatureError("the signature header is too long")
    if not isinstance(body, bytes | bytearray):
        raise SignatureError("the body must be the raw bytes received")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed signature header (expected t=...,v1=...)")
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError("malformed timestamp in the signature header")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None:
        raise SignatureError("the signature header has no timestamp (t=)")
    if not candidates:
        raise SignatureError("the signature header has no v1 signature")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"the signature timestamp is {abs(now - timestamp):.0f} s from now "
            f"(tolerance {tolerance:.0f} s): a replay, or a clock out of sync"
        )
    expected = sign(secret, timestamp, bytes(body)).encode()
    if not any(hmac.compare_digest(expected, c.encode()) for c in candidates):
        raise SignatureError("the signature does not match (wrong secret, or a changed body)")
    return timestamp
