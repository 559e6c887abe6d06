"""The compiled file: round trip, metadata, and rejection of anything not intact."""

from __future__ import annotations

import functools
import hashlib
import json
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import DATA

from icewatch.core.intel import (
    FORMAT_VERSION,
    MAGIC,
    IntelDB,
    IntelParseError,
    IntelResult,
    Kind,
    ParsedSource,
    SourceInfo,
    compile_sources,
    load_compiled,
    parse_asn_csv,
    parse_asn_list,
    parse_aws_ip_ranges,
    parse_cidr_list,
    parse_geofeed,
    read_header,
)
from icewatch.core.intel.compiled import FIXED_SIZE

SAMPLES = DATA / "intel"


def sources() -> list[ParsedSource]:
    return [
        parse_asn_csv((SAMPLES / "asn-ipv4-sample.csv").read_text(), version="2026-06-17"),
        parse_aws_ip_ranges((SAMPLES / "aws-ip-ranges-sample.json").read_text()),
        parse_geofeed(
            (SAMPLES / "apple-private-relay-egress.csv").read_text(),
            source="apple-relay",
            kind=Kind.RELAY_SERVICE,
            provider="iCloud Private Relay",
            version="2026-08-21",
            licence="Apple",
            url="https://mask-api.icloud.com/egress-ip-ranges.csv",
        ),
        parse_asn_list(
            (SAMPLES / "datacenter-asn.txt").read_text(),
            source="x4b-dc",
            kind=Kind.HOSTING,
            provider="X4BNet",
            licence="MIT",
        ),
        parse_cidr_list("8.8.8.8\n", source="allow", kind=Kind.ALLOW, provider="operator"),
    ]


@functools.cache
def compiled_once() -> bytes:
    return compile_sources(sources(), built="2026-08-22T10:00:00Z")


@pytest.fixture(scope="module")
def compiled() -> bytes:
    return compiled_once()


PROBES = [
    "1.0.0.1",
    "3.0.0.1",
    "3.5.140.9",
    "8.8.8.8",
    "13.32.1.1",
    "172.224.224.1",
    "104.28.0.1",
    "2a02:26f7:b3c0:4000::1",
    "2600:1f18::5",
    "192.0.2.1",
    "2001:db8::1",
]


def test_round_trip_same_answers_and_metadata(compiled):
    memory = IntelDB.from_sources(sources(), built="2026-08-22T10:00:00Z")
    loaded = load_compiled(compiled)
    for ip in PROBES:
        assert loaded.lookup(ip) == memory.lookup(ip), ip
    assert loaded.sources == memory.sources
    assert loaded.built == "2026-08-22T10:00:00Z"
    relay = loaded.lookup("172.224.224.1").hits[0]
    assert relay.kind is Kind.RELAY_SERVICE
    assert dict(relay.extra) == {"country": "GB", "region": "GB-EN", "city": "London"}
    assert relay.provenance.as_dict() == {
        "source": "apple-relay",
        "version": "2026-08-21",
        "prefix": "172.224.224.0/31",
    }
    info = {s.name: s for s in loaded.sources}
    assert info["apple-relay"].licence == "Apple"
    assert info["apple-relay"].url == "https://mask-api.icloud.com/egress-ip-ranges.csv"
    assert info["aws"].version == "2026-08-22-15-17-05"
    assert info["x4b-dc"].records == 5
    assert loaded.lookup("8.8.8.8").allowed


def test_results_round_trip_through_json(compiled):
    db = load_compiled(compiled)
    for ip in PROBES:
        r = db.lookup(ip)
        assert IntelResult.from_dict(json.loads(json.dumps(r.as_dict()))) == r
    for s in db.sources:
        assert SourceInfo.from_dict(json.loads(json.dumps(s.as_dict()))) == s


def test_deterministic(compiled):
    assert compile_sources(sources(), built="2026-08-22T10:00:00Z") == compiled


def test_memoryview_and_bytearray_inputs(compiled):
    padded = bytearray(b"xx" + compiled)
    db = load_compiled(memoryview(padded)[2:])
    assert db.lookup("3.5.140.9").hits[0].provenance.source == "aws"


def test_header(compiled):
    header = read_header(compiled)
    assert header["format"] == FORMAT_VERSION
    assert header["built"] == "2026-08-22T10:00:00Z"
    assert [s["name"] for s in header["sources"]] == [
        "ip-location-db-asn",
        "aws",
        "apple-relay",
        "x4b-dc",
        "allow",
    ]
    assert header["counts"]["asn_list_entries"] == 5
    assert compiled[:8] == MAGIC


def test_empty():
    db = IntelDB.empty()
    assert db.is_empty()
    assert not db.has_asn_data()
    assert db.sources == ()
    assert db.lookup("203.0.113.1") == IntelResult()
    assert db.lookup("2001:db8::1") == IntelResult()
    loaded = load_compiled(compile_sources([]))
    assert loaded.lookup("0.0.0.0") == IntelResult()
    assert loaded.lookup("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == IntelResult()


def _rehash(data: bytearray) -> bytes:
    """Recompute the checksum, so that only the structural checks are left to catch."""
    digest = hashlib.sha256(bytes(data[FIXED_SIZE:])).digest()
    data[24:56] = digest
    return bytes(data)


def test_every_truncation_is_rejected(compiled):
    for n in [0, 1, 7, 8, 55, 56, 57, 100, len(compiled) // 2, len(compiled) - 1]:
        with pytest.raises(IntelParseError):
            load_compiled(compiled[:n])
    with pytest.raises(IntelParseError, match="truncated or padded"):
        load_compiled(compiled + b"\0")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.__setitem__(slice(0, 8), b"NOTINTEL"), "magic"),
        (lambda d: d.__setitem__(slice(8, 10), struct.pack("<H", 99)), "format"),
        (lambda d: d.__setitem__(-1, d[-1] ^ 1), "checksum"),
        (lambda d: d.__setitem__(FIXED_SIZE + 3, d[FIXED_SIZE + 3] ^ 0x20), "checksum"),
        (lambda d: d.__setitem__(30, d[30] ^ 0xFF), "checksum"),
        (lambda d: d.__setitem__(slice(12, 16), struct.pack("<I", 1 << 30)), "header"),
    ],
)
def test_corruption_is_rejected(compiled, mutate, field):
    data = bytearray(compiled)
    mutate(data)
    with pytest.raises(IntelParseError) as exc:
        load_compiled(bytes(data))
    assert exc.value.field == field


def test_every_single_bit_flip_in_a_small_file_is_rejected():
    data = compile_sources(
        [parse_cidr_list("192.0.2.0/24\n", source="s", kind=Kind.VPN, provider="p")]
    )
    for i in range(0, len(data), 7):
        for bit in (0, 5):
            flipped = bytearray(data)
            flipped[i] ^= 1 << bit
            with pytest.raises(IntelParseError):
                load_compiled(bytes(flipped))


def test_structural_checks_behind_a_valid_checksum(compiled):
    """A file that passes the checksum but lies in its section table is still refused."""
    hlen = struct.unpack_from("<I", compiled, 12)[0]
    header = json.loads(compiled[FIXED_SIZE : FIXED_SIZE + hlen])

    def with_header(h: dict[str, Any]) -> bytes:
        head = json.dumps(h, separators=(",", ":")).encode()
        body = compiled[FIXED_SIZE + hlen :]
        fixed = bytearray(compiled[:FIXED_SIZE])
        fixed[12:16] = struct.pack("<I", len(head))
        return _rehash(bytearray(bytes(fixed) + head + body))

    bad_section = json.loads(json.dumps(header))
    bad_section["sections"]["v4_starts"][0] = 1 << 40
    bad_count = json.loads(json.dumps(header))
    bad_count["sections"]["rec_kind"][3] += 1
    no_section = json.loads(json.dumps(header))
    del no_section["sections"]["v4_index"]
    bad_source = json.loads(json.dumps(header))
    bad_source["sources"][0]["role"] = "oracle"
    for h in (bad_section, bad_count, no_section, bad_source):
        with pytest.raises(IntelParseError):
            load_compiled(with_header(h))
    assert load_compiled(with_header(header)).lookup("3.5.140.9").hits


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_body_tampering_behind_a_valid_checksum_never_crashes(data):
    """Rewritten body bytes (with a recomputed checksum): a clean refusal, or a database
    whose lookups still answer without an exception."""
    base = compiled_once()
    hlen = struct.unpack_from("<I", base, 12)[0]
    start = FIXED_SIZE + hlen
    raw = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(start, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        db = load_compiled(_rehash(raw))
    except IntelParseError:
        return
    for ip in PROBES:
        db.lookup(ip)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_cleanly(blob):
    with pytest.raises(IntelParseError):
        load_compiled(blob)
    with pytest.raises(IntelParseError):
        load_compiled(MAGIC + blob)
