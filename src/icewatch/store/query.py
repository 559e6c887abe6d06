"""A :class:`~icewatch.core.ports.SessionFilter` as SQL over the schema-3 index tables.

Every condition becomes one conjunct on ``sessions AS s``; the conditions on derived
rows are ``s.id IN (SELECT session_id FROM <table> WHERE ...)`` sub-selects driven by
that table's index (``code``/``ip``/``name`` first, then ``created_at`` so a time range
narrows them too). Values are always bound parameters.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Any

from icewatch.core.addr import IPNetwork
from icewatch.core.errors import ParseError
from icewatch.core.ports import SessionFilter
from icewatch.store.index import network_range, provider_key

__all__ = ["LEVELS", "MAX_FILTER_TEXT", "check_filter", "where_sql"]

#: The level names a filter accepts (``pending``: no verdict yet).
LEVELS = frozenset({"low", "medium", "high", "pending"})
#: Longest text condition (signal code, provider, browser family).
MAX_FILTER_TEXT = 200


def _text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_FILTER_TEXT:
        raise ParseError(field, f"must be 1..{MAX_FILTER_TEXT} characters")
    return value.strip()


def _time(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(field, "must be a finite number of Unix seconds")
    return float(value)


def check_filter(where: SessionFilter) -> SessionFilter:
    """``where`` if every condition is well-formed; else raise :class:`ParseError`."""
    if not isinstance(where, SessionFilter):
        raise ParseError("filter", "not a SessionFilter")
    for level in where.levels:
        if level not in LEVELS:
            raise ParseError(
                "level", f"unknown level {level!r} (one of {', '.join(sorted(LEVELS))})"
            )
    _text(where.signal, "signal")
    _text(where.provider, "provider")
    _text(where.ua_family, "ua")
    if where.network is not None and not isinstance(
        where.network, ipaddress.IPv4Network | ipaddress.IPv6Network
    ):
        raise ParseError("ip", "not a network")
    _time(where.since, "since")
    _time(where.until, "until")
    return where


def where_sql(where: SessionFilter, aliases: Sequence[IPNetwork] = ()) -> tuple[str, list[Any]]:
    """``(sql, params)``: a condition on ``sessions AS s`` (``"1"`` for the empty filter).
    ``aliases``: more networks the ``network`` condition also accepts (the stored form of
    the asked address under ``store_addresses``)."""
    check_filter(where)
    parts: list[str] = []
    params: list[Any] = []
    since = where.since
    until = where.until
    lo = -math.inf if since is None else float(since)
    hi = math.inf if until is None else float(until)
    if since is not None:
        parts.append("s.created_at >= ?")
        params.append(lo)
    if until is not None:
        parts.append("s.created_at < ?")
        params.append(hi)
    if where.levels:
        ors: list[str] = []
        named = sorted(level for level in where.levels if level != "pending")
        if named:
            ors.append(f"s.level IN ({','.join('?' * len(named))})")
            params.extend(named)
        if "pending" in where.levels:
            ors.append("s.level IS NULL")
        parts.append(f"({' OR '.join(ors)})")
    if where.ua_family is not None:
        parts.append("s.ua_family = ? COLLATE NOCASE")
        params.append(where.ua_family.strip())
    timed = " AND created_at >= ? AND created_at < ?"
    if where.signal is not None:
        parts.append(
            f"s.id IN (SELECT session_id FROM session_signals WHERE code = ?{timed})"  # noqa: S608
        )
        params.extend((where.signal.strip(), lo, hi))
    if where.network is not None:
        ranges = [network_range(n) for n in (where.network, *aliases)]
        between = " OR ".join("ip BETWEEN ? AND ?" for _ in ranges)
        parts.append(
            "s.id IN (SELECT session_id FROM session_addresses"  # noqa: S608
            f" WHERE ({between}){timed})"
        )
        for first, last in ranges:
            params.extend((first, last))
        params.extend((lo, hi))
    if where.provider is not None:
        parts.append(
            f"s.id IN (SELECT session_id FROM session_providers WHERE name = ?{timed})"  # noqa: S608
        )
        params.extend((provider_key(where.provider), lo, hi))
    return (" AND ".join(parts) or "1"), params
