"""The special-purpose address tables, as data.

Sources, transcribed by hand (no network access at run time):

* **IANA IPv4 Special-Purpose Address Registry** (``iana-ipv4-special-registry``,
  RFC 6890 as updated by RFC 8190), revision 2025-10-09 as transcribed in
  public frozen copies of the registry CSV (it includes the 0.0.0.0/32 split
  from 0.0.0.0/8 and the 192.88.99.2/32 6a44 entry). The IANA page itself
  could not be read when this table was written: re-check on the next update.
* **IANA IPv6 Special-Purpose Address Registry** (``iana-ipv6-special-registry``),
  "Last Updated 2025-10-09" (includes 100:0:0:1::/64 from RFC 9780, 2001:1::3/128
  from RFC 9665, 3fff::/20 from RFC 9637, 5f00::/16 from RFC 9602).
* Rows the special-purpose registries do not hold, so that every address has an
  answer: multicast 224.0.0.0/4 (IANA IPv4 Multicast Address Space, RFC 5771) and,
  from the **IANA Internet Protocol Version 6 Address Space** registry (RFC 4291),
  ff00::/8 multicast, fec0::/10 (deprecated site-local, RFC 3879) and every
  "Reserved by IETF" block outside 2000::/3.

An address that matches no row is ordinary public unicast (IPv4 anywhere, IPv6
inside 2000::/3). The IPv6 "Reserved by IETF" rows cover everything outside
2000::/3, so an unlisted address there comes out ``reserved``.

Flags are the registry's five booleans (RFC 8190 §2): ``source``, ``destination``,
``forwardable``, ``globally_reachable``, ``reserved_by_protocol``. ``None`` means
the registry gives no boolean: "N/A" (Teredo, 6to4: it depends on the embedded
IPv4), removed (deprecated 192.88.99.0/24, 2001:10::/28), or a row from another
registry that has no such columns.

When the registries change, update the rows here *and* the expected table in
``tests/core/netclass/test_netclass_registry.py`` (it is written independently on
purpose, so a wrong row fails a test).
"""

# The tables below are aligned columns, one registry entry per line: wider than 100.
# ruff: noqa: E501

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from icewatch.core.netclass.category import Category

__all__ = [
    "IPV4_REGISTRY_DATE",
    "IPV4_ROWS",
    "IPV6_REGISTRY_DATE",
    "IPV6_ROWS",
    "RegistrySource",
    "SpecialPurposeRow",
]

#: Revision of the IANA registries the rows below were checked against.
IPV4_REGISTRY_DATE = "2025-10-09"
IPV6_REGISTRY_DATE = "2025-10-09"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RegistrySource(StrEnum):
    """Which published table a row comes from."""

    IANA_IPV4_SPECIAL = "iana-ipv4-special-registry"
    IANA_IPV6_SPECIAL = "iana-ipv6-special-registry"
    IANA_IPV4_MULTICAST = "multicast-addresses"
    IANA_IPV6_ADDRESS_SPACE = "ipv6-address-space"


@dataclass(frozen=True, slots=True)
class SpecialPurposeRow:
    """One registry entry: a prefix, what it is, and the registry's flags."""

    prefix: Network
    category: Category
    name: str
    rfc: str
    source: RegistrySource
    source_ok: bool | None = None
    destination_ok: bool | None = None
    forwardable: bool | None = None
    globally_reachable: bool | None = None
    reserved_by_protocol: bool | None = None


_FLAG = {"T": True, "F": False, "-": None}


def _row(
    prefix: str, category: Category, name: str, rfc: str, flags: str, source: RegistrySource
) -> SpecialPurposeRow:
    """Build a row; ``flags`` spells source/destination/forwardable/global/reserved as T, F, -."""
    src, dst, fwd, glob, rsv = (_FLAG[c] for c in flags)
    return SpecialPurposeRow(
        prefix=ipaddress.ip_network(prefix),
        category=category,
        name=name,
        rfc=rfc,
        source=source,
        source_ok=src,
        destination_ok=dst,
        forwardable=fwd,
        globally_reachable=glob,
        reserved_by_protocol=rsv,
    )


_V4 = RegistrySource.IANA_IPV4_SPECIAL
_V6 = RegistrySource.IANA_IPV6_SPECIAL
_MC4 = RegistrySource.IANA_IPV4_MULTICAST
_AS6 = RegistrySource.IANA_IPV6_ADDRESS_SPACE
C = Category

# fmt: off
#: IPv4 rows: the IANA IPv4 Special-Purpose Address Registry (2025-10-09), one row per
#: entry (the two-address NAT64/DNS64 entry is two rows), plus multicast.
#:                  prefix                category            name                                       RFC                         S D F G R
IPV4_ROWS: tuple[SpecialPurposeRow, ...] = (
    _row("0.0.0.0/8",          C.THIS_NETWORK,  '"This network"',                          "RFC 791 §3.2",             "TFFFT", _V4),
    _row("0.0.0.0/32",         C.UNSPECIFIED,   '"This host on this network"',             "RFC 1122 §3.2.1.3",        "TFFFT", _V4),
    _row("10.0.0.0/8",         C.PRIVATE,       "Private-Use",                             "RFC 1918",                 "TTTFF", _V4),
    _row("100.64.0.0/10",      C.CGNAT,         "Shared Address Space",                    "RFC 6598",                 "TTTFF", _V4),
    _row("127.0.0.0/8",        C.LOOPBACK,      "Loopback",                                "RFC 1122 §3.2.1.3",        "FFFFT", _V4),
    _row("169.254.0.0/16",     C.LINK_LOCAL,    "Link Local",                              "RFC 3927",                 "TTFFT", _V4),
    _row("172.16.0.0/12",      C.PRIVATE,       "Private-Use",                             "RFC 1918",                 "TTTFF", _V4),
    _row("192.0.0.0/24",       C.IETF_PROTOCOL, "IETF Protocol Assignments",               "RFC 6890 §2.1",            "FFFFF", _V4),
    _row("192.0.0.0/29",       C.IETF_PROTOCOL, "IPv4 Service Continuity Prefix",          "RFC 7335",                 "TTTFF", _V4),
    _row("192.0.0.8/32",       C.IETF_PROTOCOL, "IPv4 dummy address",                      "RFC 7600",                 "TFFFF", _V4),
    _row("192.0.0.9/32",       C.IETF_PROTOCOL, "Port Control Protocol Anycast",           "RFC 7723",                 "TTTTF", _V4),
    _row("192.0.0.10/32",      C.IETF_PROTOCOL, "Traversal Using Relays around NAT Anycast", "RFC 8155",               "TTTTF", _V4),
    _row("192.0.0.170/32",     C.IETF_PROTOCOL, "NAT64/DNS64 Discovery",                   "RFC 8880, RFC 7050 §2.2",  "FFFFT", _V4),
    _row("192.0.0.171/32",     C.IETF_PROTOCOL, "NAT64/DNS64 Discovery",                   "RFC 8880, RFC 7050 §2.2",  "FFFFT", _V4),
    _row("192.0.2.0/24",       C.DOCUMENTATION, "Documentation (TEST-NET-1)",              "RFC 5737",                 "FFFFF", _V4),
    _row("192.31.196.0/24",    C.IETF_PROTOCOL, "AS112-v4",                                "RFC 7535",                 "TTTTF", _V4),
    _row("192.52.193.0/24",    C.IETF_PROTOCOL, "AMT",                                     "RFC 7450",                 "TTTTF", _V4),
    _row("192.88.99.0/24",     C.RESERVED,      "Deprecated (6to4 Relay Anycast)",         "RFC 7526",                 "-----", _V4),
    _row("192.88.99.2/32",     C.IETF_PROTOCOL, "6a44-relay anycast address",              "RFC 6751",                 "TTTFF", _V4),
    _row("192.168.0.0/16",     C.PRIVATE,       "Private-Use",                             "RFC 1918",                 "TTTFF", _V4),
    _row("192.175.48.0/24",    C.IETF_PROTOCOL, "Direct Delegation AS112 Service",         "RFC 7534",                 "TTTTF", _V4),
    _row("198.18.0.0/15",      C.BENCHMARKING,  "Benchmarking",                            "RFC 2544",                 "TTTFF", _V4),
    _row("198.51.100.0/24",    C.DOCUMENTATION, "Documentation (TEST-NET-2)",              "RFC 5737",                 "FFFFF", _V4),
    _row("203.0.113.0/24",     C.DOCUMENTATION, "Documentation (TEST-NET-3)",              "RFC 5737",                 "FFFFF", _V4),
    _row("224.0.0.0/4",        C.MULTICAST,     "Multicast",                               "RFC 5771",                 "-----", _MC4),
    _row("240.0.0.0/4",        C.RESERVED,      "Reserved",                                "RFC 1112 §4",              "FFFFT", _V4),
    _row("255.255.255.255/32", C.RESERVED,      "Limited Broadcast",                       "RFC 8190, RFC 919 §7",     "FTFFT", _V4),
)

#: IPv6 rows: the IANA IPv6 Special-Purpose Address Registry (2025-10-09), one row per
#: entry, plus multicast, deprecated site-local and the "Reserved by IETF" blocks of the
#: IPv6 Address Space registry (so everything outside 2000::/3 has a row).
IPV6_ROWS: tuple[SpecialPurposeRow, ...] = (
    _row("::1/128",            C.LOOPBACK,      "Loopback Address",                        "RFC 4291",                 "FFFFT", _V6),
    _row("::/128",             C.UNSPECIFIED,   "Unspecified Address",                     "RFC 4291",                 "TFFFT", _V6),
    _row("::ffff:0:0/96",      C.IPV4_MAPPED,   "IPv4-mapped Address",                     "RFC 4291",                 "FFFFT", _V6),
    _row("64:ff9b::/96",       C.NAT64,         "IPv4-IPv6 Translat.",                     "RFC 6052",                 "TTTTF", _V6),
    _row("64:ff9b:1::/48",     C.NAT64,         "IPv4-IPv6 Translat.",                     "RFC 8215",                 "TTTFF", _V6),
    _row("100::/64",           C.RESERVED,      "Discard-Only Address Block",              "RFC 6666",                 "TTTFF", _V6),
    _row("100:0:0:1::/64",     C.RESERVED,      "Dummy IPv6 Prefix",                       "RFC 9780",                 "TFFFF", _V6),
    _row("2001::/23",          C.IETF_PROTOCOL, "IETF Protocol Assignments",               "RFC 2928",                 "FFFFF", _V6),
    _row("2001::/32",          C.TEREDO,        "TEREDO",                                  "RFC 4380, RFC 8190",       "TTT-F", _V6),
    _row("2001:1::1/128",      C.IETF_PROTOCOL, "Port Control Protocol Anycast",           "RFC 7723",                 "TTTTF", _V6),
    _row("2001:1::2/128",      C.IETF_PROTOCOL, "Traversal Using Relays around NAT Anycast", "RFC 8155",               "TTTTF", _V6),
    _row("2001:1::3/128",      C.IETF_PROTOCOL, "DNS-SD Service Registration Protocol Anycast", "RFC 9665",            "TTTTF", _V6),
    _row("2001:2::/48",        C.BENCHMARKING,  "Benchmarking",                            "RFC 5180, Errata 1752",    "TTTFF", _V6),
    _row("2001:3::/32",        C.IETF_PROTOCOL, "AMT",                                     "RFC 7450",                 "TTTTF", _V6),
    _row("2001:4:112::/48",    C.IETF_PROTOCOL, "AS112-v6",                                "RFC 7535",                 "TTTTF", _V6),
    _row("2001:10::/28",       C.RESERVED,      "Deprecated (previously ORCHID)",          "RFC 4843",                 "-----", _V6),
    _row("2001:20::/28",       C.IETF_PROTOCOL, "ORCHIDv2",                                "RFC 7343",                 "TTTTF", _V6),
    _row("2001:30::/28",       C.IETF_PROTOCOL, "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374",      "TTTTF", _V6),
    _row("2001:db8::/32",      C.DOCUMENTATION, "Documentation",                           "RFC 3849",                 "FFFFF", _V6),
    _row("2002::/16",          C.SIX_TO_FOUR,   "6to4",                                    "RFC 3056",                 "TTT-F", _V6),
    _row("2620:4f:8000::/48",  C.IETF_PROTOCOL, "Direct Delegation AS112 Service",         "RFC 7534",                 "TTTTF", _V6),
    _row("3fff::/20",          C.DOCUMENTATION, "Documentation",                           "RFC 9637",                 "FFFFF", _V6),
    _row("5f00::/16",          C.IETF_PROTOCOL, "Segment Routing (SRv6) SIDs",             "RFC 9602",                 "TTTFF", _V6),
    _row("fc00::/7",           C.UNIQUE_LOCAL,  "Unique-Local",                            "RFC 4193, RFC 8190",       "TTTFF", _V6),
    _row("fe80::/10",          C.LINK_LOCAL,    "Link-Local Unicast",                      "RFC 4291",                 "TTFFT", _V6),
    # IANA IPv6 Address Space registry (no flag columns there).
    _row("fec0::/10",          C.RESERVED,      "Reserved by IETF (deprecated site-local)", "RFC 3879",                "-----", _AS6),
    _row("ff00::/8",           C.MULTICAST,     "Multicast",                               "RFC 4291",                 "-----", _AS6),
    _row("::/8",               C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("100::/8",            C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("200::/7",            C.RESERVED,      "Reserved by IETF",                        "RFC 4048",                 "-----", _AS6),
    _row("400::/6",            C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("800::/5",            C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("1000::/4",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("4000::/3",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("6000::/3",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("8000::/3",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("a000::/3",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("c000::/3",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("e000::/4",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("f000::/5",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("f800::/6",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
    _row("fe00::/9",           C.RESERVED,      "Reserved by IETF",                        "RFC 4291",                 "-----", _AS6),
)
# fmt: on
