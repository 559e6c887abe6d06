"""``classify_ip``: which special-purpose range an address is in, and what that suggests.

Never ``ipaddress``'s ``is_private`` / ``is_global``: their answers changed between
CPython patch releases and disagree with the registries (CGNAT, multicast, NAT64,
Teredo, 3fff::/20). The answer comes from :mod:`icewatch.core.netclass.registry` alone,
most specific prefix first.

Lookup is a dict per prefix length, tried from the longest length down: about ten
dict probes for IPv4 and twenty for IPv6, no parsing beyond what ``ipaddress`` did.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from icewatch.core.addr import ParsedIP, parse_ip
from icewatch.core.netclass.category import Category
from icewatch.core.netclass.registry import IPV4_ROWS, IPV6_ROWS, SpecialPurposeRow
from icewatch.core.netclass.tags import TAG_PREFIXES, Tag, zerotier_pattern

__all__ = ["Classification", "EmbeddedIPv4", "classify_ip"]

IPv4Address = ipaddress.IPv4Address
IPv6Address = ipaddress.IPv6Address

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class EmbeddedIPv4:
    """An IPv4 address carried inside an IPv6 one by a transition mechanism.

    ``mechanism`` is :attr:`Category.TEREDO`, :attr:`Category.SIX_TO_FOUR` or
    :attr:`Category.NAT64`. For Teredo (RFC 4380 §4) ``address`` is the client's
    public IPv4 (the NAT's mapped address, stored bit-inverted in the last 32 bits),
    ``server`` the Teredo server (bits 32-63) and ``port`` the client's mapped UDP port
    (bits 80-95, also inverted). 6to4 (RFC 3056 §2) carries the site's IPv4 in bits
    16-47; the NAT64 well-known prefix (RFC 6052 §2.2, /96) in the last 32 bits.
    """

    mechanism: Category
    address: IPv4Address
    server: IPv4Address | None = None
    port: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "mechanism": str(self.mechanism),
            "address": str(self.address),
            "server": str(self.server) if self.server is not None else None,
            "port": self.port,
        }


@dataclass(frozen=True, slots=True)
class Classification:
    """What one IP address is.

    * ``address``: the effective address (the IPv4 one for an IPv4-mapped input),
      without zone id;
    * ``category``: from the most specific matching row, ``public`` when none matches;
    * ``row``: that registry row, or ``None`` for ordinary public unicast;
    * ``globally_reachable``: the row's "Globally Reachable" flag; ``True`` for public
      addresses; where the registry says N/A (Teredo, 6to4) it is that of the embedded
      IPv4, and ``False`` for rows without the flag (multicast, reserved);
    * ``tags``: hints (:class:`~icewatch.core.netclass.tags.Tag`), never proof;
    * ``mapped_from``: the ``::ffff:a.b.c.d`` address that was unwrapped, if any;
    * ``embedded_ipv4``: the IPv4 inside a Teredo, 6to4 or NAT64 (/96) address;
    * ``zone``: the IPv6 zone id (``eth0`` of ``fe80::1%eth0``), if one was given.
    """

    address: IPv4Address | IPv6Address
    category: Category
    row: SpecialPurposeRow | None
    globally_reachable: bool
    tags: tuple[Tag, ...] = ()
    mapped_from: IPv6Address | None = None
    embedded_ipv4: EmbeddedIPv4 | None = None
    zone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with lower-case keys (shape documented in docs/json-output.md)."""
        row = self.row
        return {
            "address": str(self.address),
            "category": str(self.category),
            "registry": None
            if row is None
            else {
                "name": row.name,
                "prefix": str(row.prefix),
                "rfc": row.rfc,
                "source": str(row.source),
            },
            "globally_reachable": self.globally_reachable,
            "tags": [str(tag) for tag in self.tags],
            "mapped_from": _mapped_text(self.mapped_from),
            "embedded_ipv4": self.embedded_ipv4.as_dict()
            if self.embedded_ipv4 is not None
            else None,
            "zone": self.zone,
        }


def _mapped_text(mapped: IPv6Address | None) -> str | None:
    """``::ffff:a.b.c.d`` in its conventional form (``str()`` gives ``::ffff:a00:1`` on 3.11)."""
    if mapped is None:
        return None
    v4 = mapped.ipv4_mapped
    return f"::ffff:{v4}" if v4 is not None else str(mapped)


# --- lookup tables -------------------------------------------------------------------

_Table = tuple[tuple[int, dict[int, _T]], ...]


def _index(entries: Iterable[tuple[int, int, _T]], bits: int) -> _Table[_T]:
    """Group ``(network int, prefix length, value)`` by length, longest first."""
    by_len: dict[int, dict[int, _T]] = {}
    for network, plen, value in entries:
        by_len.setdefault(plen, {})[network >> (bits - plen)] = value
    return tuple((bits - plen, by_len[plen]) for plen in sorted(by_len, reverse=True))


def _row_index(rows: Iterable[SpecialPurposeRow], bits: int) -> _Table[SpecialPurposeRow]:
    return _index(((int(r.prefix.network_address), r.prefix.prefixlen, r) for r in rows), bits)


def _tag_index(version: int, bits: int) -> _Table[Tag]:
    return _index(
        (
            (int(t.prefix.network_address), t.prefix.prefixlen, t.tag)
            for t in TAG_PREFIXES
            if t.prefix.version == version
        ),
        bits,
    )


_ROWS4 = _row_index(IPV4_ROWS, 32)
_ROWS6 = _row_index(IPV6_ROWS, 128)
_TAGS4 = _tag_index(4, 32)
_TAGS6 = _tag_index(6, 128)


def _most_specific(table: _Table[_T], value: int) -> _T | None:
    for shift, networks in table:
        found = networks.get(value >> shift)
        if found is not None:
            return found
    return None


def _all_matches(table: _Table[_T], value: int) -> list[_T]:
    found: list[_T] = []
    for shift, networks in table:
        hit = networks.get(value >> shift)
        if hit is not None:
            found.append(hit)
    return found


# --- embedded IPv4 -------------------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_MASK16 = 0xFFFF


def _embedded(category: Category, value: int, row: SpecialPurposeRow) -> EmbeddedIPv4 | None:
    if category is Category.TEREDO:
        # RFC 4380 §4: prefix(32) | server(32) | flags(16) | ~port(16) | ~client(32)
        return EmbeddedIPv4(
            mechanism=category,
            address=IPv4Address(~value & _MASK32),
            server=IPv4Address((value >> 64) & _MASK32),
            port=~(value >> 32) & _MASK16,
        )
    if category is Category.SIX_TO_FOUR:
        # RFC 3056 §2: 2002(16) | V4ADDR(32) | SLA ID(16) | interface ID(64)
        return EmbeddedIPv4(mechanism=category, address=IPv4Address((value >> 80) & _MASK32))
    if category is Category.NAT64 and row.prefix.prefixlen == 96:
        # RFC 6052 §2.2: with a /96 prefix the IPv4 is the last 32 bits. The local-use
        # 64:ff9b:1::/48 is subdivided by each operator, so its layout is unknown here.
        return EmbeddedIPv4(mechanism=category, address=IPv4Address(value & _MASK32))
    return None


# --- classify ------------------------------------------------------------------------


def _classify_v4(ip: IPv4Address, mapped: IPv6Address | None, zone: str | None) -> Classification:
    value = int(ip)
    row = _most_specific(_ROWS4, value)
    tags = _all_matches(_TAGS4, value)
    if mapped is not None:
        tags.append(Tag.IPV4_MAPPED)
    if row is None:
        return Classification(ip, Category.PUBLIC, None, True, tuple(tags), mapped, None, zone)
    reachable = row.globally_reachable is True
    return Classification(ip, row.category, row, reachable, tuple(tags), mapped, None, zone)


def _classify_v6(ip: IPv6Address, zone: str | None) -> Classification:
    value = int(ip)
    row = _most_specific(_ROWS6, value)
    tags = _all_matches(_TAGS6, value)
    if (
        value >> 121 == 0x7E  # fc00::/7, cheap pre-check
        and Tag.MULLVAD not in tags
        and Tag.TAILSCALE not in tags
        and zerotier_pattern(value)
    ):
        tags.append(Tag.POSSIBLE_ZEROTIER)
    if row is None:
        return Classification(ip, Category.PUBLIC, None, True, tuple(tags), None, None, zone)
    category = row.category
    embedded = _embedded(category, value, row)
    reachable = row.globally_reachable
    if reachable is None:
        reachable = (
            embedded is not None and _classify_v4(embedded.address, None, None).globally_reachable
        )
    return Classification(ip, category, row, reachable, tuple(tags), None, embedded, zone)


def classify_ip(addr: str | IPv4Address | IPv6Address | ParsedIP) -> Classification:
    """Classify one IP address against the special-purpose tables.

    Text goes through :func:`icewatch.core.addr.parse_ip` (any textual form, zone ids,
    brackets) and raises :class:`~icewatch.core.errors.AddressParseError` when it is not
    an address. Address objects never raise. IPv4-mapped addresses (``::ffff:a.b.c.d``)
    are classified as their IPv4, with ``mapped_from`` set and the ``ipv4_mapped`` tag.
    """
    zone: str | None = None
    mapped: IPv6Address | None = None
    if isinstance(addr, str):
        addr = parse_ip(addr)
    if isinstance(addr, ParsedIP):
        ip: IPv4Address | IPv6Address = addr.ip
        zone = addr.zone
        mapped = addr.mapped
    elif isinstance(addr, IPv4Address | IPv6Address):
        ip = addr
    else:
        raise TypeError(f"classify_ip() takes a str, an IP address or a ParsedIP, not {addr!r}")
    if isinstance(ip, IPv4Address):
        return _classify_v4(ip, mapped, zone)
    if ip.scope_id is not None:
        zone = zone or ip.scope_id
        ip = IPv6Address(int(ip))
    v4 = ip.ipv4_mapped
    if v4 is not None:
        return _classify_v4(v4, ip, zone)
    return _classify_v6(ip, zone)
