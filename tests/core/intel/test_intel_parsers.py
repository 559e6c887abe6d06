"""Every provider format, parsed from the hand-written samples in ``tests/data/intel/``."""

from __future__ import annotations

import ipaddress

import pytest
from tests.conftest import DATA

from icewatch.core.intel import (
    IntelDB,
    Kind,
    ParsedSource,
    Role,
    parse_asn_csv,
    parse_asn_list,
    parse_aws_ip_ranges,
    parse_azure_service_tags,
    parse_cidr_list,
    parse_geofeed,
    parse_google_ranges,
    parse_iptoasn_tsv,
    parse_oracle_ranges,
    parse_tor_exits,
)

SAMPLES = DATA / "intel"


def text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def prefixes(ps: ParsedSource) -> list[str]:
    return [row.prefix for row in ps.rows()]


def extra_of(ps: ParsedSource, prefix: str) -> dict[str, str]:
    for row in ps.rows():
        if row.prefix == prefix:
            return dict(ps.records[row.record].extra)
    raise AssertionError(f"{prefix} not in {ps.name}")


def kind_of(ps: ParsedSource, prefix: str) -> Kind | None:
    for row in ps.rows():
        if row.prefix == prefix:
            return ps.records[row.record].kind
    raise AssertionError(f"{prefix} not in {ps.name}")


def test_aws_sample_merges_services_and_keeps_dates():
    ps = parse_aws_ip_ranges(text("aws-ip-ranges-sample.json"))
    assert ps.info.version == "2026-08-22-15-17-05"
    meta = dict(ps.info.metadata)
    assert meta["syncToken"] == "1787411825"
    assert meta["prefixes"] == "8"  # rows as listed
    assert meta["ipv6_prefixes"] == "2"
    # one row per distinct prefix, services merged
    assert prefixes(ps) == [
        "3.5.140.0/22",
        "3.0.0.0/15",
        "13.32.0.0/15",
        "15.230.15.29/32",
        "52.94.76.0/22",
        "2406:daba:f000::/40",
        "2600:1f18::/33",
    ]
    assert extra_of(ps, "3.5.140.0/22") == {"region": "ap-northeast-2", "service": "AMAZON,S3"}
    assert extra_of(ps, "52.94.76.0/22") == {
        "region": "us-west-2",
        "service": "AMAZON",
        "network_border_group": "us-west-2-lax-1",
    }
    assert kind_of(ps, "13.32.0.0/15") is Kind.CDN  # CloudFront
    assert kind_of(ps, "3.0.0.0/15") is Kind.CLOUD
    assert ps.info.role is Role.RANGES
    assert ps.info.provider == "Amazon Web Services"
    assert ps.info.url == "https://ip-ranges.amazonaws.com/ip-ranges.json"


def test_google_cloud_json():
    ps = parse_google_ranges(text("google-cloud.json"))
    assert ps.info.version == "2026-08-21T23:03:20.123456"
    assert dict(ps.info.metadata)["syncToken"] == "1787300000123"
    assert len(ps) == 6
    assert extra_of(ps, "34.1.208.0/20") == {"service": "Google Cloud", "scope": "africa-south1"}
    assert "2600:1900:8000::/44" in prefixes(ps)
    assert ps.info.kind is Kind.CLOUD


def test_goog_json_and_googlebot():
    goog = parse_google_ranges(
        text("goog.json"),
        source="google",
        provider="Google",
        url="https://www.gstatic.com/ipranges/goog.json",
    )
    assert prefixes(goog) == [
        "8.8.4.0/24",
        "8.8.8.0/24",
        "34.0.0.0/15",
        "2001:4860::/32",
        "2404:6800::/32",
    ]
    assert extra_of(goog, "8.8.8.0/24") == {}
    bot = parse_google_ranges(
        text("googlebot.json"), source="googlebot", kind=Kind.CRAWLER, provider="Googlebot"
    )
    assert bot.info.version == "2026-08-20T14:46:03.000000"
    assert bot.info.kind is Kind.CRAWLER
    assert prefixes(bot) == ["66.249.64.0/27", "66.249.66.0/27", "2001:4860:4801:10::/64"]


def test_azure_service_tags_one_row_per_prefix():
    ps = parse_azure_service_tags(text("azure-service-tags.json"))
    assert ps.info.version == "Public 412"
    assert dict(ps.info.metadata) == {"changeNumber": "412", "cloud": "Public"}
    got = prefixes(ps)
    assert len(got) == len(set(got)) == 8  # 20.21.42.88/30 is under two tags
    # the shared prefix: the region from the regional tag, the service from the other
    assert extra_of(ps, "20.21.42.88/30") == {"region": "eastus", "service": "ActionGroup"}
    assert extra_of(ps, "13.68.160.0/19") == {"region": "eastus", "service": "AzureStorage"}
    assert extra_of(ps, "4.156.0.0/15") == {"region": "eastus"}
    assert "2603:1000:4:402::178/125" in got


def test_oracle_ranges():
    ps = parse_oracle_ranges(text("oracle-public-ip-ranges.json"))
    assert ps.info.version == "2026-08-19T21:46:26.412664"
    assert prefixes(ps) == ["129.146.0.0/21", "134.70.24.0/21", "130.61.0.0/16", "138.1.0.0/20"]
    assert extra_of(ps, "134.70.24.0/21") == {
        "region": "us-phoenix-1",
        "tags": "OSN,OBJECT_STORAGE",
    }


@pytest.mark.parametrize(
    ("name", "rows", "first", "expected_extra"),
    [
        (
            "geofeed-digitalocean.csv",
            5,
            "5.101.96.0/21",
            {"country": "NL", "region": "NL-NH", "city": "Amsterdam"},
        ),
        (
            "geofeed-linode.csv",
            5,
            "45.33.0.0/17",
            {"country": "US", "region": "US-CA", "city": "Fremont"},
        ),
        (
            "geofeed-vultr.csv",
            4,
            "45.32.0.0/20",
            {"country": "US", "region": "US-NJ", "city": "Piscataway"},
        ),
        (
            "apple-private-relay-egress.csv",
            6,
            "172.224.224.0/31",
            {"country": "GB", "region": "GB-EN", "city": "London"},
        ),
    ],
)
def test_geofeeds(name, rows, first, expected_extra):
    kind = Kind.RELAY_SERVICE if name.startswith("apple") else Kind.HOSTING
    ps = parse_geofeed(text(name), source=name, kind=kind, provider="p", version="2026-08-21")
    assert len(ps) == rows
    assert prefixes(ps)[0] == first
    assert extra_of(ps, first) == expected_extra
    assert all(r.kind is kind for r in ps.records)
    assert ps.info.version == "2026-08-21"


def test_geofeed_postal_is_dropped_and_empty_fields_skipped():
    ps = parse_geofeed(
        "192.0.2.0/25,US,US-AL,,\n192.0.2.5,US,US-AL,Alabaster,35007\n2001:db8::/32,PL,,,\n",
        source="rfc8805-example",
        kind=Kind.HOSTING,
        provider="example",
    )
    assert prefixes(ps) == ["192.0.2.0/25", "192.0.2.5/32", "2001:db8::/32"]
    assert extra_of(ps, "192.0.2.5/32") == {"country": "US", "region": "US-AL", "city": "Alabaster"}
    assert extra_of(ps, "2001:db8::/32") == {"country": "PL"}


def test_cloudflare_lists():
    v4 = parse_cidr_list(
        text("cloudflare-ips-v4.txt"), source="cf4", kind=Kind.CDN, provider="Cloudflare"
    )
    v6 = parse_cidr_list(
        text("cloudflare-ips-v6.txt"), source="cf6", kind=Kind.CDN, provider="Cloudflare"
    )
    assert len(v4) == 15
    assert len(v6) == 7
    assert "104.16.0.0/13" in prefixes(v4)
    assert "2a06:98c0::/29" in prefixes(v6)


def test_cidr_list_comments_bare_ips_and_host_bits():
    ps = parse_cidr_list(
        "# header\n\n192.0.2.7   # a host\n198.51.100.77/24\n2001:db8::1\r\n  203.0.113.0/25  \n",
        source="ops",
        kind=Kind.VPN,
        provider="ops",
    )
    assert prefixes(ps) == ["192.0.2.7/32", "198.51.100.0/24", "203.0.113.0/25", "2001:db8::1/128"]


def test_tor_bulk_exit_list_and_exit_addresses():
    bulk = parse_tor_exits(text("tor-bulk-exit-list.txt"), version="2026-08-21")
    assert prefixes(bulk) == [
        "185.220.101.1/32",
        "185.220.101.33/32",
        "192.42.116.16/32",
        "45.141.215.80/32",
        "2001:67c:e60:c0c:192:42:116:16/128",
    ]
    assert bulk.info.kind is Kind.TOR
    dnsel = parse_tor_exits(text("tor-exit-addresses.txt"))
    assert prefixes(dnsel) == ["162.247.74.201/32", "185.220.100.252/32", "185.220.100.253/32"]


def test_asn_list():
    ps = parse_asn_list(
        text("datacenter-asn.txt"), source="x4b-dc", kind=Kind.HOSTING, provider="X4BNet"
    )
    assert ps.info.role is Role.ASN_LIST
    asns = dict(ps.asns)
    assert sorted(asns) == [14061, 15169, 16509, 24940, 63949]
    assert ps.records[asns[16509]].org == "AMAZON-02 - Amazon.com, Inc., US"
    assert ps.records[asns[63949]].org is None
    assert ps.records[asns[16509]].asn == 16509


def test_iptoasn_tsv_drops_not_routed():
    ps = parse_iptoasn_tsv(text("iptoasn-combined.tsv"), version="2026-08-21")
    assert ps.info.role is Role.ASN_TABLE
    assert prefixes(ps) == [
        "1.0.0.0/24",
        "1.0.4.0/22",
        "8.8.8.0/24",
        "3.0.0.0/14",
        "2001:4860::/32",
        "2600:1f00::/24",
    ]
    orgs = {ps.records[r.record].org for r in ps.rows()}
    assert "Not routed" not in orgs
    assert "GTELECOM-AUSTRALIA Gtelecom Pty Ltd" in orgs


def test_asn_csv_quoted_orgs():
    ps = parse_asn_csv(text("asn-ipv4-sample.csv"), version="2026-06-17")
    recs = [ps.records[r.record] for r in ps.rows()]
    assert [(r.asn, r.org) for r in recs] == [
        (13335, "Cloudflare, Inc."),
        (38803, "Gtelecom Pty Ltd"),
        (16509, "Amazon.com, Inc."),
        (15169, "Google LLC"),
    ]
    assert [row.prefix for row in ps.rows()][:2] == ["1.0.0.0/24", "1.0.4.0/22"]


def test_all_samples_together_answer_with_provenance():
    sources = [
        parse_asn_csv(text("asn-ipv4-sample.csv"), version="2026-06-17"),
        parse_iptoasn_tsv(text("iptoasn-combined.tsv"), version="2026-08-21"),
        parse_aws_ip_ranges(text("aws-ip-ranges-sample.json")),
        parse_google_ranges(text("goog.json"), source="google", provider="Google"),
        parse_asn_list(
            text("datacenter-asn.txt"), source="x4b-dc", kind=Kind.HOSTING, provider="X4BNet"
        ),
        parse_tor_exits(text("tor-bulk-exit-list.txt"), version="2026-08-21"),
    ]
    db = IntelDB.from_sources(sources)
    r = db.lookup(ipaddress.ip_address("3.0.1.2"))
    assert r.asn == 16509
    assert r.org == "Amazon.com, Inc."
    assert r.asn_provenance is not None
    assert r.asn_provenance.source == "ip-location-db-asn"  # the first ASN table wins
    assert r.asn_provenance.prefix == "3.0.0.0/14"
    kinds = [(h.kind, h.provenance.source, h.provenance.prefix) for h in r.hits]
    assert kinds == [
        (Kind.CLOUD, "aws", "3.0.0.0/15"),
        (Kind.HOSTING, "x4b-dc", "3.0.0.0/14"),
    ]
    assert r.hits[1].provenance.asn == 16509
    v6 = db.lookup("2001:4860::8888")
    assert v6.asn == 15169
    assert v6.asn_provenance is not None
    assert v6.asn_provenance.source == "iptoasn"  # only iptoasn has IPv6
    assert [h.provenance.source for h in v6.hits] == ["google", "x4b-dc"]
    tor = db.lookup("185.220.101.33")
    assert [h.kind for h in tor.hits] == [Kind.TOR]
    assert tor.hits[0].provenance.prefix == "185.220.101.33/32"
