"""decode_priority: the RFC 8445 split, the libwebrtc reading, the engine-layout heuristic."""

from __future__ import annotations

import ipaddress

import pytest

from icewatch.core.ice import (
    AddressClass,
    EngineLayout,
    address_precedence,
    decode_priority,
    network_adapter_from_cost,
    parse_candidate,
)

L, F, U = EngineLayout.LIBWEBRTC, EngineLayout.FIREFOX, EngineLayout.UNKNOWN


def test_guide_examples() -> None:
    p = decode_priority(2113937151)
    assert 2113937151 == 0x7E001EFF
    assert (p.type_preference, p.local_preference, p.component) == (126, 30, 1)
    assert (p.nic_preference, p.address_preference) == (0, 30)
    assert p.address_class is AddressClass.IPV4
    assert p.engine_layout is L
    assert decode_priority(2113939711).address_class is AddressClass.IPV6_GLOBAL
    srflx = decode_priority(1677729535, candidate_type="srflx")
    assert srflx.type_preference == 100
    assert srflx.address_class is AddressClass.IPV4


@pytest.mark.parametrize(
    ("addr_pref", "cls"),
    [
        (30, AddressClass.IPV4),
        (40, AddressClass.IPV6_GLOBAL),
        (50, AddressClass.ULA),
        (60, AddressClass.IPV6_LOOPBACK),
        (20, AddressClass.SIXTOFOUR),
        (10, AddressClass.TEREDO),
        (1, AddressClass.V4_COMPAT_OR_SITE_LOCAL),
    ],
)
def test_every_address_precedence(addr_pref: int, cls: AddressClass) -> None:
    value = (126 << 24) | (127 << 16) | (addr_pref << 8) | 255
    p = decode_priority(value)
    assert p.address_class is cls
    assert p.nic_preference == 127
    assert p.engine_layout is L


@pytest.mark.parametrize(
    ("priority", "ctype", "transport", "layout"),
    [
        (2122187007, "host", "udp", F),  # Firefox host IPv4
        (2122252543, "host", "udp", F),  # Firefox host IPv6
        (1685987327, "srflx", "udp", F),  # Firefox srflx, first STUN server
        (2105458943, "host", "tcp", F),  # Firefox TCP active host
        (2105524479, "host", "tcp", F),
        (2113937151, "host", "udp", L),
        (2113942271, "host", "udp", L),  # Chromium host ULA (fd77:1::2)
        (1518280447, "host", "tcp", L),  # Chromium TCP host (type pref 90)
        (1677729535, "srflx", "udp", L),
        (2113937151, "srflx", "udp", U),  # host type preference on a srflx
        (2122187007, "host", "tcp", U),
        (12345, "host", "udp", U),
    ],
)
def test_engine_layout(priority: int, ctype: str, transport: str, layout: EngineLayout) -> None:
    assert decode_priority(priority, candidate_type=ctype, transport=transport).engine_layout is (
        layout
    )


def test_address_cross_check_tells_firefox_ipv6_srflx_apart() -> None:
    # Firefox srflx from its second STUN server: byte 1 is 30, as in a libwebrtc IPv4 one.
    ula = ipaddress.ip_address("fd77:1::2")
    p = decode_priority(1686052607, candidate_type="srflx", address=ula)
    assert p.engine_layout is F
    assert p.address_class is AddressClass.UNKNOWN
    v4 = ipaddress.ip_address("10.77.1.2")
    assert decode_priority(1686052607, candidate_type="srflx", address=v4).engine_layout is L
    c = parse_candidate(
        "candidate:4 1 UDP 1686052607 fd77:1::2 50393 typ srflx raddr 0.0.0.0 rport 0"
    )
    assert c.priority_info.engine_layout is F


def test_relay_preference() -> None:
    # libwebrtc relay over UDP (type pref 2), IPv4 relayed address, second of three servers
    value = (2 << 24) | (127 << 16) | ((30 + 1) << 8) | 255
    p = decode_priority(value, candidate_type="relay")
    assert p.engine_layout is L
    assert p.relay_preference == 1
    assert p.address_class is AddressClass.IPV4
    assert decode_priority(41885439, candidate_type="relay").relay_preference == 0
    assert decode_priority(2113937151).relay_preference is None


def test_component_and_rfc_range() -> None:
    p = decode_priority(2113937150)
    assert p.component == 2
    assert p.rfc_range
    assert not decode_priority(2**32 - 1).rfc_range
    assert not decode_priority(0).rfc_range
    assert not decode_priority(127 << 24).rfc_range
    with pytest.raises(ValueError, match="priority"):
        decode_priority(2**32)


@pytest.mark.parametrize(
    ("ip", "cls"),
    [
        ("192.0.2.1", AddressClass.IPV4),
        ("2001:db8::1", AddressClass.IPV6_GLOBAL),
        ("fd77:1::2", AddressClass.ULA),
        ("::1", AddressClass.IPV6_LOOPBACK),
        ("::ffff:192.0.2.1", AddressClass.IPV4),
        ("2002:c000:201::1", AddressClass.SIXTOFOUR),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", AddressClass.TEREDO),
        ("::192.0.2.1", AddressClass.V4_COMPAT_OR_SITE_LOCAL),
        ("fec0::1", AddressClass.V4_COMPAT_OR_SITE_LOCAL),
    ],
)
def test_address_precedence(ip: str, cls: AddressClass) -> None:
    assert address_precedence(ipaddress.ip_address(ip)) is cls


@pytest.mark.parametrize(
    ("cost", "adapter", "vpn"),
    [
        (0, "ethernet_or_loopback", False),
        (1, "ethernet_or_loopback", True),
        (10, "wifi", False),
        (11, "wifi", True),
        (50, "unknown", False),
        (900, "cellular", False),
        (999, "any_address", False),
        (1000, "any_address", True),
        (250, "cellular_5g", False),
        (12345, "unlisted", False),
    ],
)
def test_network_cost(cost: int, adapter: str, vpn: bool) -> None:
    assert network_adapter_from_cost(cost) == (adapter, vpn)
