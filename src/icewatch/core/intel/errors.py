"""The one error type of :mod:`icewatch.core.intel`."""

from __future__ import annotations

from icewatch.core.errors import ParseError

__all__ = ["IntelParseError"]


class IntelParseError(ParseError):
    """A malformed, oversized, corrupt or truncated IP-intelligence input.

    Raised by every parser (provider files, lists, ASN tables) and by
    :func:`~icewatch.core.intel.load_compiled` (bad magic, version, checksum, truncation).
    ``field`` names the part at fault, ``line`` the 1-based line of text input (``None``
    for JSON structure or binary input, where ``offset`` may be set instead).
    """

    kind = "intel"

    def __init__(
        self, field: str, reason: str, *, line: int | None = None, offset: int | None = None
    ) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(field, f"{where}{reason}" if where else reason, offset=offset)
        # keep ``reason`` free of the line prefix for callers that format their own
        self.reason = reason
