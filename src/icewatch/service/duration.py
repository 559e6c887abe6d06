"""The ``retention`` setting's value type: a duration such as ``30d``, or ``off``.

Standard library only (the settings table is imported for ``--help``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from icewatch.core.errors import ParseError
from icewatch.core.filters import parse_duration

__all__ = ["Duration", "show_duration"]

_OFF = frozenset({"off", "0", "none", "never", "false"})


def show_duration(seconds: float) -> str:
    """``30d``, ``12h``, ``90m``, ``45s`` — the largest exact unit; ``off`` for 0."""
    if seconds <= 0:
        return "off"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Duration:
    """A duration (``90s``, ``30m``, ``24h``, ``30d``, ``2w``; a bare number is seconds)
    within ``maximum`` seconds; ``off`` or ``0`` is 0 (disabled)."""

    maximum: float
    label: str = "DURATION"

    def from_text(self, text: str) -> float:
        low = text.strip().lower()
        if low in _OFF:
            return 0.0
        try:
            value = parse_duration(low, field="duration")
        except ParseError as exc:
            raise ValueError(exc.reason) from None
        if value > self.maximum:
            raise ValueError(f"longer than {show_duration(self.maximum)}: {text[:40]!r}")
        return value

    def from_toml(self, value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError("expected a duration such as 30d, or off")
        if isinstance(value, int | float):
            return self.from_text(repr(value) if value else "0")
        if isinstance(value, str):
            return self.from_text(value)
        raise ValueError(f"expected a duration such as 30d, got {type(value).__name__}")

    def show(self, value: Any) -> str:
        return show_duration(float(value))
