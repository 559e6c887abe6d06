"""Round-trip-time samples as the page or the server reported them: cleaned and summed up.

Samples come from the page (claims) and from the server's peer; either may hold junk
(NaN, negative, absurdly large, thousands of them). :func:`rtt_samples` keeps the first
:data:`MAX_SAMPLES` finite values in ``[0, MAX_RTT_MS]``; :func:`rtt_stats` gives the
JSON summary used by the session document and the ``conn.rtt_mismatch`` evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["MAX_RTT_MS", "MAX_SAMPLES", "median", "rtt_samples", "rtt_stats"]

#: Samples looked at per path, and the largest RTT taken as a measurement (ms).
MAX_SAMPLES: Final = 64
MAX_RTT_MS: Final = 60_000.0


def rtt_samples(values: Iterable[object]) -> list[float]:
    """The usable samples of ``values``, in order (at most :data:`MAX_SAMPLES`)."""
    out: list[float] = []
    for v in values:
        if len(out) >= MAX_SAMPLES:
            break
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        f = float(v)
        if math.isfinite(f) and 0.0 <= f <= MAX_RTT_MS:
            out.append(f)
    return out


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2.0


def rtt_stats(values: Iterable[object]) -> dict[str, Any]:
    """``samples``, ``count``, ``min``, ``median`` (ms, rounded to 0.01) of the usable
    samples; ``min`` and ``median`` are ``null`` without any."""
    s = rtt_samples(values)
    return {
        "samples": [round(v, 2) for v in s],
        "count": len(s),
        "min": round(min(s), 2) if s else None,
        "median": round(median(s), 2) if s else None,
    }
