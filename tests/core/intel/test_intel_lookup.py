"""The compiled lookup against a slow reference (a linear scan over every source's rows).

Random sources (nested prefixes, adjacent and overlapping ranges, several ASN tables and
ASN lists, IPv4 and IPv6) and addresses at every boundary: first and last address of
each row, the addresses just outside, plus random ones.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from icewatch.core.intel import (
    IntelDB,
    IntelHit,
    IntelResult,
    Kind,
    ParsedSource,
    Provenance,
    Role,
    SourceBuilder,
    compile_sources,
    load_compiled,
    parse_cidr_list,
)
from icewatch.core.intel.build import most_specific

V4_TOP = (1 << 32) - 1
V6_TOP = (1 << 128) - 1
KINDS = [k for k in Kind if k is not Kind.ALLOW]


# --- the reference ---------------------------------------------------------------------


def best_row(ps: ParsedSource, family: int, x: int):
    """The most specific row of ``ps`` containing ``x`` (ties: the earlier row)."""
    best = None
    for i, row in enumerate(r for r in ps.rows() if r.version == family):
        if row.first <= x <= row.last:
            key = (row.last - row.first, i)
            if best is None or key < best[0]:
                best = (key, row)
    return None if best is None else best[1]


def reference(sources: list[ParsedSource], family: int, x: int) -> IntelResult:
    hits: list[IntelHit] = []
    for ps in sources:
        if ps.info.role is not Role.RANGES:
            continue
        row = best_row(ps, family, x)
        if row is not None:
            rec = ps.records[row.record]
            assert rec.kind is not None
            prov = Provenance(ps.name, ps.info.version, row.first, row.last, family)
            hits.append(IntelHit(rec.kind, rec.provider, rec.asn, rec.org, prov, rec.extra))
    asn = org = asn_prov = None
    for ps in sources:
        if ps.info.role is not Role.ASN_TABLE:
            continue
        row = best_row(ps, family, x)
        if row is not None:
            rec = ps.records[row.record]
            asn, org = rec.asn or None, rec.org
            asn_prov = Provenance(ps.name, ps.info.version, row.first, row.last, family)
            break
    if asn is not None and asn_prov is not None:
        for ps in sources:
            if ps.info.role is not Role.ASN_LIST:
                continue
            listed = dict(ps.asns)
            if asn in listed:
                rec = ps.records[listed[asn]]
                assert rec.kind is not None
                prov = Provenance(
                    ps.name, ps.info.version, asn_prov.first, asn_prov.last, family, asn
                )
                hits.append(IntelHit(rec.kind, rec.provider, rec.asn, rec.org, prov, rec.extra))
    return IntelResult(tuple(hits), asn, org, asn_prov)


# --- random sources ----------------------------------------------------------------------


def random_prefix(rnd: random.Random, bits: int, base: int, span_bits: int) -> tuple[int, int]:
    """A CIDR inside ``base`` .. ``base + 2**span_bits``: nested ones are likely."""
    plen = rnd.randint(bits - span_bits, bits)
    size = 1 << (bits - plen)
    first = base + (rnd.getrandbits(span_bits) & ~(size - 1))
    return first, first + size - 1


def random_sources(rnd: random.Random) -> tuple[list[ParsedSource], list[tuple[int, int]]]:
    """Sources over a small IPv4 and IPv6 window, so that they collide a lot."""
    windows = [
        (4, 32, rnd.choice([0, 0x0A000000, 0xC0000200, V4_TOP - 4095]), 12),
        (6, 128, rnd.choice([0, 0x20010DB8 << 96, V6_TOP - (1 << 20) + 1]), 20),
    ]
    sources: list[ParsedSource] = []
    used_asns: list[int] = []
    for s in range(rnd.randint(1, 5)):
        role = rnd.choice([Role.RANGES, Role.RANGES, Role.ASN_TABLE, Role.ASN_LIST])
        b = SourceBuilder(
            source=f"s{s}",
            role=role,
            kind=None if role is Role.ASN_TABLE else rnd.choice(KINDS),
            provider=f"provider {s}",
        )
        if role is Role.ASN_LIST:
            for asn in rnd.sample(range(1, 12), rnd.randint(0, 6)):
                b.add_asn(asn, b.record(asn=asn, org=f"org {asn}"))
            sources.append(b.build(version=f"v{s}"))
            continue
        for family, bits, base, span in windows:
            for _ in range(rnd.randint(0, 25)):
                if role is Role.ASN_TABLE and rnd.random() < 0.6:
                    first = base + rnd.getrandbits(span)
                    last = min(
                        first + rnd.getrandbits(rnd.randint(0, span)), base + (1 << span) - 1
                    )
                else:
                    first, last = random_prefix(rnd, bits, base, span)
                if role is Role.ASN_TABLE:
                    asn = rnd.randint(0, 11)
                    used_asns.append(asn)
                    rec = b.record(asn=asn or None, org=rnd.choice([None, f"org {asn}"]))
                else:
                    rec = b.record(
                        kind=rnd.choice([None, *KINDS]),
                        extra=rnd.choice([(), (("region", f"r{rnd.randint(0, 3)}"),)]),
                    )
                b.add(family, first, last, rec)
        sources.append(b.build(version=f"v{s}"))
    return sources, [(w[0], w[2]) for w in windows]


def probe_addresses(sources, windows, rnd) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for ps in sources:
        for row in ps.rows():
            top = V4_TOP if row.version == 4 else V6_TOP
            for x in (row.first - 1, row.first, row.last, row.last + 1):
                if 0 <= x <= top:
                    out.append((row.version, x))
    for family, base in windows:
        span = 12 if family == 4 else 20
        out.extend((family, base + rnd.getrandbits(span)) for _ in range(30))
    out.extend([(4, 0), (4, V4_TOP), (6, 0), (6, V6_TOP)])
    return out


@pytest.mark.parametrize("seed", range(60))
def test_lookup_matches_linear_scan(seed):
    rnd = random.Random(seed)
    sources, windows = random_sources(rnd)
    db = IntelDB.from_sources(sources)
    loaded = load_compiled(compile_sources(sources))
    for family, x in probe_addresses(sources, windows, rnd):
        want = reference(sources, family, x)
        got = db.lookup_v4(x) if family == 4 else db.lookup_v6(x)
        assert got == want, (family, hex(x))
        ip = ipaddress.IPv4Address(x) if family == 4 else ipaddress.IPv6Address(x)
        assert loaded.lookup(ip) == want


def test_most_specific_matches_brute_force():
    def brute(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        points = sorted({f for f, _, _ in rows} | {last + 1 for _, last, _ in rows})
        out: list[tuple[int, int, int]] = []
        for k, p in enumerate(points[:-1]):
            covering = [(last - f, i) for i, (f, last, _) in enumerate(rows) if f <= p <= last]
            if not covering:
                continue
            winner = min(covering)[1]
            end = points[k + 1] - 1
            if out and out[-1][2] == winner and out[-1][1] + 1 == p:
                out[-1] = (out[-1][0], end, winner)
            else:
                out.append((p, end, winner))
        return out

    rnd = random.Random(5)
    for _ in range(2000):
        rows = []
        for _ in range(rnd.randint(0, 12)):
            f = rnd.randint(0, 60)
            rows.append((f, rnd.randint(f, f + rnd.choice([0, 1, 3, 10, 40])), 0))
        assert most_specific(rows) == brute(rows), rows


def test_nested_prefixes_from_different_sources_all_reported():
    wide = parse_cidr_list("10.0.0.0/8\n", source="wide", kind=Kind.HOSTING, provider="a")
    mid = parse_cidr_list(
        "10.1.0.0/16\n10.1.2.0/24\n", source="mid", kind=Kind.VPN, provider="b", version="d2"
    )
    narrow = parse_cidr_list("10.1.2.3\n", source="narrow", kind=Kind.TOR, provider="c")
    db = IntelDB.from_sources([wide, mid, narrow])
    r = db.lookup("10.1.2.3")
    assert [(h.provenance.source, h.provenance.prefix) for h in r.hits] == [
        ("wide", "10.0.0.0/8"),
        ("mid", "10.1.2.0/24"),  # most specific within "mid"
        ("narrow", "10.1.2.3/32"),
    ]
    assert [h.provenance.prefix for h in db.lookup("10.1.2.4").hits] == [
        "10.0.0.0/8",
        "10.1.2.0/24",
    ]
    assert [h.provenance.prefix for h in db.lookup("10.1.3.0").hits] == [
        "10.0.0.0/8",
        "10.1.0.0/16",
    ]
    assert [h.provenance.prefix for h in db.lookup("10.255.255.255").hits] == ["10.0.0.0/8"]
    assert db.lookup("11.0.0.0") == IntelResult()
    assert db.lookup("9.255.255.255") == IntelResult()


def test_adjacent_ranges_and_extremes():
    b = SourceBuilder(source="t", role=Role.ASN_TABLE, kind=None, provider="t")
    b.add(4, 0, 9, b.record(asn=1, org="one"))
    b.add(4, 10, 10, b.record(asn=2, org="two"))
    b.add(4, 11, V4_TOP, b.record(asn=3))
    b.add(6, V6_TOP, V6_TOP, b.record(asn=4))
    db = load_compiled(compile_sources([b.build(version="x")]))
    assert [db.lookup_v4(x).asn for x in (0, 9, 10, 11, V4_TOP)] == [1, 1, 2, 3, 3]
    assert db.lookup_v4(10).asn_provenance == Provenance("t", "x", 10, 10, 4)
    assert db.lookup_v4(10).asn_provenance.prefix == "0.0.0.10/32"  # type: ignore[union-attr]
    assert db.lookup_v4(5).asn_provenance.prefix == "0.0.0.0-0.0.0.9"  # type: ignore[union-attr]
    assert db.lookup_v4(11).org is None
    assert db.lookup_v6(V6_TOP).asn == 4
    assert db.lookup_v6(V6_TOP - 1).asn is None


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4():
    db = IntelDB.from_sources(
        [parse_cidr_list("192.0.2.0/24\n", source="l", kind=Kind.VPN, provider="p")]
    )
    assert db.lookup("::ffff:192.0.2.9").hits[0].provenance.prefix == "192.0.2.0/24"
    assert db.lookup(ipaddress.IPv6Address("::ffff:192.0.2.9")).hits
    assert db.lookup_v6(int(ipaddress.IPv6Address("::ffff:192.0.2.9"))) == IntelResult()
    assert db.lookup("::192.0.2.9") == IntelResult()  # IPv4-compatible is not mapped


def test_allow_list_is_reported_and_flagged():
    dc = parse_cidr_list("198.51.100.0/24\n", source="dc", kind=Kind.HOSTING, provider="x")
    allow = parse_cidr_list("198.51.100.7\n", source="mine", kind=Kind.ALLOW, provider="operator")
    db = IntelDB.from_sources([dc, allow])
    r = db.lookup("198.51.100.7")
    assert r.allowed
    assert r.kinds() == {Kind.HOSTING, Kind.ALLOW}
    assert r.hits_of(Kind.ALLOW)[0].provenance.source == "mine"
    assert not db.lookup("198.51.100.8").allowed


def test_asn_zero_and_missing_org():
    b = SourceBuilder(source="t", role=Role.ASN_TABLE, kind=None, provider="t")
    b.add(4, 100, 200, b.record(asn=None, org="unrouted space"))
    db = IntelDB.from_sources([b.build(version="1")])
    r = db.lookup_v4(150)
    assert r.asn is None
    assert r.org == "unrouted space"
    assert r.asn_provenance is not None


def test_string_lookup_rejects_non_addresses():
    from icewatch.core.errors import AddressParseError

    with pytest.raises(AddressParseError):
        IntelDB.empty().lookup("not-an-ip")
