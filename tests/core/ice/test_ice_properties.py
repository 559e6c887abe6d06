"""Properties: any text gives a value or the one parse error; valid candidates round-trip."""

from __future__ import annotations

import contextlib
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from icewatch.core.addr import ParsedIP, parse_ip
from icewatch.core.errors import CandidateParseError, SdpParseError
from icewatch.core.ice import (
    AddressKind,
    Candidate,
    CandidateType,
    EndOfCandidates,
    SessionDescription,
    TcpType,
    Transport,
    format_candidate,
    parse_candidate,
    parse_ice_line,
    parse_sdp,
)
from icewatch.core.ice.grammar import ICE_CHARS

REAL = (
    "candidate:2588764996 1 udp 1677729535 10.77.1.2 39086 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag mOtW network-cost 999"
)

# Text near the grammar: tokens drawn from real fragments and junk, joined by spaces.
_FRAGMENTS = st.sampled_from(
    [
        "candidate:0", "a=candidate:1", "1", "256", "257", "udp", "TCP", "2122187007",
        "4294967296", "10.0.0.1", "::1", "fe80::1%eth0", "x.local", "typ", "host", "srflx",
        "raddr", "rport", "generation", "ufrag", "network-cost", "network-id", "tcptype",
        "active", "0", "65536", "", "\t", "é", "redacted-ip.invalid",
        "84f8e266-d91c-4be3-a5cc-fd07e55e5394.local", "[::1]", "-1", "+1", "1_0", "٣",
    ]
)  # fmt: skip
_NEAR = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=20).map(" ".join)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=300), _NEAR))
def test_any_text_gives_a_candidate_or_the_parse_error(text: str) -> None:
    err: CandidateParseError | None = None
    try:
        result = parse_ice_line(text)
    except CandidateParseError as exc:
        err = exc
    if err is not None:
        assert err.field
        assert err.reason
        return
    assert isinstance(result, Candidate | EndOfCandidates)
    if isinstance(result, Candidate):
        assert parse_candidate(format_candidate(result)) == result
        result.as_dict()


@settings(max_examples=200)
@given(st.integers(0, len(REAL) - 1), st.characters())
def test_single_character_mutations_of_a_real_line(position: int, char: str) -> None:
    text = REAL[:position] + char + REAL[position + 1 :]
    with contextlib.suppress(CandidateParseError):
        parse_candidate(text)


_IPV4 = st.ip_addresses(v=4).map(str)
_IPV6 = st.ip_addresses(v=6).map(lambda ip: ip.exploded if int(ip) % 2 else str(ip))
_UUID = st.uuids(version=4).map(str)
_ADDRESS = st.one_of(
    _IPV4.map(lambda t: (parse_ip(t), AddressKind.IP)),
    _IPV6.map(lambda t: (parse_ip(t), AddressKind.IP)),
    _UUID.map(lambda u: (u + ".local", AddressKind.MDNS)),
    st.just(("redacted-ip.invalid", AddressKind.REDACTED)),
    st.just(("turn.example.org", AddressKind.FQDN)),
)
_ICE_TEXT = st.text(alphabet=ICE_CHARS, min_size=1, max_size=32)
_OPT_U16 = st.none() | st.integers(0, 65535)


@st.composite
def candidates(draw: st.DrawFn) -> Candidate:
    address, kind = draw(_ADDRESS)
    related = draw(st.none() | _ADDRESS)
    transport = draw(st.sampled_from(Transport))
    ctype = draw(st.sampled_from([t for t in CandidateType if t is not CandidateType.UNKNOWN]))
    return Candidate(
        foundation=draw(_ICE_TEXT),
        component=draw(st.integers(1, 256)),
        transport=transport,
        priority=draw(st.integers(0, 2**32 - 1)),
        address=address,
        port=draw(st.integers(0, 65535)),
        type=ctype,
        related_address=None if related is None else related[0],
        related_address_kind=None if related is None else related[1],
        related_port=draw(st.none() | st.integers(0, 65535)),
        tcptype=draw(st.none() | st.sampled_from(TcpType)) if transport is Transport.TCP else None,
        generation=draw(st.none() | st.integers(0, 2**32 - 1)),
        ufrag=draw(st.none() | _ICE_TEXT),
        network_id=draw(_OPT_U16),
        network_cost=draw(_OPT_U16),
        address_kind=kind,
        transport_raw=draw(st.sampled_from([transport.value, transport.value.upper()])),
    )


@settings(max_examples=300)
@given(candidates(), st.sampled_from(["candidate:", "a=candidate:", ""]))
def test_valid_candidates_round_trip(c: Candidate, prefix: str) -> None:
    again = parse_candidate(format_candidate(c, prefix=prefix))
    assert again == c
    assert again.priority_info == c.priority_info
    if isinstance(c.address, ParsedIP):
        assert isinstance(again.address, ParsedIP)
        assert again.address.ip == ipaddress.ip_address(again.address.ip)


_SDP_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "m=audio 9 RTP/AVP 0", "c=IN IP4 10.0.0.1", "a=rtcp:9 IN IP4 0.0.0.0",
                "a=rtpmap:0 PCMU/8000", "a=fmtp:0 x", "a=rtcp-fb:* nack", "a=extmap:1 u",
                "a=candidate:0 1 udp 1 10.0.0.1 1 typ host", "a=candidate:x", "o=- 1 2 IN IP4 ::",
                "a=fingerprint:sha-256 AA", "a=end-of-candidates", "a=ice-ufrag:abcd", "",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=400), _SDP_LINES.map(lambda ls: "\r\n".join(["v=0", *ls]))))
def test_any_text_gives_a_description_or_the_sdp_error(text: str) -> None:
    try:
        desc = parse_sdp(text)
    except SdpParseError as exc:
        assert exc.field  # noqa: PT017 -- the property is about the error itself
        return
    assert isinstance(desc, SessionDescription)
    desc.as_dict()


@settings(max_examples=300)
@given(
    st.one_of(
        _IPV4,
        st.lists(st.integers(0, 999).map(str), min_size=1, max_size=5).map(".".join),
        st.from_regex(r"\A[0-9.]{1,16}\Z"),
    )
)
def test_ipv4_fast_path_agrees_with_parse_ip(text: str) -> None:
    from icewatch.core.errors import AddressParseError
    from icewatch.core.ice.grammar import _ipv4

    fast = _ipv4(text)
    try:
        reference = parse_ip(text)
    except AddressParseError:
        assert fast is None
        return
    assert fast is None or fast == reference
    if text.count(".") == 3 and all(p.isdigit() and str(int(p)) == p for p in text.split(".")):
        assert fast == reference
