"""Decoding a candidate priority: what the 32 bits say about the address behind it.

RFC 8445 §5.1.2.1::

    priority = (2^24)*(type preference) + (2^8)*(local preference) + (2^0)*(256 - component ID)

    byte:   3                2                1                0
         +----------------+----------------+----------------+----------------+
         | type pref      |      local preference (16 bits) | 256 - component|
         +----------------+----------------+----------------+----------------+

libwebrtc (``Candidate::GetPriority``) fills the local preference as
``((nic_pref << 8) | addr_pref) + relay_pref``, where ``addr_pref`` is
``IPAddressPrecedence()`` of the candidate's *real* address — so an mDNS host candidate
still says whether it hides IPv4, global IPv6, a ULA, Teredo or 6to4. Its type
preferences (``IcePriorityValue``): host 126, host TCP 90, prflx 110, prflx TCP 80,
srflx 100, relay over UDP 2 / TCP 1 / TLS 0. ``relay_pref`` is the TURN server's rank
(first configured server highest), added on top of ``addr_pref``.

Firefox (nICEr, ``nr_ice_candidate_compute_priority``) lays the local preference out as
``(interface_pref << 8) | direction_or_server_pref``: host UDP ``0x7E7E00FF`` /
``0x7E7F00FF``, srflx ``0x647E1FFF`` (31 - STUN server index), TCP active host
``0x7D7EC0FF`` (RFC 6544 direction preference 6 << 5). Its type preferences: host 126,
host TCP 125, prflx 110, prflx TCP 109, srflx 100, srflx TCP 99, relay 5, relay TCP 0.

:func:`decode_priority` guesses which layout a value follows (:class:`EngineLayout`).
That is a heuristic: it checks that the bytes hold values the engine produces for that
candidate type and transport, and answers ``unknown`` when both or neither fit.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from icewatch.core.addr import IPAddress

__all__ = [
    "ADDRESS_PRECEDENCE",
    "AddressClass",
    "EngineLayout",
    "Priority",
    "address_precedence",
    "decode_priority",
    "network_adapter_from_cost",
]


class AddressClass(StrEnum):
    """The address class a libwebrtc ``addr_pref`` byte stands for (``IPAddressPrecedence``)."""

    IPV4 = "ipv4"  # 30 — also every IPv4-mapped address (::ffff:0:0/96), same value
    IPV6_GLOBAL = "ipv6_global"  # 40
    ULA = "ula"  # 50 — fc00::/7
    IPV6_LOOPBACK = "ipv6_loopback"  # 60 — ::1
    SIXTOFOUR = "6to4"  # 20 — 2002::/16
    TEREDO = "teredo"  # 10 — 2001::/32
    V4_COMPAT_OR_SITE_LOCAL = "v4_compat_or_site_local"  # 1 — ::/96, fec0::/10
    UNKNOWN = "unknown"


#: ``IPAddressPrecedence`` values (rtc_base/ip_address.cc). IPv4 and IPv4-mapped IPv6
#: both give 30, so a priority cannot tell them apart: 30 decodes as :attr:`AddressClass.IPV4`.
ADDRESS_PRECEDENCE: Final[dict[int, AddressClass]] = {
    30: AddressClass.IPV4,
    40: AddressClass.IPV6_GLOBAL,
    50: AddressClass.ULA,
    60: AddressClass.IPV6_LOOPBACK,
    20: AddressClass.SIXTOFOUR,
    10: AddressClass.TEREDO,
    1: AddressClass.V4_COMPAT_OR_SITE_LOCAL,
}
_PRECEDENCE_DESC = sorted(ADDRESS_PRECEDENCE, reverse=True)
#: TURN server ranks above this are not believed (a page configures a handful of servers).
_MAX_RELAY_PREFERENCE = 9


_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_V4_COMPAT = ipaddress.IPv6Network("::/96")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
_ULA = ipaddress.IPv6Network("fc00::/7")
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def address_precedence(ip: IPAddress) -> AddressClass:
    """The class libwebrtc's ``IPAddressPrecedence`` puts ``ip`` in."""
    if ip.version == 4:
        return AddressClass.IPV4
    if ip == ipaddress.IPv6Address("::1"):
        return AddressClass.IPV6_LOOPBACK
    if ip in _V4_MAPPED:
        return AddressClass.IPV4
    if ip in _V4_COMPAT or ip in _SITE_LOCAL:
        return AddressClass.V4_COMPAT_OR_SITE_LOCAL
    if ip in _TEREDO:
        return AddressClass.TEREDO
    if ip in _SIXTOFOUR:
        return AddressClass.SIXTOFOUR
    if ip in _ULA:
        return AddressClass.ULA
    return AddressClass.IPV6_GLOBAL


class EngineLayout(StrEnum):
    """Which ICE stack's priority layout a value fits (heuristic)."""

    LIBWEBRTC = "libwebrtc"
    FIREFOX = "firefox"
    UNKNOWN = "unknown"


# Type preferences per (candidate type, transport).
_LIBWEBRTC_TYPE_PREF: Final[dict[tuple[str, str], frozenset[int]]] = {
    ("host", "udp"): frozenset({126}),
    ("host", "tcp"): frozenset({90}),
    ("prflx", "udp"): frozenset({110}),
    ("prflx", "tcp"): frozenset({80}),
    ("srflx", "udp"): frozenset({100}),
    ("srflx", "tcp"): frozenset({100}),
    ("relay", "udp"): frozenset({0, 1, 2}),
    ("relay", "tcp"): frozenset({0, 1, 2}),
}
_FIREFOX_TYPE_PREF: Final[dict[tuple[str, str], frozenset[int]]] = {
    ("host", "udp"): frozenset({126}),
    ("host", "tcp"): frozenset({125}),
    ("prflx", "udp"): frozenset({110}),
    ("prflx", "tcp"): frozenset({109}),
    ("srflx", "udp"): frozenset({100}),
    ("srflx", "tcp"): frozenset({99}),
    ("relay", "udp"): frozenset({5}),
    ("relay", "tcp"): frozenset({0}),
}
# RFC 6544 direction preferences as nICEr shifts them into byte 1 (active/passive/so).
_FIREFOX_TCP_DIRECTION = frozenset({6 << 5, 4 << 5, 2 << 5})
# nICEr puts 31 - (STUN/TURN server index) into byte 1 of srflx/relay candidates.
_FIREFOX_SERVER_PREF_MIN = 16


@dataclass(frozen=True, slots=True)
class Priority:
    """A priority split into its RFC 8445 parts, with the libwebrtc reading beside it.

    ``nic_preference``, ``address_preference``, ``address_class`` and
    ``relay_preference`` read the local preference the libwebrtc way; ``address_class``
    is :attr:`AddressClass.UNKNOWN` unless the layout is libwebrtc. ``relay_preference``
    is ``None`` except for libwebrtc relay candidates. ``rfc_range`` is False when the
    value breaks RFC 8445 (priority outside 1..2**31-1 or a type preference above 126).
    """

    value: int
    type_preference: int
    local_preference: int
    component: int
    engine_layout: EngineLayout
    nic_preference: int
    address_preference: int
    address_class: AddressClass
    relay_preference: int | None
    rfc_range: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "type_preference": self.type_preference,
            "local_preference": self.local_preference,
            "component": self.component,
            "engine_layout": self.engine_layout.value,
            "nic_preference": self.nic_preference,
            "address_preference": self.address_preference,
            "address_class": self.address_class.value,
            "relay_preference": self.relay_preference,
            "rfc_range": self.rfc_range,
        }


def decode_priority(
    priority: int,
    *,
    candidate_type: str = "host",
    transport: str = "udp",
    address: IPAddress | None = None,
) -> Priority:
    """Decode ``priority`` (0..2**32-1) for a candidate of the given type and transport.

    ``candidate_type`` and ``transport`` are the lower-case labels (``"srflx"``,
    ``"tcp"``); they pick the type preferences each engine would use. ``address``, when
    the candidate shows an IP, must agree with a libwebrtc address preference for that
    reading to count (libwebrtc computes it from the candidate's own address).

    When both layouts fit (a Firefox srflx from its second STUN server has byte 1 = 30,
    like a libwebrtc IPv4 one), srflx and relay candidates are read as libwebrtc: it is
    the common engine, and Firefox needs a second server of the family to get there.
    """
    if not 0 <= priority <= 0xFFFFFFFF:
        raise ValueError(f"priority {priority} outside 0..2**32-1")
    type_pref = priority >> 24
    local_pref = (priority >> 8) & 0xFFFF
    component = 256 - (priority & 0xFF)
    high, low = local_pref >> 8, local_pref & 0xFF
    key = (candidate_type, transport)
    is_relay = candidate_type == "relay"

    # libwebrtc: low byte = addr_pref (+ relay_pref for relay candidates).
    relay_pref: int | None = None
    addr_pref = low
    webrtc_fits = type_pref in _LIBWEBRTC_TYPE_PREF.get(key, ())
    if webrtc_fits:
        if is_relay:
            base = next((p for p in _PRECEDENCE_DESC if p <= low), None)
            if base is None or low - base > _MAX_RELAY_PREFERENCE:
                webrtc_fits = False
            else:
                relay_pref, addr_pref = low - base, base
        else:
            webrtc_fits = low in ADDRESS_PRECEDENCE
            if webrtc_fits and address is not None:
                webrtc_fits = ADDRESS_PRECEDENCE[low] is address_precedence(address)

    # Firefox: low byte 0 for host UDP, a direction preference for TCP, a server
    # preference (31 - index) for srflx/relay.
    firefox_fits = type_pref in _FIREFOX_TYPE_PREF.get(key, ())
    if firefox_fits:
        if transport == "tcp":
            firefox_fits = low in _FIREFOX_TCP_DIRECTION
        elif candidate_type in ("host", "prflx"):
            firefox_fits = low == 0
        else:
            firefox_fits = _FIREFOX_SERVER_PREF_MIN <= low <= 31

    if webrtc_fits and not firefox_fits:
        layout = EngineLayout.LIBWEBRTC
    elif firefox_fits and not webrtc_fits:
        layout = EngineLayout.FIREFOX
    elif firefox_fits and candidate_type in ("srflx", "relay"):
        layout = EngineLayout.LIBWEBRTC
    else:
        layout = EngineLayout.UNKNOWN
    if layout is EngineLayout.LIBWEBRTC:
        address_class = ADDRESS_PRECEDENCE[addr_pref]
    else:
        address_class, relay_pref, addr_pref = AddressClass.UNKNOWN, None, low
    return Priority(
        value=priority,
        type_preference=type_pref,
        local_preference=local_pref,
        component=component,
        engine_layout=layout,
        nic_preference=high,
        address_preference=addr_pref,
        address_class=address_class,
        relay_preference=relay_pref,
        rfc_range=1 <= priority <= 2**31 - 1 and type_pref <= 126,
    )


#: libwebrtc network costs (rtc_base/network_constants.h) → adapter type.
_COST_ADAPTER: Final[dict[int, str]] = {
    0: "ethernet_or_loopback",
    10: "wifi",
    50: "unknown",
    900: "cellular",
    980: "cellular_2g",
    910: "cellular_3g",
    500: "cellular_4g",
    250: "cellular_5g",
    999: "any_address",
}


def network_adapter_from_cost(cost: int) -> tuple[str, bool]:
    """Map a libwebrtc ``network-cost`` to ``(adapter type, vpn)``.

    A VPN adapter adds 1 to the cost of the adapter beneath it. Unlisted values give
    ``("unlisted", False)``.
    """
    adapter = _COST_ADAPTER.get(cost)
    if adapter is not None:
        return adapter, False
    adapter = _COST_ADAPTER.get(cost - 1)
    if adapter is not None:
        return adapter, True
    return "unlisted", False
