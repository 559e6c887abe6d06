"""classify_ip: the guide's gotchas, embedded IPv4, tags, input forms, JSON shape, properties."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.core.netclass.netclass_expected import EXPECTED, reference_category

import icewatch.core.netclass as netclass
from icewatch.core.addr import parse_ip
from icewatch.core.errors import AddressParseError
from icewatch.core.netclass import (
    TAG_PREFIXES,
    TAG_TABLE,
    Category,
    Classification,
    EmbeddedIPv4,
    Tag,
    classify_ip,
)

C = Category
V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


# --- the guide's gotchas ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "category", "reachable"),
    [
        ("100.64.0.1", C.CGNAT, False),  # is_private=False and is_global=False in CPython
        ("224.0.0.251", C.MULTICAST, False),  # is_global=True in CPython
        ("ff02::fb", C.MULTICAST, False),
        ("64:ff9b::1", C.NAT64, True),
        ("2001::1", C.TEREDO, False),  # is_private=True in CPython though routed
        ("3fff::1", C.DOCUMENTATION, False),  # unknown to CPython 3.11
        ("8.8.8.8", C.PUBLIC, True),
        ("1.1.1.1", C.PUBLIC, True),
        ("2606:4700::1111", C.PUBLIC, True),
        ("2a00:1450:4001:81b::200e", C.PUBLIC, True),
        ("192.0.0.9", C.IETF_PROTOCOL, True),
        ("0.0.0.0", C.UNSPECIFIED, False),
        ("::", C.UNSPECIFIED, False),
        ("::1", C.LOOPBACK, False),
        ("255.255.255.255", C.RESERVED, False),
    ],
)
def test_gotchas(address: str, category: Category, reachable: bool) -> None:
    c = classify_ip(address)
    assert c.category is category
    assert c.globally_reachable is reachable


def test_ipv4_mapped_is_classified_as_its_ipv4() -> None:
    c = classify_ip("::ffff:10.0.0.1")
    assert c.category is C.PRIVATE
    assert c.address == V4("10.0.0.1")
    assert c.mapped_from == V6("::ffff:10.0.0.1")
    assert Tag.IPV4_MAPPED in c.tags
    assert c.as_dict()["mapped_from"] == "::ffff:10.0.0.1"
    assert c.as_dict()["address"] == "10.0.0.1"


@pytest.mark.parametrize(
    "value", [V6("::ffff:10.0.0.1"), parse_ip("::ffff:10.0.0.1"), "::FFFF:0A00:0001"]
)
def test_ipv4_mapped_in_every_input_form(value: str | V6 | object) -> None:
    c = classify_ip(value)  # type: ignore[arg-type]
    assert (c.category, c.address, c.mapped_from) == (
        C.PRIVATE,
        V4("10.0.0.1"),
        V6("::ffff:10.0.0.1"),
    )


def test_mapped_public_address_stays_public() -> None:
    c = classify_ip("::ffff:8.8.8.8")
    assert (c.category, c.globally_reachable, c.row) == (C.PUBLIC, True, None)


# --- embedded IPv4 ---------------------------------------------------------------------


def test_teredo_rfc4380_example() -> None:
    # RFC 4380 §4: server 65.54.227.120, cone flag, client 192.0.2.45 port 40000.
    c = classify_ip("2001:0000:4136:e378:8000:63bf:3fff:fdd2")
    assert c.category is C.TEREDO
    assert c.embedded_ipv4 == EmbeddedIPv4(
        mechanism=C.TEREDO, address=V4("192.0.2.45"), server=V4("65.54.227.120"), port=40000
    )
    # N/A in the registry: reachability follows the client's IPv4 (documentation here).
    assert c.globally_reachable is False


def test_teredo_with_public_client_is_reachable() -> None:
    client = ~int(V4("81.2.3.4")) & 0xFFFFFFFF
    value = (0x20010000 << 96) | (int(V4("65.54.227.120")) << 64) | (0xFFFF << 32) | client
    c = classify_ip(V6(value))
    assert c.embedded_ipv4 is not None
    assert c.embedded_ipv4.address == V4("81.2.3.4")
    assert c.embedded_ipv4.port == 0
    assert c.globally_reachable is True


def test_6to4_embeds_bits_16_to_47() -> None:
    c = classify_ip("2002:0808:0404::1")
    assert c.category is C.SIX_TO_FOUR
    assert c.embedded_ipv4 == EmbeddedIPv4(mechanism=C.SIX_TO_FOUR, address=V4("8.8.4.4"))
    assert c.globally_reachable is True
    assert classify_ip("2002:c0a8:0101::1").globally_reachable is False  # 192.168.1.1


def test_nat64_well_known_embeds_last_32_bits() -> None:
    c = classify_ip("64:ff9b::1")
    assert c.embedded_ipv4 == EmbeddedIPv4(mechanism=C.NAT64, address=V4("0.0.0.1"))
    c = classify_ip("64:ff9b::192.0.2.33")
    assert c.embedded_ipv4 is not None
    assert c.embedded_ipv4.address == V4("192.0.2.33")
    assert Tag.NAT64_WELL_KNOWN in c.tags


def test_nat64_local_use_has_no_fixed_layout() -> None:
    c = classify_ip("64:ff9b:1::c000:221")
    assert c.category is C.NAT64
    assert c.embedded_ipv4 is None
    assert Tag.NAT64_WELL_KNOWN not in c.tags


def test_other_categories_embed_nothing() -> None:
    for text in ("8.8.8.8", "2606:4700::1111", "fe80::1", "2001:db8::1"):
        assert classify_ip(text).embedded_ipv4 is None


# --- input forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address", "zone"),
    [
        ("fe80::1%eth0", "fe80::1", "eth0"),
        ("fe80::1%3", "fe80::1", "3"),
        ("[fe80::abcd]", "fe80::abcd", None),
        ("FE80:0000:0000:0000:0000:0000:0000:0001", "fe80::1", None),
        ("2001:DB8::1", "2001:db8::1", None),
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1", None),
        ("::ffff:192.0.2.1", "192.0.2.1", None),
        ("64:ff9b::203.0.113.5", "64:ff9b::cb00:7105", None),
    ],
)
def test_textual_forms(text: str, address: str, zone: str | None) -> None:
    c = classify_ip(text)
    assert str(c.address) == address
    assert c.zone == zone


def test_zone_kept_from_an_ipv6address_with_scope() -> None:
    c = classify_ip(V6("fe80::1%wlan0"))
    assert c.zone == "wlan0"
    assert c.address == V6("fe80::1")
    assert isinstance(c.address, ipaddress.IPv6Address)
    assert c.address.scope_id is None
    assert c.category is C.LINK_LOCAL


def test_parsed_ip_and_objects_agree_with_text() -> None:
    for text in ("10.1.2.3", "fd7a:115c:a1e0::5", "fe80::1%eth0", "::ffff:100.64.0.1"):
        parsed = parse_ip(text)
        assert classify_ip(parsed) == classify_ip(text)


@pytest.mark.parametrize(
    "text", ["", "nope", "1.2.3", "256.1.1.1", "1.2.3.4%eth0", "::g", " 1.1.1.1"]
)
def test_malformed_text_raises_address_parse_error(text: str) -> None:
    with pytest.raises(AddressParseError):
        classify_ip(text)


def test_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        classify_ip(12345)  # type: ignore[arg-type]


# --- tags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "tags"),
    [
        ("100.64.0.1", {Tag.POSSIBLE_TAILSCALE}),
        ("100.100.100.100", {Tag.POSSIBLE_TAILSCALE}),
        ("100.128.0.1", set()),
        ("fd7a:115c:a1e0:ab12:4843:cd96:6258:b240", {Tag.TAILSCALE}),
        ("fd7a:115c:a1e1::1", set()),
        ("10.8.0.6", {Tag.OPENVPN_DEFAULT}),
        ("10.8.1.6", set()),
        ("172.16.0.2", {Tag.POSSIBLE_CLOUDFLARE_WARP}),
        ("172.16.0.3", set()),
        ("2606:4700:110:8a36:df92:102a:9602:fa18", {Tag.CLOUDFLARE_WARP}),
        ("2606:4700:111::1", set()),
        ("10.64.0.1", {Tag.POSSIBLE_MULLVAD}),
        ("10.127.255.254", {Tag.POSSIBLE_MULLVAD}),
        ("10.128.0.1", set()),
        ("fc00:bbbb:bbbb:bb01::7:2734", {Tag.MULLVAD}),
        ("fc00:bbbb:bbbb:bb01::1", {Tag.MULLVAD}),  # gateway: not also zerotier-shaped
        ("192.0.0.2", {Tag.DS_LITE}),
        ("192.0.0.8", set()),
        # ZeroTier, network 9bee8941b5de0691, node 1234512345 (values from ZeroTier's manual)
        ("fd9b:ee89:41b5:de06:9199:9312:3451:2345", {Tag.POSSIBLE_ZEROTIER}),
        ("fc2e:308f:d012:3451:2345::1", {Tag.POSSIBLE_ZEROTIER}),
        ("fc2e:308f:d012:3451:2345::2", set()),
        ("fd9b:ee89:41b5:de06:9198:9312:3451:2345", set()),
        ("fd12:3456:789a::1", set()),
        ("8.8.8.8", set()),
    ],
)
def test_tags(address: str, tags: set[Tag]) -> None:
    assert set(classify_ip(address).tags) == tags


def test_every_tag_is_documented_once_with_a_note() -> None:
    documented = [info.tag for info in TAG_TABLE]
    assert sorted(documented) == sorted(Tag)
    for info in TAG_TABLE:
        assert info.description
        assert info.source
        assert info.weight_hint in {"very_low", "low", "medium"}


def test_tag_prefixes_are_valid_networks() -> None:
    for tp in TAG_PREFIXES:
        assert ipaddress.ip_network(str(tp.prefix), strict=True) == tp.prefix


def test_tags_never_change_the_category() -> None:
    assert classify_ip("100.64.0.1").category is C.CGNAT
    assert classify_ip("fd7a:115c:a1e0::1").category is C.UNIQUE_LOCAL
    assert classify_ip("2606:4700:110::1").category is C.PUBLIC


# --- JSON shape ------------------------------------------------------------------------


def test_as_dict_shape() -> None:
    d = classify_ip("100.64.1.2").as_dict()
    assert d == {
        "address": "100.64.1.2",
        "category": "cgnat",
        "registry": {
            "name": "Shared Address Space",
            "prefix": "100.64.0.0/10",
            "rfc": "RFC 6598",
            "source": "iana-ipv4-special-registry",
        },
        "globally_reachable": False,
        "tags": ["possible_tailscale"],
        "mapped_from": None,
        "embedded_ipv4": None,
        "zone": None,
    }
    json.dumps(d)


def test_as_dict_public_and_teredo() -> None:
    assert classify_ip("8.8.8.8").as_dict()["registry"] is None
    d = classify_ip("2001:0:4136:e378:8000:63bf:3fff:fdd2").as_dict()
    assert d["embedded_ipv4"] == {
        "mechanism": "teredo",
        "address": "192.0.2.45",
        "server": "65.54.227.120",
        "port": 40000,
    }
    assert d["category"] == "teredo"


def test_category_labels_are_the_documented_set() -> None:
    assert {str(c) for c in Category} == {
        "public", "private", "cgnat", "loopback", "link_local", "unique_local", "multicast",
        "documentation", "benchmarking", "reserved", "unspecified", "this_network", "teredo",
        "6to4", "nat64", "ipv4_mapped", "ietf_protocol",
    }  # fmt: skip


def test_dunder_all_lists_the_public_names() -> None:
    public = {n for n in vars(netclass) if not n.startswith("_")}
    modules = {"category", "classify", "registry", "tags", "annotations"}
    assert set(netclass.__all__) == public - modules


# --- properties ------------------------------------------------------------------------

_special_nets = st.sampled_from([ipaddress.ip_network(e.prefix) for e in EXPECTED])
_addresses = st.one_of(
    st.ip_addresses(),
    _special_nets.flatmap(lambda net: st.ip_addresses(network=net)),
)


@given(_addresses)
def test_any_address_classifies_like_the_reference(addr: V4 | V6) -> None:
    c = classify_ip(addr)
    assert isinstance(c, Classification)
    assert c.category is reference_category(addr)
    if c.category is C.PUBLIC:
        assert c.row is None
        assert c.globally_reachable is True
    else:
        assert c.row is not None
        assert c.address in c.row.prefix
    json.dumps(c.as_dict())


@given(_addresses)
def test_text_and_object_agree(addr: V4 | V6) -> None:
    assert classify_ip(str(addr)) == classify_ip(addr)
