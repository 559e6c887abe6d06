"""The one error tree of icewatch.

::

    IcewatchError
    └── ParseError (also ValueError)       untrusted input that could not be understood
        ├── CandidateParseError            an ICE candidate line (RFC 8839 §5.1)
        ├── SdpParseError                  a session description (RFC 8866)
        ├── StunParseError                 a STUN/TURN datagram (RFC 8489, RFC 8656)
        └── AddressParseError              an IP address or CIDR prefix

Every parser in :mod:`icewatch.core` raises only its ``ParseError`` subclass for bad
input, never ``IndexError``, ``struct.error`` or a bare ``ValueError`` from deep inside.
Each error names *where* it failed (``field``) and *why* (``reason``); binary decoders
also give the byte ``offset``.
"""

from __future__ import annotations

__all__ = [
    "AddressParseError",
    "CandidateParseError",
    "IcewatchError",
    "IntegrityError",
    "ParseError",
    "PeerError",
    "SdpParseError",
    "StunParseError",
]


class IcewatchError(Exception):
    """Base class of every error icewatch raises on purpose."""


class ParseError(IcewatchError, ValueError):
    """Untrusted input could not be parsed.

    ``field`` names the part of the input at fault (``"priority"``, ``"header"``,
    ``"attribute 0x0020"``...), ``reason`` says what was wrong with it, and
    ``offset`` (for binary input) is the byte position where decoding stopped.
    """

    kind = "input"

    def __init__(self, field: str, reason: str, *, offset: int | None = None) -> None:
        self.field = field
        self.reason = reason
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{self.kind}: {field}: {reason}{where}")


class CandidateParseError(ParseError):
    """A malformed ICE candidate line."""

    kind = "candidate"


class SdpParseError(ParseError):
    """A malformed or oversized session description."""

    kind = "sdp"


class StunParseError(ParseError):
    """A malformed STUN/TURN message (datagram or TCP frame)."""

    kind = "stun"


class AddressParseError(ParseError):
    """A malformed IP address or prefix."""

    kind = "address"


class IntegrityError(IcewatchError):
    """A STUN integrity check was asked for but the message carries no such attribute."""


class PeerError(IcewatchError):
    """The test connection's peer could not answer an offer.

    ``reason`` is a stable code: ``disabled`` (the test connection is off), ``busy`` (the
    cap on concurrent peer connections is reached), ``bad_offer`` (the offer SDP is
    unusable) or ``timeout`` (no answer within the deadline).
    """

    REASONS = ("disabled", "busy", "bad_offer", "timeout")

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown peer error reason {reason!r}")
        self.reason = reason
        self.message = message
        super().__init__(f"peer: {reason}: {message}")
