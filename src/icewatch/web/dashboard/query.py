"""The dashboard's query string → a :class:`SessionFilter` (through the shared parser
``icewatch.core.filters.parse_filter``), plus the dashboard's own ``range`` shortcut."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from icewatch.core.errors import ParseError
from icewatch.core.filters import parse_filter
from icewatch.core.ports import SessionFilter
from icewatch.web.dashboard.views import RANGES

__all__ = ["FILTER_KEYS", "Query", "parse_query"]

#: The filter parameters shared with the CLI and the API, and the dashboard's ``range``.
FILTER_KEYS = ("level", "signal", "ip", "provider", "since", "until", "ua")
_RANGE_SECONDS = {value: seconds for value, _, seconds, _ in RANGES}
_MAX_VALUES = 8
_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed dashboard query: the filter, the raw values (to fill the form again and
    build links), and the time range picked (``""``: none)."""

    where: SessionFilter
    values: Mapping[str, tuple[str, ...]]
    range: str
    span: int  # seconds the overview covers

    def first(self, key: str) -> str:
        found = self.values.get(key, ())
        return found[0] if found else ""

    def levels(self) -> frozenset[str]:
        return self.where.levels

    def pairs(self, *, with_range: bool = True) -> list[tuple[str, str]]:
        """The query as ``(key, value)`` pairs, for links that keep the filters."""
        out = [(k, v) for k in FILTER_KEYS for v in self.values.get(k, ()) if v]
        if with_range and self.range:
            out.append(("range", self.range))
        return out


def parse_query(params: Sequence[tuple[str, str]], now: float, *, default_range: str = "") -> Query:
    """Parse the query string's filter parameters; raise :class:`ParseError` naming the
    field at fault. ``range`` (``24h``, ``7d``, ``30d``, ``all``) sets ``since`` to that
    long ago unless ``since`` is given."""
    values: dict[str, list[str]] = {}
    for key, value in params:
        if key not in (*FILTER_KEYS, "range"):
            continue
        value = value.strip()
        if len(value) > _MAX_CHARS:
            raise ParseError(key, f"longer than {_MAX_CHARS} characters")
        if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
            raise ParseError(key, "contains control characters")
        bucket = values.setdefault(key, [])
        if len(bucket) >= _MAX_VALUES:
            raise ParseError(key, f"given more than {_MAX_VALUES} times")
        if value:
            bucket.append(value)
    range_values = values.pop("range", [])
    picked = range_values[0] if range_values else default_range
    if picked and picked != "all" and picked not in _RANGE_SECONDS:
        raise ParseError("range", "must be one of 24h, 7d, 30d, all")
    where = parse_filter({k: v for k, v in values.items() if v}, now=now)
    span = _RANGE_SECONDS.get(picked, 0)
    if span and where.since is None:
        where = replace(where, since=now - span)
    if not span:
        low = where.since
        high = where.until if where.until is not None else now
        span = int(high - low) if low is not None and high > low else 30 * 86_400
    return Query(
        where=where,
        values={k: tuple(v) for k, v in values.items()},
        range="" if picked == "all" and not range_values else picked,
        span=span,
    )
