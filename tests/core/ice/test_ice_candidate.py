"""parse_candidate / format_candidate: real lines, many shapes, malformed lines, round trips."""

from __future__ import annotations

import ipaddress
from dataclasses import FrozenInstanceError, fields, replace

import pytest
from tests.conftest import DATA

from icewatch.core.addr import ParsedIP, parse_ip
from icewatch.core.errors import CandidateParseError
from icewatch.core.ice import (
    END_OF_CANDIDATES,
    AddressKind,
    Candidate,
    CandidateType,
    EndOfCandidates,
    TcpType,
    Transport,
    format_candidate,
    is_end_of_candidates,
    is_uuid4,
    parse_candidate,
    parse_ice_line,
)
from icewatch.core.ice.grammar import MAX_EXTENSIONS, MAX_LINE_LENGTH

ICE_DATA = DATA / "ice"


def _lines(name: str) -> list[str]:
    text = (ICE_DATA / name).read_text(encoding="utf-8")
    return [ln for ln in text.split("\n") if ln and not ln.startswith("#")]


VALID = _lines("valid-candidates.txt")
MALFORMED = [tuple(ln.split("\t", 1)) for ln in _lines("malformed-candidates.tsv")]

CHROME_SRFLX = (
    "candidate:2588764996 1 udp 1677729535 10.77.1.2 39086 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag mOtW network-cost 999"
)
FIREFOX_HOST = (
    "candidate:0 1 UDP 2122187007 e4a17765-9fed-45e5-a557-b6bc5fa2d6a1.local 46382 typ host"
)
FIREFOX_TCP = (
    "candidate:5 1 TCP 2105458943 e4a17765-9fed-45e5-a557-b6bc5fa2d6a1.local 9 typ host "
    "tcptype active"
)


def test_data_files_are_not_empty() -> None:
    assert len(VALID) >= 25
    assert len(MALFORMED) >= 40


def test_chromium_srflx_every_field() -> None:
    c = parse_candidate(CHROME_SRFLX)
    assert c.foundation == "2588764996"
    assert c.component == 1
    assert c.transport is Transport.UDP
    assert c.transport_raw == "udp"
    assert c.priority == 1677729535
    assert c.address == parse_ip("10.77.1.2")
    assert c.address_kind is AddressKind.IP
    assert c.port == 39086
    assert c.type is CandidateType.SRFLX
    assert c.related_address == parse_ip("0.0.0.0")
    assert c.related_address_kind is AddressKind.IP
    assert c.related_port == 0
    assert c.generation == 0
    assert c.ufrag == "mOtW"
    assert c.network_id is None
    assert c.network_cost == 999
    assert c.tcptype is None
    assert c.extensions == (("generation", "0"), ("ufrag", "mOtW"), ("network-cost", "999"))
    assert c.raw == CHROME_SRFLX
    assert not c.mdns


def test_firefox_host_mdns_upper_case_transport() -> None:
    c = parse_candidate(FIREFOX_HOST)
    assert c.foundation == "0"
    assert c.transport is Transport.UDP
    assert c.transport_raw == "UDP"
    assert c.address == "e4a17765-9fed-45e5-a557-b6bc5fa2d6a1.local"
    assert c.address_kind is AddressKind.MDNS
    assert c.mdns
    assert c.generation is None
    assert c.ufrag is None
    assert c.network_cost is None
    assert c.extensions == ()


def test_firefox_tcp_active_port_9() -> None:
    c = parse_candidate(FIREFOX_TCP)
    assert c.transport is Transport.TCP
    assert c.transport_raw == "TCP"
    assert c.port == 9
    assert c.tcptype is TcpType.ACTIVE
    assert c.extensions == (("tcptype", "active"),)


@pytest.mark.parametrize("prefix", ["candidate:", "a=candidate:", "", "Candidate:", "A=CANDIDATE:"])
def test_prefix_forms_parse_to_the_same_candidate(prefix: str) -> None:
    body = "0 1 UDP 2122187007 10.0.0.1 5000 typ host"
    c = parse_candidate(prefix + body)
    assert c == parse_candidate("candidate:" + body)
    assert c.raw == prefix + body


def test_end_of_candidates_api() -> None:
    for text in ("", "a=end-of-candidates", "end-of-candidates"):
        assert is_end_of_candidates(text)
        assert parse_ice_line(text) is END_OF_CANDIDATES
    assert isinstance(END_OF_CANDIDATES, EndOfCandidates)
    assert END_OF_CANDIDATES.as_dict() == {"end_of_candidates": True}
    assert not is_end_of_candidates(" ")
    assert not is_end_of_candidates(FIREFOX_HOST)
    with pytest.raises(CandidateParseError) as info:
        parse_candidate("")
    assert info.value.field == "line"
    assert "end-of-candidates" in info.value.reason
    assert isinstance(parse_ice_line(FIREFOX_HOST), Candidate)


@pytest.mark.parametrize("line", VALID)
def test_valid_lines_parse_and_round_trip(line: str) -> None:
    c = parse_candidate(line)
    assert c.raw == line
    again = parse_candidate(format_candidate(c))
    assert again == c
    assert str(c) == format_candidate(c)
    assert parse_candidate(format_candidate(c, prefix="a=candidate:")) == c
    assert parse_candidate(format_candidate(c, prefix="")) == c


@pytest.mark.parametrize(("field", "line"), MALFORMED)
def test_malformed_lines_name_the_field(field: str, line: str) -> None:
    with pytest.raises(CandidateParseError) as info:
        parse_candidate(line)
    assert info.value.field == field, info.value
    assert "\n" not in str(info.value)


def test_too_long_and_too_many_extensions() -> None:
    base = "candidate:0 1 udp 2122187007 10.0.0.1 1 typ host"
    with pytest.raises(CandidateParseError) as info:
        parse_candidate(base + " x " + "y" * MAX_LINE_LENGTH)
    assert info.value.field == "line"
    many = base + "".join(f" e{i} v" for i in range(MAX_EXTENSIONS + 1))
    assert len(many) <= MAX_LINE_LENGTH
    with pytest.raises(CandidateParseError) as info:
        parse_candidate(many)
    assert info.value.field == "extensions"
    ok = base + "".join(f" e{i} v" for i in range(MAX_EXTENSIONS))
    assert len(parse_candidate(ok).extensions) == MAX_EXTENSIONS


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x00", "\x1b", "\x7f"])
def test_control_characters_are_rejected_everywhere(char: str) -> None:
    base = "candidate:0 1 udp 2122187007 10.0.0.1 1 typ host ufrag abcd x-ext val"
    tokens = base.split(" ")
    for i in range(len(tokens)):
        bad = tokens.copy()
        bad[i] = bad[i] + char
        with pytest.raises(CandidateParseError):
            parse_candidate(" ".join(bad))


def test_non_string_input() -> None:
    with pytest.raises(CandidateParseError) as info:
        parse_candidate(b"candidate:0 1 udp 1 10.0.0.1 1 typ host")  # type: ignore[arg-type]
    assert info.value.field == "line"


@pytest.mark.parametrize(
    ("text", "ip", "zone", "mapped"),
    [
        ("2001:db8::1", "2001:db8::1", None, False),
        ("::1", "::1", None, False),
        ("fe80::1%eth0", "fe80::1", "eth0", False),
        ("fe80::1%12", "fe80::1", "12", False),
        ("::ffff:192.0.2.1", "192.0.2.1", None, True),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", None, False),
        ("2001:DB8::A", "2001:db8::a", None, False),
        ("::", "::", None, False),
    ],
)
def test_ipv6_forms(text: str, ip: str, zone: str | None, mapped: bool) -> None:
    c = parse_candidate(f"candidate:1 1 udp 2113939711 {text} 5000 typ host")
    assert isinstance(c.address, ParsedIP)
    assert c.address.ip == ipaddress.ip_address(ip)
    assert c.address.zone == zone
    assert (c.address.mapped is not None) is mapped
    assert parse_candidate(format_candidate(c)) == c


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("84F8E266-D91C-4BE3-A5CC-FD07E55E5394.local", AddressKind.MDNS),
        ("84f8e266-d91c-4be3-b5cc-fd07e55e5394.LOCAL", AddressKind.MDNS),
        ("redacted-ip.invalid", AddressKind.REDACTED),
        ("redacted-literal.invalid", AddressKind.REDACTED),
        ("REDACTED-IP.INVALID", AddressKind.REDACTED),
        ("turn.example.org", AddressKind.FQDN),
        ("turn.example.org.", AddressKind.FQDN),
        ("localhost", AddressKind.FQDN),
    ],
)
def test_name_kinds(name: str, kind: AddressKind) -> None:
    c = parse_candidate(f"candidate:1 1 udp 2113937151 {name} 5000 typ host")
    assert c.address == name
    assert c.address_kind is kind
    assert c.mdns is (kind is AddressKind.MDNS)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("84f8e266-d91c-4be3-a5cc-fd07e55e5394", True),
        ("84f8e266-d91c-4be3-85cc-fd07e55e5394", True),
        ("84f8e266-d91c-4be3-95cc-fd07e55e5394", True),
        ("84f8e266-d91c-4be3-B5cc-fd07e55e5394", True),
        ("84f8e266-d91c-1be3-a5cc-fd07e55e5394", False),  # version 1
        ("84f8e266-d91c-4be3-75cc-fd07e55e5394", False),  # variant 0xxx
        ("84f8e266-d91c-4be3-c5cc-fd07e55e5394", False),  # variant 110x
        ("84f8e266-d91c-4be3-a5cc-fd07e55e539", False),
        ("84f8e266-d91c-4be3-a5cc_fd07e55e5394", False),
        ("84f8e266-d91c-4be3-a5cc-fd07e55e539z", False),
        ("+4f8e266-d91c-4be3-a5cc-fd07e55e5394", False),
        ("84f8e266-d91c-4be3-a5cc-fd07e55e539\u0663", False),
    ],
)
def test_is_uuid4(text: str, ok: bool) -> None:
    assert is_uuid4(text) is ok


def test_unknown_type_is_kept_and_flagged() -> None:
    c = parse_candidate("candidate:1 1 udp 1 10.0.0.1 5000 typ newtype")
    assert c.type is CandidateType.UNKNOWN
    assert c.type_raw == "newtype"
    assert not c.type_known
    assert c.as_dict()["type"] == "unknown"
    assert c.as_dict()["type_raw"] == "newtype"
    assert parse_candidate(str(c)) == c


def test_unknown_extensions_kept_in_order_with_known_ones() -> None:
    line = (
        "candidate:1 1 udp 2113937151 10.0.0.1 5000 typ host zeta 1 generation 3 "
        "alpha two zeta 2 network-id 7 pwd secret"
    )
    c = parse_candidate(line)
    assert c.extensions == (
        ("zeta", "1"),
        ("generation", "3"),
        ("alpha", "two"),
        ("zeta", "2"),
        ("network-id", "7"),
        ("pwd", "secret"),
    )
    assert c.generation == 3
    assert c.network_id == 7
    assert format_candidate(c) == line


def test_raddr_may_follow_extensions_like_libwebrtc_accepts() -> None:
    c = parse_candidate(
        "candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx generation 0 raddr 0.0.0.0 rport 0"
    )
    assert c.related_address == parse_ip("0.0.0.0")
    assert c.related_port == 0
    assert c.extensions == (("generation", "0"),)


def test_raddr_kinds() -> None:
    c = parse_candidate(
        "candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx "
        "raddr 84f8e266-d91c-4be3-a5cc-fd07e55e5394.local rport 0"
    )
    assert c.related_address_kind is AddressKind.MDNS
    v6 = parse_candidate("candidate:1 1 udp 1677734655 fd77:1::2 1 typ srflx raddr :: rport 0")
    assert v6.related_address == parse_ip("::")


def test_candidate_is_frozen_hashable_and_equal_to_a_constructed_one() -> None:
    parsed = parse_candidate(CHROME_SRFLX)
    built = Candidate(
        foundation="2588764996",
        component=1,
        transport=Transport.UDP,
        priority=1677729535,
        address=parse_ip("10.77.1.2"),
        port=39086,
        type=CandidateType.SRFLX,
        related_address=parse_ip("0.0.0.0"),
        related_port=0,
        generation=0,
        ufrag="mOtW",
        network_cost=999,
    )
    assert type(parsed) is Candidate
    assert parsed == built
    assert hash(parsed) == hash(built)
    assert {parsed, built} == {built}
    assert repr(parsed) == repr(replace(built, raw=parsed.raw))
    assert [getattr(parsed, f.name) for f in fields(Candidate) if f.name != "raw"] == [
        getattr(built, f.name) for f in fields(Candidate) if f.name != "raw"
    ]
    with pytest.raises(FrozenInstanceError):
        parsed.port = 1  # type: ignore[misc]
    assert format_candidate(built) == CHROME_SRFLX


def test_constructed_candidate_defaults() -> None:
    c = Candidate(
        foundation="x",
        component=1,
        transport=Transport.TCP,
        priority=1,
        address="turn.example.org",
        port=9,
        type=CandidateType.HOST,
        address_kind=AddressKind.FQDN,
        tcptype=TcpType.SO,
        related_address="redacted-ip.invalid",
    )
    assert c.transport_raw == "tcp"
    assert c.type_raw == "host"
    assert c.extensions == (("tcptype", "so"),)
    assert c.related_address_kind is AddressKind.REDACTED


def test_as_dict_shape() -> None:
    d = parse_candidate(CHROME_SRFLX).as_dict()
    assert list(d) == [
        "foundation", "component", "protocol", "protocol_raw", "priority", "priority_decoded",
        "address", "address_kind", "address_ip", "mdns", "port", "type", "type_raw",
        "related_address", "related_address_kind", "related_port", "tcptype", "generation",
        "ufrag", "network_id", "network_cost", "network_adapter", "network_vpn",
        "extensions", "raw",
    ]  # fmt: skip
    assert d["protocol"] == "udp"
    assert d["type"] == "srflx"
    assert d["address"] == "10.77.1.2"
    assert d["address_ip"] == {"version": 4, "ip": "10.77.1.2", "zone": None, "v4_mapped": False}
    assert d["related_address"] == "0.0.0.0"
    assert d["network_adapter"] == "any_address"
    assert d["network_vpn"] is False
    assert d["extensions"] == [["generation", "0"], ["ufrag", "mOtW"], ["network-cost", "999"]]
    assert d["priority_decoded"]["engine_layout"] == "libwebrtc"
    assert d["priority_decoded"]["address_class"] == "ipv4"
    mapped = parse_candidate("candidate:1 1 udp 1 ::ffff:192.0.2.1 1 typ host").as_dict()
    assert mapped["address"] == "::ffff:c000:201"
    assert mapped["address_ip"]["ip"] == "192.0.2.1"
    assert mapped["address_ip"]["v4_mapped"] is True


def test_constructed_candidate_derives_name_kinds() -> None:
    c = Candidate(
        foundation="1",
        component=1,
        transport=Transport.UDP,
        priority=2113937151,
        address="84f8e266-d91c-4be3-a5cc-fd07e55e5394.local",
        port=5000,
        type=CandidateType.SRFLX,
        related_address="redacted-ip.invalid",
        related_port=0,
    )
    assert c.address_kind is AddressKind.MDNS
    assert c.mdns
    assert c.related_address_kind is AddressKind.REDACTED
    assert parse_candidate(str(c)) == c
