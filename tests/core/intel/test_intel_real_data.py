"""The parsers and the compiled lookup on the real snapshots in ``../shared/data/``.

Skipped (with the reason) where that directory is absent; never under ``CI=true``, where
``tests/conftest.py`` turns a skip into a failure and CI has the data beside the clone.
"""

from __future__ import annotations

import csv
import gzip
import ipaddress
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import SHARED_DATA

from icewatch.core.intel import (
    IntelDB,
    Kind,
    ParsedSource,
    compile_sources,
    load_compiled,
    parse_asn_csv,
    parse_asn_list,
    parse_aws_ip_ranges,
    parse_cidr_list,
)

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"real IP-intelligence data not found at {SHARED_DATA} (see ../shared/data/README.md)",
)

AWS = SHARED_DATA / "aws-ip-ranges.json"
X4B = SHARED_DATA / "x4b"
IPRANGES = SHARED_DATA / "ipranges"
ASN = SHARED_DATA / "asn"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def networks(text: str) -> Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield ipaddress.ip_network(line, strict=False)


@pytest.fixture(scope="module")
def asn_sources() -> list[ParsedSource]:
    return [
        parse_asn_csv(
            gzip.decompress((ASN / f"asn-ipv{v}.csv.gz").read_bytes()).decode("utf-8"),
            source=f"asn-ipv{v}",
            version="2026-06-17",
            licence="CC BY 4.0",
        )
        for v in (4, 6)
    ]


@pytest.fixture(scope="module")
def aws() -> ParsedSource:
    return parse_aws_ip_ranges(read(AWS))


def test_aws_ip_ranges_real(aws):
    doc = json.loads(read(AWS))
    assert len(doc["prefixes"]) == 10_668
    assert len(doc["ipv6_prefixes"]) == 6_160
    meta = dict(aws.info.metadata)
    assert meta["prefixes"] == "10668"
    assert meta["ipv6_prefixes"] == "6160"
    assert aws.info.version == doc["createDate"] == "2026-08-22-15-17-05"
    distinct4 = {p["ip_prefix"] for p in doc["prefixes"]}
    distinct6 = {str(ipaddress.ip_network(p["ipv6_prefix"])) for p in doc["ipv6_prefixes"]}
    assert len(aws.v4_first) == len(distinct4)
    assert len(aws.v6_first) == len(distinct6)
    # every listed service of a prefix is in its merged record
    services: dict[str, set[str]] = {}
    for p in doc["prefixes"]:
        services.setdefault(p["ip_prefix"], set()).add(p["service"])
    by_prefix = {row.prefix: aws.records[row.record] for row in aws.rows()}
    for prefix, wanted in services.items():
        assert set(dict(by_prefix[prefix].extra)["service"].split(",")) == wanted


def test_aws_lookup_is_most_specific_aws_prefix(aws):
    doc = json.loads(read(AWS))
    nets = [ipaddress.ip_network(p["ip_prefix"]) for p in doc["prefixes"]] + [
        ipaddress.ip_network(p["ipv6_prefix"]) for p in doc["ipv6_prefixes"]
    ]
    spans = [
        (n.version, int(n.network_address), int(n.broadcast_address), n.prefixlen, n) for n in nets
    ]
    db = IntelDB.from_sources([aws])
    rnd = random.Random(8)
    for net in rnd.sample(nets, 100):
        for ip in (net.network_address, net.broadcast_address):
            x = int(ip)
            best = max(
                (s for s in spans if s[0] == ip.version and s[1] <= x <= s[2]), key=lambda s: s[3]
            )
            result = db.lookup(ip)
            assert len(result.hits) == 1
            hit = result.hits[0]
            assert hit.provenance.prefix == str(best[4])
            assert hit.provenance.version == "2026-08-22-15-17-05"
            assert hit.kind in (Kind.CLOUD, Kind.CDN)


@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("datacenter_ipv4.txt", Kind.HOSTING, 42_566),
        ("datacenter_ipv6.txt", Kind.HOSTING, 8_752),
        ("vpn_ipv4.txt", Kind.VPN, 10_862),
        ("vpn_ipv6.txt", Kind.VPN, 498),
    ],
)
def test_x4bnet_cidr_lists(name, kind, count):
    text = read(X4B / name)
    ps = parse_cidr_list(
        text, source=f"x4b-{name}", kind=kind, provider="X4BNet", version="2026-08-22"
    )
    assert len(ps) == count
    expected = [str(n) for n in networks(text)]
    assert [row.prefix for row in ps.rows()] == expected


@pytest.mark.parametrize("name", ["datacenter_asn.txt", "vpn_asn.txt"])
def test_x4bnet_asn_lists(name):
    text = read(X4B / name)
    ps = parse_asn_list(text, source=name, kind=Kind.HOSTING, provider="X4BNet")
    wanted = {int(m) for m in re.findall(r"^AS(\d+)", text, flags=re.MULTILINE)}
    assert {asn for asn, _ in ps.asns} == wanted
    assert len(wanted) == (892 if name.startswith("datacenter") else 15)
    first = re.search(r"^AS(\d+)\s*#\s*(.*)$", text, flags=re.MULTILINE)
    assert first is not None
    rec = ps.records[dict(ps.asns)[int(first.group(1))]]
    assert rec.org == first.group(2).strip()


def test_lord_alfred_lists_every_file():
    files = sorted(IPRANGES.glob("*.txt"))
    assert len(files) >= 30
    rnd = random.Random(5)
    for path in files:
        text = read(path)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        ps = parse_cidr_list(text, source=path.stem, kind=Kind.CLOUD, provider=path.stem)
        got = [row.prefix for row in ps.rows()]
        assert len(got) == len(lines), path.name
        # rows() lists IPv4 first: compare each family in input order, on a sample
        for v6 in (False, True):
            want = [x for x in lines if (":" in x) == v6]
            mine = [p for p in got if (":" in p) == v6]
            assert len(mine) == len(want), path.name
            for i in rnd.sample(range(len(want)), min(200, len(want))):
                assert mine[i] == str(ipaddress.ip_network(want[i])), path.name


def test_asn_csv_real(asn_sources):
    v4, v6 = asn_sources
    assert len(v4) == 411_961
    assert len(v6) == 103_197
    assert len(v4.v6_first) == 0
    assert len(v6.v4_first) == 0
    # 1,000 random rows of each, checked against the csv module and ipaddress
    for path, ps in ((ASN / "asn-ipv4.csv.gz", v4), (ASN / "asn-ipv6.csv.gz", v6)):
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        got = list(ps.rows())
        assert len(lines) == len(got)
        for i in random.Random(3).sample(range(len(lines)), 1000):
            start, end, asn, org = next(csv.reader([lines[i]]))
            assert got[i].first == int(ipaddress.ip_address(start))
            assert got[i].last == int(ipaddress.ip_address(end))
            rec = ps.records[got[i].record]
            assert rec.asn == int(asn)
            assert rec.org == org


def test_asn_compiled_real(asn_sources, aws):
    x4b = parse_asn_list(
        read(X4B / "datacenter_asn.txt"), source="x4b-dc-asn", kind=Kind.HOSTING, provider="X4BNet"
    )
    data = compile_sources([*asn_sources, aws, x4b], built="test")
    db = load_compiled(memoryview(data))
    assert [s.name for s in db.sources] == ["asn-ipv4", "asn-ipv6", "aws", "x4b-dc-asn"]
    google = db.lookup("8.8.8.8")
    assert (google.asn, google.org) == (15169, "Google LLC")
    assert google.asn_provenance is not None
    assert google.asn_provenance.prefix == "8.8.8.0/24"
    assert google.asn_provenance.version == "2026-06-17"
    assert [h.provenance.source for h in google.hits] == ["x4b-dc-asn"]
    assert google.hits[0].provenance.asn == 15169
    cf = db.lookup("1.1.1.1")
    assert (cf.asn, cf.org) == (13335, "Cloudflare, Inc.")
    v6 = db.lookup("2001:4860:4860::8888")
    assert v6.asn == 15169
    ec2 = db.lookup("3.5.140.1")
    assert ec2.asn == 16509
    assert [h.provenance.source for h in ec2.hits] == ["aws", "x4b-dc-asn"]
    assert ec2.hits[0].provenance.prefix == "3.5.140.0/22"
    # the one overlapping pair of rows in the real table: the smaller range wins inside
    inner = db.lookup(ipaddress.IPv4Address(3607101440))
    assert inner.asn_provenance is not None
    assert inner.asn_provenance.first == 3607101440
