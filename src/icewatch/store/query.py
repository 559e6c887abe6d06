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
from dataclasses import replace
from typing import Any

from icewatch.core.addr import IPNetwork
from icewatch.core.errors import ParseError
from icewatch.core.ports import SessionFilter
from icewatch.store.index import network_range, provider_key

__all__ = ["LEVELS", "MAX_FILTER_TEXT", "check_filter", "page_sql", "where_sql"]

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


def page_sql(
    where: SessionFilter,
    columns: str,
    *,
    limit: int,
    after: tuple[float, str] | None = None,
    aliases: Sequence[IPNetwork] = (),
) -> tuple[str, list[Any]]:
    """One newest-first page (``limit`` rows, keyset ``after``) of ``columns`` (on
    ``s``) of the sessions ``where`` matches.

    With a ``signal`` or ``provider`` condition the page is read *from that table's
    index* (``(code|name, created_at)``, whose entries end with the session id) in
    ``created_at, id`` order, joined to ``sessions`` — so a page costs ``limit`` index
    steps whether the value is common or rare, instead of collecting every match and
    sorting it. Otherwise the ``sessions_by_created`` index drives."""
    driver: tuple[str, str, str] | None = None
    rest = where
    if where.signal is not None:
        driver = ("session_signals", "code", where.signal.strip())
        rest = replace(where, signal=None)
    elif where.provider is not None:
        driver = ("session_providers", "name", provider_key(where.provider))
        rest = replace(where, provider=None)
    check_filter(where)
    condition, params = where_sql(rest, aliases)
    if driver is None:
        if after is not None:
            condition += " AND (s.created_at, s.id) < (?, ?)"
            params = [*params, *after]
        sql = (
            f"SELECT {columns} FROM sessions AS s WHERE {condition}"  # noqa: S608
            " ORDER BY s.created_at DESC, s.id DESC LIMIT ?"
        )
        return sql, [*params, limit]
    table, key, value = driver
    lead = [f"g.{key} = ?"]
    lead_params: list[Any] = [value]
    if where.since is not None:
        lead.append("g.created_at >= ?")
        lead_params.append(float(where.since))
    if where.until is not None:
        lead.append("g.created_at < ?")
        lead_params.append(float(where.until))
    if after is not None:
        lead.append("(g.created_at, g.session_id) < (?, ?)")
        lead_params.extend(after)
    sql = (
        f"SELECT {columns} FROM {table} AS g CROSS JOIN sessions AS s"  # noqa: S608
        f" ON s.id = g.session_id WHERE {' AND '.join(lead)} AND {condition}"
        " ORDER BY g.created_at DESC, g.session_id DESC LIMIT ?"
    )
    return sql, [*lead_params, *params, limit]
