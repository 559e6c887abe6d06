"""Hints: well-known defaults of overlay networks and VPN clients, and transition mechanisms.

A tag says "this address is where X usually puts its interface". None of them is proof
of anything by itself: private ranges are shared by everybody, and any operator can
number a network like Tailscale's. Tags are evidence of low weight for the scoring
rules to combine with stronger signals; ``weight_hint`` says how specific a prefix is.

Only defaults documented in the products' own code, docs or configuration output are
listed (see ``source``). Deliberately *not* tagged:

* WireGuard has no default address (``wg-quick`` configs carry whatever the operator
  or the provider chose; ``10.0.0.0/24`` is a tutorial habit, not a default).
* ZeroTier's IPv4 pools are picked per network by the operator. Its two IPv6 schemes are
  recognisable by *shape* only (see :func:`zerotier_pattern`), so they get
  ``possible_zerotier``: an RFC 4193 ULA chosen at random has the same shape with
  probability 2**-16 (``fd`` mode) or 2**-48 (6plane).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "TAG_PREFIXES",
    "TAG_TABLE",
    "Tag",
    "TagInfo",
    "TagPrefix",
    "zerotier_pattern",
]

WeightHint = Literal["very_low", "low", "medium"]


class Tag(StrEnum):
    """A hint attached to a classification (stable labels: they appear in JSON)."""

    POSSIBLE_TAILSCALE = "possible_tailscale"
    TAILSCALE = "tailscale"
    POSSIBLE_ZEROTIER = "possible_zerotier"
    OPENVPN_DEFAULT = "openvpn_default"
    POSSIBLE_CLOUDFLARE_WARP = "possible_cloudflare_warp"
    CLOUDFLARE_WARP = "cloudflare_warp"
    POSSIBLE_MULLVAD = "possible_mullvad"
    MULLVAD = "mullvad"
    NAT64_WELL_KNOWN = "nat64_well_known"
    DS_LITE = "ds_lite"
    IPV4_MAPPED = "ipv4_mapped"


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What a tag means, how much to make of it, and where the default is documented."""

    tag: Tag
    description: str
    weight_hint: WeightHint
    source: str


#: Every tag, described for people and the docs. Never proof on its own.
TAG_TABLE: tuple[TagInfo, ...] = (
    TagInfo(
        Tag.POSSIBLE_TAILSCALE,
        "in 100.64.0.0/10, where Tailscale numbers its nodes; but that is the carriers' "
        "CGNAT range too, so most such addresses are not Tailscale",
        "very_low",
        "Tailscale docs (IP pool 100.64.0.0/10); RFC 6598",
    ),
    TagInfo(
        Tag.TAILSCALE,
        "in fd7a:115c:a1e0::/48, Tailscale's own IPv6 ULA prefix for tailnet nodes",
        "medium",
        "Tailscale docs (tailnet IPv6 prefix fd7a:115c:a1e0::/48)",
    ),
    TagInfo(
        Tag.POSSIBLE_ZEROTIER,
        "shaped like a ZeroTier managed IPv6 address: fd + 64-bit network id + 99:93 + "
        "40-bit node id (RFC 4193 mode), or fc + 32-bit network hash + node id + ::1 (6plane)",
        "low",
        "ZeroTierOne node/InetAddress.cpp makeIpv6rfc4193 / makeIpv66plane",
    ),
    TagInfo(
        Tag.OPENVPN_DEFAULT,
        "in 10.8.0.0/24, the tunnel subnet of OpenVPN's sample server.conf "
        "('server 10.8.0.0 255.255.255.0'), kept by many installers; also any private LAN",
        "low",
        "OpenVPN sample-config-files/server.conf",
    ),
    TagInfo(
        Tag.POSSIBLE_CLOUDFLARE_WARP,
        "172.16.0.2, the IPv4 the Cloudflare WARP client gives its tunnel interface; "
        "also an ordinary RFC 1918 address",
        "low",
        "WARP device registration API (interface.addresses.v4)",
    ),
    TagInfo(
        Tag.CLOUDFLARE_WARP,
        "in 2606:4700:110::/48, the IPv6 prefix of Cloudflare WARP tunnel interfaces",
        "medium",
        "WARP device registration API (interface.addresses.v6)",
    ),
    TagInfo(
        Tag.POSSIBLE_MULLVAD,
        "in 10.64.0.0/10, the pool Mullvad assigns WireGuard tunnel addresses from "
        "(gateway 10.64.0.1); a private range anybody may use",
        "very_low",
        "Mullvad WireGuard configs and mullvad-vpn app relay data (ipv4_gateway 10.64.0.1)",
    ),
    TagInfo(
        Tag.MULLVAD,
        "in fc00:bbbb:bbbb:bb01::/64, Mullvad's WireGuard tunnel IPv6 prefix",
        "medium",
        "Mullvad WireGuard configs and mullvad-vpn app relay data "
        "(ipv6_gateway fc00:bbbb:bbbb:bb01::1)",
    ),
    TagInfo(
        Tag.NAT64_WELL_KNOWN,
        "in the NAT64 well-known prefix 64:ff9b::/96: an IPv4 host reached through a NAT64 "
        "(the client network is IPv6-only, e.g. many mobile carriers)",
        "low",
        "RFC 6052 §2.1",
    ),
    TagInfo(
        Tag.DS_LITE,
        "in 192.0.0.0/29, the DS-Lite / IPv4 service continuity prefix (B4 and AFTR "
        "tunnel end-points): the client's IPv4 is carried over an ISP's IPv6 network",
        "low",
        "RFC 6333 §5.7, RFC 7335",
    ),
    TagInfo(
        Tag.IPV4_MAPPED,
        "written as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) and classified as the IPv4 "
        "inside; an artefact of dual-stack sockets",
        "very_low",
        "RFC 4291 §2.5.5.2",
    ),
)


@dataclass(frozen=True, slots=True)
class TagPrefix:
    """A prefix that earns a tag."""

    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    tag: Tag


def _tp(prefix: str, tag: Tag) -> TagPrefix:
    return TagPrefix(ipaddress.ip_network(prefix), tag)


#: The prefix-based tags (every matching prefix adds its tag, not only the most specific).
TAG_PREFIXES: tuple[TagPrefix, ...] = (
    _tp("100.64.0.0/10", Tag.POSSIBLE_TAILSCALE),
    _tp("fd7a:115c:a1e0::/48", Tag.TAILSCALE),
    _tp("10.8.0.0/24", Tag.OPENVPN_DEFAULT),
    _tp("172.16.0.2/32", Tag.POSSIBLE_CLOUDFLARE_WARP),
    _tp("2606:4700:110::/48", Tag.CLOUDFLARE_WARP),
    _tp("10.64.0.0/10", Tag.POSSIBLE_MULLVAD),
    _tp("fc00:bbbb:bbbb:bb01::/64", Tag.MULLVAD),
    _tp("64:ff9b::/96", Tag.NAT64_WELL_KNOWN),
    _tp("192.0.0.0/29", Tag.DS_LITE),
)

_ZT_RFC4193_MARK = 0x9993
_LOW48 = (1 << 48) - 1


def zerotier_pattern(value: int) -> bool:
    """Whether a 128-bit IPv6 value has the shape of a ZeroTier-assigned address.

    * RFC 4193 mode: ``fd`` + network id (64 bits) + ``99 93`` + node id (40 bits).
    * 6plane: ``fc`` + network hash (32 bits) + node id (40 bits) + ``00..00 01``
      (the node's own address; the rest of its /80 is for hosts behind it and is not
      recognisable).
    """
    top = value >> 120
    if top == 0xFD:
        return (value >> 40) & 0xFFFF == _ZT_RFC4193_MARK
    if top == 0xFC:
        return value & _LOW48 == 1
    return False
