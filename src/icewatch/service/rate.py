"""The rate-limit settings' value type: ``30/minute``, ``5/10s``, or ``off``.

Standard library only (the settings table is imported for ``--help``). The value is
``(requests, period in seconds)``, or ``()`` when the limit is off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Rate", "RateValue", "show_rate"]

RateValue = tuple[int, float] | tuple[()]

_OFF = frozenset({"off", "0", "none", "false", "unlimited"})
_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip
_SHOWN = ((86400.0, "day"), (3600.0, "hour"), (60.0, "minute"), (1.0, "second"))
_RATE = re.compile(r"(\d{1,7})\s*/\s*(\d{1,5})?\s*([a-z]+)")
MAX_REQUESTS = 1_000_000
MAX_PERIOD = 86400.0


def show_rate(value: RateValue) -> str:
    """``30/minute``, ``5/10s``; ``off`` for ``()``."""
    if len(value) != 2:
        return "off"
    count, period = value
    for size, name in _SHOWN:
        if period == size:
            return f"{count}/{name}"
    return f"{count}/{period:g}s"


@dataclass(frozen=True)
class Rate:
    """Requests per period: ``N/second``, ``N/minute``, ``N/hour``, ``N/day`` (also
    ``s``, ``min``, ``h``, ``d``, and a multiple such as ``N/10s`` or ``N/5min``), at most
    one day; ``off`` turns the limit off."""

    label: str = "N/PERIOD|off"

    def from_text(self, text: str) -> RateValue:
        low = text.strip().lower()
        if low in _OFF:
            return ()
        match = _RATE.fullmatch(low)
        unit = None if match is None else _UNITS.get(match.group(3))
        if match is None or unit is None:
            raise ValueError(f"not a rate such as 30/minute, 5/10s or off: {text[:40]!r}")
        count = int(match.group(1))
        period = unit * int(match.group(2) or 1)
        if not 1 <= count <= MAX_REQUESTS:
            raise ValueError(f"requests must be 1-{MAX_REQUESTS} (or off): {text[:40]!r}")
        if not 0 < period <= MAX_PERIOD:
            raise ValueError(f"the period must be 1 s to 1 day: {text[:40]!r}")
        return (count, period)

    def from_toml(self, value: Any) -> RateValue:
        if value is False:
            return ()
        if isinstance(value, str):
            return self.from_text(value)
        raise ValueError(f"expected a rate such as 30/minute, got {type(value).__name__}")

    def show(self, value: Any) -> str:
        return show_rate(tuple(value))
