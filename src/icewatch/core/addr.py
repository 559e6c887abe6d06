"""IP address parsing done once, at the edge.

Every textual form browsers and peers emit is accepted: dotted IPv4, IPv6 in full,
compressed (``2001:db8::1``), with an embedded IPv4 tail (``::ffff:192.0.2.1``) and
with a zone id (``fe80::1%eth0``). The zone is kept apart from the address; an
IPv4-mapped IPv6 address is unwrapped to its IPv4 with the mapping noted.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from icewatch.core.errors import AddressParseError

__all__ = ["IPAddress", "IPNetwork", "ParsedIP", "parse_ip", "try_parse_ip"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Longest textual IP accepted: a full IPv6 with an IPv4 tail is 45 characters; a
#: zone id (interface name or index) may add up to 64 more.
MAX_IP_TEXT = 45 + 1 + 64


@dataclass(frozen=True, slots=True)
class ParsedIP:
    """An IP address as it was written, and what it means.

    ``ip`` is the effective address: for an IPv4-mapped IPv6 address
    (``::ffff:a.b.c.d``) it is the IPv4 one and ``mapped`` holds the original.
    ``zone`` is the IPv6 zone id (``%eth0``) without the ``%``, or ``None``.
    """

    ip: IPAddress
    zone: str | None = None
    mapped: ipaddress.IPv6Address | None = None

    @property
    def version(self) -> int:
        return self.ip.version

    def __str__(self) -> str:
        if self.mapped is not None:
            return str(self.mapped)
        text = str(self.ip)
        return f"{text}%{self.zone}" if self.zone else text


def parse_ip(text: str) -> ParsedIP:
    """Parse an IPv4 or IPv6 address in any textual form; raise :class:`AddressParseError`."""
    if not isinstance(text, str):
        raise AddressParseError("address", "not a string")
    if not text or len(text) > MAX_IP_TEXT:
        raise AddressParseError("address", f"length {len(text)} out of range 1..{MAX_IP_TEXT}")
    if not text.isascii():
        raise AddressParseError("address", "non-ASCII characters")
    body, sep, zone = text.partition("%")
    zone_id: str | None = None
    if sep:
        if not zone or not all(c.isalnum() or c in "-_." for c in zone):
            raise AddressParseError("address", f"invalid zone id {zone!r}")
        zone_id = zone
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    try:
        ip = ipaddress.ip_address(body)
    except ValueError:
        raise AddressParseError("address", f"not an IP address: {text!r}") from None
    if zone_id is not None and ip.version == 4:
        raise AddressParseError("address", "zone id on an IPv4 address")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ParsedIP(ip=ip.ipv4_mapped, zone=zone_id, mapped=ip)
    return ParsedIP(ip=ip, zone=zone_id)


def try_parse_ip(text: str) -> ParsedIP | None:
    """Like :func:`parse_ip` but return ``None`` for anything that is not an IP address."""
    try:
        return parse_ip(text)
    except AddressParseError:
        return None
