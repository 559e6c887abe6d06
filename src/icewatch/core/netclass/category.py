"""What kind of address an IP is: one label per address, from the special-purpose tables."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CATEGORY_DESCRIPTIONS", "Category"]


class Category(StrEnum):
    """The category of an IP address (stable labels: they appear in JSON and the docs)."""

    PUBLIC = "public"
    PRIVATE = "private"
    CGNAT = "cgnat"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    UNIQUE_LOCAL = "unique_local"
    MULTICAST = "multicast"
    DOCUMENTATION = "documentation"
    BENCHMARKING = "benchmarking"
    RESERVED = "reserved"
    UNSPECIFIED = "unspecified"
    THIS_NETWORK = "this_network"
    TEREDO = "teredo"
    SIX_TO_FOUR = "6to4"
    NAT64 = "nat64"
    IPV4_MAPPED = "ipv4_mapped"
    IETF_PROTOCOL = "ietf_protocol"


#: One plain-language line per category, for people and the docs.
CATEGORY_DESCRIPTIONS: dict[Category, str] = {
    Category.PUBLIC: "ordinary unicast with no special-purpose entry: routable on the Internet",
    Category.PRIVATE: "RFC 1918 private-use IPv4 (10/8, 172.16/12, 192.168/16)",
    Category.CGNAT: "RFC 6598 shared address space 100.64/10: carrier-grade NAT, also used "
    "by overlay VPNs (Tailscale...)",
    Category.LOOPBACK: "the host itself (127/8, ::1)",
    Category.LINK_LOCAL: "valid on one link only (169.254/16, fe80::/10)",
    Category.UNIQUE_LOCAL: "IPv6 unique local address fc00::/7 (RFC 4193), the IPv6 private range",
    Category.MULTICAST: "a multicast group (224/4, ff00::/8), never a host",
    Category.DOCUMENTATION: "reserved for examples (TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20)",
    Category.BENCHMARKING: "reserved for benchmark labs (198.18/15, 2001:2::/48)",
    Category.RESERVED: "reserved, deprecated or never assigned: should not appear in real traffic",
    Category.UNSPECIFIED: "the unspecified address (0.0.0.0, ::): no address at all",
    Category.THIS_NETWORK: "0.0.0.0/8 'this network': a source-only placeholder",
    Category.TEREDO: "Teredo tunnel 2001::/32 (RFC 4380): IPv6 over UDP through a NAT, "
    "carries the client's public IPv4",
    Category.SIX_TO_FOUR: "6to4 2002::/16 (RFC 3056): IPv6 derived from a public IPv4",
    Category.NAT64: "IPv4/IPv6 translation prefix (64:ff9b::/96, 64:ff9b:1::/48): an IPv4 "
    "host seen through a NAT64",
    Category.IPV4_MAPPED: "::ffff:0:0/96, an IPv4 address written in IPv6 form (classified as "
    "its IPv4 instead)",
    Category.IETF_PROTOCOL: "an IETF protocol assignment (anycast services, AS112, AMT, ORCHID, "
    "SRv6...)",
}
