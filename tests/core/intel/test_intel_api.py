"""The public API in one glance: parse a list, compile, load, look up."""

from __future__ import annotations

import ipaddress

from icewatch.core.intel import (
    IntelDB,
    IntelResult,
    Kind,
    compile_sources,
    load_compiled,
    parse_cidr_list,
)


def test_parse_compile_load_lookup():
    dc = parse_cidr_list(
        "# comment\n198.51.100.0/24\n2001:db8::/32\n\n203.0.113.7\n",
        source="ops-datacenter",
        kind=Kind.HOSTING,
        provider="operator list",
        version="2026-01-01",
    )
    allow = parse_cidr_list(
        "198.51.100.128/25\n", source="ops-allow", kind=Kind.ALLOW, provider="operator"
    )
    assert len(dc) == 3
    db = load_compiled(compile_sources([dc, allow], built="test"))
    r = db.lookup(ipaddress.ip_address("198.51.100.200"))
    assert [h.kind for h in r.hits] == [Kind.HOSTING, Kind.ALLOW]
    assert r.allowed
    assert r.hits[0].provenance.prefix == "198.51.100.0/24"
    assert r.hits[0].provenance.version == "2026-01-01"
    assert not db.lookup("198.51.100.1").allowed
    assert db.lookup("203.0.113.7").hits[0].provenance.prefix == "203.0.113.7/32"
    assert db.lookup("2001:db8::1").hits[0].provenance.prefix == "2001:db8::/32"
    assert db.lookup("192.0.2.1") == IntelResult()
    assert IntelResult.from_dict(r.as_dict()) == r
    assert [s.name for s in db.sources] == ["ops-datacenter", "ops-allow"]


def test_empty_db():
    db = IntelDB.empty()
    assert db.lookup("8.8.8.8") == IntelResult()
    assert db.lookup("2001:db8::1").asn is None
    assert db.sources == ()
    assert load_compiled(compile_sources([])).lookup("1.1.1.1") == IntelResult()
