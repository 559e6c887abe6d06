"""Query text → :class:`~icewatch.core.ports.SessionFilter`: the one parser of the
operator filters, shared by the dashboard, the CLI ``sessions`` commands and the
operator API so all three accept exactly the same text.

Query names (every one optional; an empty value is the same as an absent one):

* ``level`` — ``low``, ``medium``, ``high`` or ``pending`` (not reported yet);
  repeatable and/or comma-separated (``level=medium,high``).
* ``signal`` — one signal code (``ip.webrtc_http_mismatch``).
* ``ip`` — an address (any textual form; an IPv4-mapped IPv6 address means its IPv4)
  or a CIDR prefix (``203.0.113.0/24``, ``2001:db8::/32``; host bits are cleared).
* ``provider`` — a provider/organisation name (case-insensitive) or ``AS64500``.
* ``since`` / ``until`` — ``since <= created_at < until``; each an ISO 8601 date or
  time (``2026-11-28``, ``2026-11-28T09:30``, ``2026-11-28T09:30:00.5+01:00``; no zone
  means UTC), Unix epoch seconds (``1795000000``), or a relative duration meaning "that
  long before now" (``30m``, ``24h``, ``7d``, ``2w``, ``90s``).
* ``ua`` — the claimed browser family (case-insensitive: ``Chrome``, ``Firefox``).

Anything else in ``params`` (``cursor``, ``limit``, ``format``…) is ignored. Bad input
raises :class:`~icewatch.core.errors.ParseError` whose ``field`` is the query name.
Pure: the caller passes ``now``.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence

from icewatch.core.addr import IPNetwork, parse_ip
from icewatch.core.errors import AddressParseError, ParseError
from icewatch.core.ports import SessionFilter

__all__ = [
    "FILTER_NAMES",
    "LEVEL_NAMES",
    "MAX_VALUE",
    "filter_params",
    "parse_duration",
    "parse_filter",
    "parse_network",
    "parse_time",
]

#: The query names :func:`parse_filter` reads.
FILTER_NAMES = ("level", "signal", "ip", "provider", "since", "until", "ua")
#: The levels a filter accepts.
LEVEL_NAMES = ("low", "medium", "high", "pending")
#: Longest value of one query parameter.
MAX_VALUE = 200
#: Most values of one repeatable parameter.
MAX_VALUES = 16

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^(\d{1,9}(?:\.\d{1,6})?)\s*([smhdw]?)$")
_EPOCH = re.compile(r"^-?\d{1,12}(?:\.\d{1,9})?$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_CODE = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: Latest time accepted (year 9999), so arithmetic stays exact and bounded.
_MAX_EPOCH = 253402300799.0


def _values(params: Mapping[str, str | Sequence[str]], name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    items = [raw] if isinstance(raw, str) else list(raw)
    if len(items) > MAX_VALUES:
        raise ParseError(name, f"given more than {MAX_VALUES} times")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ParseError(name, "not text")
        if len(item) > MAX_VALUE:
            raise ParseError(name, f"longer than {MAX_VALUE} characters")
        item = item.strip()
        if item:
            out.append(item)
    return out


def _one(params: Mapping[str, str | Sequence[str]], name: str) -> str | None:
    values = _values(params, name)
    if len(set(values)) > 1:
        raise ParseError(name, "give one value")
    return values[0] if values else None


def parse_duration(text: str, *, field: str = "duration") -> float:
    """Seconds of a duration: ``90``, ``90s``, ``30m``, ``24h``, ``7d``, ``2w``
    (a bare number is seconds); raise :class:`ParseError`."""
    if not isinstance(text, str) or len(text) > MAX_VALUE:
        raise ParseError(field, "not a duration")
    m = _DURATION.match(text.strip().lower())
    if m is None:
        raise ParseError(
            field, f"not a duration: {text[:40]!r} (a number with s, m, h, d or w, e.g. 24h)"
        )
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def parse_time(text: str, now: float, *, field: str = "time") -> float:
    """Unix seconds of an ISO 8601 date/time (UTC unless a zone is given), epoch
    seconds, or a relative duration before ``now``; raise :class:`ParseError`."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_VALUE:
        raise ParseError(field, "not a time")
    text = text.strip()
    if _EPOCH.match(text):
        value = float(text)
    elif (m := _ISO.match(text.upper())) is not None:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hh = int(m.group(4) or 0)
        mi = int(m.group(5) or 0)
        ss = int(m.group(6) or 0)
        frac = float(f"0.{m.group(7)}") if m.group(7) else 0.0
        if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo)):
            raise ParseError(field, f"no such date: {text[:40]!r}")
        if hh > 23 or mi > 59 or ss > 59:
            raise ParseError(field, f"no such time of day: {text[:40]!r}")
        offset = 0
        zone = m.group(8)
        if zone and zone != "Z":
            digits = zone[1:].replace(":", "")
            zh, zm = int(digits[:2]), int(digits[2:])
            if zh > 23 or zm > 59:
                raise ParseError(field, f"bad UTC offset in {text[:40]!r}")
            offset = (zh * 3600 + zm * 60) * (1 if zone[0] == "+" else -1)
        value = _days_from_civil(y, mo, d) * 86400.0 + hh * 3600 + mi * 60 + ss + frac - offset
    else:
        relative = text[1:] if text.startswith("-") else text
        try:
            value = now - parse_duration(relative, field=field)
        except ParseError:
            raise ParseError(
                field,
                f"not a time: {text[:40]!r} (ISO 8601 like 2026-11-28T09:30Z, epoch "
                "seconds, or a duration before now like 24h or 7d)",
            ) from None
    if not math.isfinite(value) or abs(value) > _MAX_EPOCH:
        raise ParseError(field, "out of range")
    return value


def parse_network(text: str, *, field: str = "ip") -> IPNetwork:
    """An address (a /32 or /128) or a CIDR prefix (host bits cleared); an IPv4-mapped
    IPv6 address or prefix (``::ffff:192.0.2.0/120``) means the IPv4 one."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_VALUE:
        raise ParseError(field, "not an address or prefix")
    address, sep, length = text.strip().partition("/")
    try:
        parsed = parse_ip(address)
    except AddressParseError as exc:
        raise ParseError(field, exc.reason) from None
    if parsed.zone is not None:
        raise ParseError(field, "a zone id has no place in a filter")
    ip = parsed.ip
    if not sep:
        return ipaddress.ip_network(ip)
    if not (0 < len(length) <= 3 and length.isascii() and length.isdigit()):
        raise ParseError(field, f"bad prefix length in {text[:60]!r}")
    plen = int(length)
    if parsed.mapped is not None:
        if not 96 <= plen <= 128:
            raise ParseError(field, "an IPv4-mapped prefix needs a length of 96..128")
        plen -= 96
    bits = 32 if ip.version == 4 else 128
    if plen > bits:
        raise ParseError(field, f"prefix length /{plen} over {bits}")
    return ipaddress.ip_network(f"{ip}/{plen}", strict=False)


def parse_filter(params: Mapping[str, str | Sequence[str]], now: float) -> SessionFilter:
    """The :class:`SessionFilter` the query parameters ask for (see the module doc)."""
    levels: set[str] = set()
    for value in _values(params, "level"):
        for part in value.split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part not in LEVEL_NAMES:
                raise ParseError(
                    "level", f"unknown level {part[:20]!r} (one of {', '.join(LEVEL_NAMES)})"
                )
            levels.add(part)
    signal = _one(params, "signal")
    if signal is not None and not _CODE.match(signal):
        raise ParseError("signal", "not a signal code (letters, digits, '.', '_', '-')")
    ip_text = _one(params, "ip")
    network = None if ip_text is None else parse_network(ip_text)
    provider = _one(params, "provider")
    since_text = _one(params, "since")
    until_text = _one(params, "until")
    since = None if since_text is None else parse_time(since_text, now, field="since")
    until = None if until_text is None else parse_time(until_text, now, field="until")
    if since is not None and until is not None and until < since:
        raise ParseError("until", "is before since")
    ua = _one(params, "ua")
    return SessionFilter(
        levels=frozenset(levels),
        signal=signal,
        network=network,
        provider=provider,
        since=since,
        until=until,
        ua_family=ua,
    )


def filter_params(where: SessionFilter) -> dict[str, str]:
    """The query parameters that :func:`parse_filter` reads back as ``where`` (times as
    epoch seconds): for links such as "next page" or a chart's drill-down."""
    out: dict[str, str] = {}
    if where.levels:
        out["level"] = ",".join(x for x in LEVEL_NAMES if x in where.levels)
    if where.signal is not None:
        out["signal"] = where.signal
    if where.network is not None:
        net = where.network
        out["ip"] = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
    if where.provider is not None:
        out["provider"] = where.provider
    if where.since is not None:
        out["since"] = _epoch_text(where.since)
    if where.until is not None:
        out["until"] = _epoch_text(where.until)
    if where.ua_family is not None:
        out["ua"] = where.ua_family
    return out


def _epoch_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
