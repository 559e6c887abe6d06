"""The expected special-purpose table, transcribed independently of the implementation.

Sources: IANA IPv4 and IPv6 Special-Purpose Address Registries (revision 2025-10-09),
IANA IPv4 Multicast Address Space (224.0.0.0/4), IANA IPv6 Address Space (ff00::/8,
fec0::/10 and the "Reserved by IETF" blocks). Used by the registry and classify tests,
including a slow linear-scan reference lookup.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from icewatch.core.netclass import Category

C = Category


class Expected(NamedTuple):
    prefix: str
    category: Category
    name: str
    sample: str
    #: the registry's "Globally Reachable" column: True, False or None (N/A / removed / none)
    reachable: bool | None


EXPECTED_V4: list[Expected] = [
    Expected("0.0.0.0/8", C.THIS_NETWORK, '"This network"', "0.1.2.3", False),
    Expected("0.0.0.0/32", C.UNSPECIFIED, '"This host on this network"', "0.0.0.0", False),
    Expected("10.0.0.0/8", C.PRIVATE, "Private-Use", "10.20.30.40", False),
    Expected("100.64.0.0/10", C.CGNAT, "Shared Address Space", "100.100.1.1", False),
    Expected("127.0.0.0/8", C.LOOPBACK, "Loopback", "127.0.0.1", False),
    Expected("169.254.0.0/16", C.LINK_LOCAL, "Link Local", "169.254.169.254", False),
    Expected("172.16.0.0/12", C.PRIVATE, "Private-Use", "172.20.1.1", False),
    Expected("192.0.0.0/24", C.IETF_PROTOCOL, "IETF Protocol Assignments", "192.0.0.100", False),
    Expected("192.0.0.0/29", C.IETF_PROTOCOL, "IPv4 Service Continuity Prefix", "192.0.0.2", False),
    Expected("192.0.0.8/32", C.IETF_PROTOCOL, "IPv4 dummy address", "192.0.0.8", False),
    Expected("192.0.0.9/32", C.IETF_PROTOCOL, "Port Control Protocol Anycast", "192.0.0.9", True),
    Expected(
        "192.0.0.10/32",
        C.IETF_PROTOCOL,
        "Traversal Using Relays around NAT Anycast",
        "192.0.0.10",
        True,
    ),
    Expected("192.0.0.170/32", C.IETF_PROTOCOL, "NAT64/DNS64 Discovery", "192.0.0.170", False),
    Expected("192.0.0.171/32", C.IETF_PROTOCOL, "NAT64/DNS64 Discovery", "192.0.0.171", False),
    Expected("192.0.2.0/24", C.DOCUMENTATION, "Documentation (TEST-NET-1)", "192.0.2.1", False),
    Expected("192.31.196.0/24", C.IETF_PROTOCOL, "AS112-v4", "192.31.196.1", True),
    Expected("192.52.193.0/24", C.IETF_PROTOCOL, "AMT", "192.52.193.1", True),
    Expected("192.88.99.0/24", C.RESERVED, "Deprecated (6to4 Relay Anycast)", "192.88.99.1", None),
    Expected("192.88.99.2/32", C.IETF_PROTOCOL, "6a44-relay anycast address", "192.88.99.2", False),
    Expected("192.168.0.0/16", C.PRIVATE, "Private-Use", "192.168.1.1", False),
    Expected(
        "192.175.48.0/24", C.IETF_PROTOCOL, "Direct Delegation AS112 Service", "192.175.48.6", True
    ),
    Expected("198.18.0.0/15", C.BENCHMARKING, "Benchmarking", "198.19.0.1", False),
    Expected(
        "198.51.100.0/24", C.DOCUMENTATION, "Documentation (TEST-NET-2)", "198.51.100.7", False
    ),
    Expected("203.0.113.0/24", C.DOCUMENTATION, "Documentation (TEST-NET-3)", "203.0.113.9", False),
    Expected("224.0.0.0/4", C.MULTICAST, "Multicast", "224.0.0.251", None),
    Expected("240.0.0.0/4", C.RESERVED, "Reserved", "250.1.2.3", False),
    Expected("255.255.255.255/32", C.RESERVED, "Limited Broadcast", "255.255.255.255", False),
]

EXPECTED_V6: list[Expected] = [
    Expected("::1/128", C.LOOPBACK, "Loopback Address", "::1", False),
    Expected("::/128", C.UNSPECIFIED, "Unspecified Address", "::", False),
    # IPv4-mapped: the sample is written in full hex so it reaches the v6 table only via the
    # row check below; classify_ip unwraps it (tested in test_netclass_classify).
    Expected("::ffff:0:0/96", C.IPV4_MAPPED, "IPv4-mapped Address", "::ffff:0:0", False),
    Expected("64:ff9b::/96", C.NAT64, "IPv4-IPv6 Translat.", "64:ff9b::c000:201", True),
    Expected("64:ff9b:1::/48", C.NAT64, "IPv4-IPv6 Translat.", "64:ff9b:1:2::3", False),
    Expected("100::/64", C.RESERVED, "Discard-Only Address Block", "100::dead", False),
    Expected("100:0:0:1::/64", C.RESERVED, "Dummy IPv6 Prefix", "100:0:0:1::1", False),
    Expected("2001::/23", C.IETF_PROTOCOL, "IETF Protocol Assignments", "2001:100::1", False),
    Expected("2001::/32", C.TEREDO, "TEREDO", "2001:0:4136:e378:8000:63bf:3fff:fdd2", None),
    Expected("2001:1::1/128", C.IETF_PROTOCOL, "Port Control Protocol Anycast", "2001:1::1", True),
    Expected(
        "2001:1::2/128",
        C.IETF_PROTOCOL,
        "Traversal Using Relays around NAT Anycast",
        "2001:1::2",
        True,
    ),
    Expected(
        "2001:1::3/128",
        C.IETF_PROTOCOL,
        "DNS-SD Service Registration Protocol Anycast",
        "2001:1::3",
        True,
    ),
    Expected("2001:2::/48", C.BENCHMARKING, "Benchmarking", "2001:2:0:1::1", False),
    Expected("2001:3::/32", C.IETF_PROTOCOL, "AMT", "2001:3::1", True),
    Expected("2001:4:112::/48", C.IETF_PROTOCOL, "AS112-v6", "2001:4:112::1", True),
    Expected("2001:10::/28", C.RESERVED, "Deprecated (previously ORCHID)", "2001:10::1", None),
    Expected("2001:20::/28", C.IETF_PROTOCOL, "ORCHIDv2", "2001:2f:1::1", True),
    Expected(
        "2001:30::/28",
        C.IETF_PROTOCOL,
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        "2001:30::1",
        True,
    ),
    Expected("2001:db8::/32", C.DOCUMENTATION, "Documentation", "2001:db8::1", False),
    Expected("2002::/16", C.SIX_TO_FOUR, "6to4", "2002:c000:201::1", None),
    Expected(
        "2620:4f:8000::/48",
        C.IETF_PROTOCOL,
        "Direct Delegation AS112 Service",
        "2620:4f:8000::6",
        True,
    ),
    Expected("3fff::/20", C.DOCUMENTATION, "Documentation", "3fff:fff::1", False),
    Expected("5f00::/16", C.IETF_PROTOCOL, "Segment Routing (SRv6) SIDs", "5f00:1::1", False),
    Expected("fc00::/7", C.UNIQUE_LOCAL, "Unique-Local", "fd12:3456:789a::1", False),
    Expected("fe80::/10", C.LINK_LOCAL, "Link-Local Unicast", "fe80::1", False),
    # From the IPv6 Address Space registry.
    Expected("fec0::/10", C.RESERVED, "Reserved by IETF (deprecated site-local)", "fec0::1", None),
    Expected("ff00::/8", C.MULTICAST, "Multicast", "ff02::fb", None),
    Expected("::/8", C.RESERVED, "Reserved by IETF", "::2", None),
    Expected("100::/8", C.RESERVED, "Reserved by IETF", "1ff::1", None),
    Expected("200::/7", C.RESERVED, "Reserved by IETF", "300::1", None),
    Expected("400::/6", C.RESERVED, "Reserved by IETF", "400::1", None),
    Expected("800::/5", C.RESERVED, "Reserved by IETF", "f00::1", None),
    Expected("1000::/4", C.RESERVED, "Reserved by IETF", "1234::1", None),
    Expected("4000::/3", C.RESERVED, "Reserved by IETF", "4000::1", None),
    Expected("6000::/3", C.RESERVED, "Reserved by IETF", "7fff::1", None),
    Expected("8000::/3", C.RESERVED, "Reserved by IETF", "8000::1", None),
    Expected("a000::/3", C.RESERVED, "Reserved by IETF", "a000::1", None),
    Expected("c000::/3", C.RESERVED, "Reserved by IETF", "c000::1", None),
    Expected("e000::/4", C.RESERVED, "Reserved by IETF", "e000::1", None),
    Expected("f000::/5", C.RESERVED, "Reserved by IETF", "f000::1", None),
    Expected("f800::/6", C.RESERVED, "Reserved by IETF", "f800::1", None),
    Expected("fe00::/9", C.RESERVED, "Reserved by IETF", "fe00::1", None),
]

EXPECTED = EXPECTED_V4 + EXPECTED_V6
NETS = [(ipaddress.ip_network(e.prefix), e) for e in EXPECTED]


def reference(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Expected | None:
    """Slow reference lookup: linear scan of the expected table, longest prefix wins."""
    best: tuple[int, Expected] | None = None
    for net, exp in NETS:
        if (
            net.version == addr.version
            and addr in net
            and (best is None or net.prefixlen > best[0])
        ):
            best = (net.prefixlen, exp)
    return best[1] if best is not None else None


def reference_category(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Category:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    exp = reference(addr)
    return exp.category if exp is not None else C.PUBLIC
