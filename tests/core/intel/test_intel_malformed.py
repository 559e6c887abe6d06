"""Malformed, oversized and arbitrary input: one error type, naming the field and line."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icewatch.core.errors import ParseError
from icewatch.core.intel import (
    IntelHit,
    IntelParseError,
    IntelResult,
    Kind,
    ParsedSource,
    Provenance,
    Role,
    SourceBuilder,
    SourceInfo,
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

Parser = Callable[[str], ParsedSource]


def cidr(text: str) -> ParsedSource:
    return parse_cidr_list(
        text, source="t", kind=Kind.HOSTING, provider="t", max_rows=3, max_line=80
    )


def geofeed(text: str) -> ParsedSource:
    return parse_geofeed(text, source="t", kind=Kind.HOSTING, provider="t", max_line=80)


def asn_list(text: str) -> ParsedSource:
    return parse_asn_list(text, source="t", kind=Kind.VPN, provider="t", max_line=80)


def tor(text: str) -> ParsedSource:
    return parse_tor_exits(text, max_line=80)


def iptoasn(text: str) -> ParsedSource:
    return parse_iptoasn_tsv(text, max_line=200)


def asn_csv(text: str) -> ParsedSource:
    return parse_asn_csv(text, max_rows=2)


def aws(text: str) -> ParsedSource:
    return parse_aws_ip_ranges(text, max_rows=3)


def google(text: str) -> ParsedSource:
    return parse_google_ranges(text)


def azure(text: str) -> ParsedSource:
    return parse_azure_service_tags(text, max_rows=3)


def oracle(text: str) -> ParsedSource:
    return parse_oracle_ranges(text)


ALL: list[Parser] = [cidr, geofeed, asn_list, tor, iptoasn, asn_csv, aws, google, azure, oracle]

AWS_OK = {"createDate": "2026-01-01-00-00-00", "prefixes": []}


def j(obj: Any) -> str:
    return json.dumps(obj)


MALFORMED: list[tuple[Parser, str, str, int | None]] = [
    # (parser, input, field named, line named)
    (cidr, "10.0.0.0/8\nnot-a-network\n", "prefix", 2),
    (cidr, "10.0.0.0/33\n", "prefix", 1),
    (cidr, "10.0.0.0/\n", "prefix", 1),
    (cidr, "10.0.0.0/08x\n", "prefix", 1),
    (cidr, "010.0.0.0/8\n", "prefix", 1),
    (cidr, "2001:db8::/129\n", "prefix", 1),
    (cidr, "fe80::1%eth0\n", "prefix", 1),
    (cidr, "# ok\n" + "1" * 81 + "\n", "line", 2),
    (cidr, "10.0.0.1\n10.0.0.2\n10.0.0.3\n10.0.0.4\n", "rows", 4),
    (geofeed, "192.0.2.0/24,US,,,\n192.0.2.300/32,US,,,\n", "prefix", 2),
    (geofeed, '192.0.2.0/24,"US\n', "csv", 1),
    (geofeed, "192.0.2.0/24\0,US,,,\n", "prefix", 1),
    (geofeed, 'x,"a"b\n', "csv", 1),
    (asn_list, "AS1 # fine\nASX # bad\n", "asn", 2),
    (asn_list, "AS99999999999\n", "asn", 1),
    (asn_list, "AS4294967296\n", "asn", 1),
    (asn_list, "AS4294967295\n", "asn", 1),
    (tor, "185.220.101.1\n185.220.101\n", "address", 2),
    (tor, "ExitAddress nope 2026-01-01 00:00:00\n", "address", 1),
    (iptoasn, "1.0.0.0\t1.0.0.255\n", "fields", 1),
    (iptoasn, "1.0.0.9\t1.0.0.1\t13335\tUS\tX\n", "end", 1),
    (iptoasn, "1.0.0.0\t2001:db8::\t13335\tUS\tX\n", "end", 1),
    (iptoasn, "1.0.0.0\t1.0.0.255\tAS-X\tUS\tX\n", "asn", 1),
    (iptoasn, "1.0.0.0\tx\t1\tUS\tX\n", "end", 1),
    (asn_csv, "1.0.0.0,1.0.0.255\n", "fields", 1),
    (asn_csv, "1.0.0.0,1.0.0.255,1,a\nbad,1.0.0.255,1,a\n", "start", 2),
    (asn_csv, "1.0.0.0,1.0.0.1,1,a\n1.0.0.2,1.0.0.3,1,a\n1.0.0.4,1.0.0.5,1,a\n", "rows", 3),
    (aws, "{", "json", 1),
    (aws, "[]", "json", None),
    (aws, "{\n\n  'x': 1}", "json", 3),
    (aws, "[" * 100_000, "json", None),
    (aws, '{"n": ' + "1" * 5000 + "}", "json", None),
    (aws, j({"prefixes": []}), "createDate", None),
    (aws, j({"createDate": 5.5, "prefixes": []}), "createDate", None),
    (aws, j({"createDate": "x", "prefixes": {}}), "prefixes", None),
    (aws, j({**AWS_OK, "prefixes": [7]}), "prefixes[0]", None),
    (aws, j({**AWS_OK, "prefixes": [{"region": "x"}]}), "prefixes[0].ip_prefix", None),
    (aws, j({**AWS_OK, "prefixes": [{"ip_prefix": "3.5.0.0/99"}]}), "prefixes[0].ip_prefix", None),
    (
        aws,
        j({**AWS_OK, "prefixes": [{"ip_prefix": "3.5.0.0/16", "region": []}]}),
        "prefixes[0].region",
        None,
    ),
    (aws, j({**AWS_OK, "ipv6_prefixes": [{"ipv6_prefix": "::/0"}] * 4}), "ipv6_prefixes", None),
    (aws, j({**AWS_OK, "prefixes": [{"ip_prefix": "1" * 100}]}), "prefixes[0].ip_prefix", None),
    (google, j({"prefixes": []}), "creationTime", None),
    (google, j({"creationTime": "t", "prefixes": [{}]}), "prefixes[0].ipv6Prefix", None),
    (
        google,
        j({"creationTime": "t", "prefixes": [{"ipv4Prefix": "x"}]}),
        "prefixes[0].ipv4Prefix",
        None,
    ),
    (azure, j({"values": []}), "changeNumber", None),
    (azure, j({"changeNumber": 1}), "values", None),
    (azure, j({"changeNumber": 1, "values": [{"properties": 3}]}), "values[0].properties", None),
    (
        azure,
        j({"changeNumber": 1, "values": [{"properties": {"addressPrefixes": [4]}}]}),
        "values[0].properties.addressPrefixes[0]",
        None,
    ),
    (
        azure,
        j({"changeNumber": 1, "values": [{"properties": {"addressPrefixes": ["1.2.3.4/40"]}}]}),
        "values[0].properties.addressPrefixes[0]",
        None,
    ),
    (
        azure,
        j({"changeNumber": 1, "values": [{"properties": {"addressPrefixes": ["1.2.3.4"] * 4}}]}),
        "rows",
        None,
    ),
    (oracle, j({"regions": []}), "last_updated_timestamp", None),
    (
        oracle,
        j({"last_updated_timestamp": "t", "regions": [{"cidrs": None}]}),
        "regions[0].cidrs",
        None,
    ),
    (
        oracle,
        j(
            {
                "last_updated_timestamp": "t",
                "regions": [{"cidrs": [{"cidr": "1.2.3.0/24", "tags": "OCI"}]}],
            }
        ),
        "regions[0].cidrs[0].tags",
        None,
    ),
]


@pytest.mark.parametrize(
    ("parser", "text", "field", "line"),
    MALFORMED,
    ids=[f"{p.__name__}-{i}" for i, (p, *_rest) in enumerate(MALFORMED)],
)
def test_malformed_input_names_field_and_line(parser, text, field, line):
    with pytest.raises(IntelParseError) as exc:
        parser(text)
    err = exc.value
    assert err.field == field
    assert err.line == line
    assert isinstance(err, ParseError)
    assert isinstance(err, ValueError)
    assert field in str(err)
    if line is not None:
        assert f"line {line}" in str(err)


def test_oversized_text_is_refused_before_parsing(monkeypatch):
    import icewatch.core.intel.parsers as parsers

    monkeypatch.setattr(parsers, "MAX_TEXT", 10)
    for parser in ALL:
        with pytest.raises(IntelParseError) as exc:
            parser("x" * 11)
        assert exc.value.field == "text"


def test_blank_and_comment_only_inputs_are_empty_sources():
    for parser in (cidr, geofeed, asn_list, tor, iptoasn, asn_csv):
        assert len(parser("\n# nothing here\n   \n")) == 0


def test_bad_source_name():
    with pytest.raises(IntelParseError):
        parse_cidr_list("", source="", kind=Kind.VPN, provider="x")
    with pytest.raises(IntelParseError):
        parse_cidr_list("", source="a\nb", kind=Kind.VPN, provider="x")


def test_a_range_source_needs_kinds():
    b = SourceBuilder(source="s", role=Role.RANGES, kind=None, provider="p")
    b.add(4, 1, 2, b.record())
    with pytest.raises(IntelParseError) as exc:
        b.build(version="")
    assert exc.value.field == "kind"
    ok = SourceBuilder(source="s", role=Role.RANGES, kind=None, provider="p")
    ok.add(4, 1, 2, ok.record(Kind.CDN))
    assert ok.build(version="").records[0].kind is Kind.CDN


def test_control_characters_in_text_fields_are_cleaned():
    ps = parse_asn_list("AS5 # evil\x1b[31m name\x00\n", source="t", kind=Kind.VPN, provider="p\tq")
    rec = ps.records[0]
    assert rec.org == "evil [31m name"
    assert ps.info.provider == "p q"
    long = parse_asn_list("AS5 # " + "x" * 1000 + "\n", source="t", kind=Kind.VPN, provider="p")
    assert len(long.records[0].org or "") == 200


# --- arbitrary input --------------------------------------------------------------------

LINE_ALPHABET = st.sampled_from(list("0123456789abcdefABCDEF.:/,#\t -ASx\n\r\"'%\x00é"))


@settings(max_examples=300, deadline=None)
@given(st.text(LINE_ALPHABET, max_size=300) | st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_else(text):
    for parser in ALL:
        with contextlib.suppress(IntelParseError):
            parser(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
prefix_text = st.sampled_from(
    ["10.0.0.0/8", "2001:db8::/32", "1.2.3.4", "::/0", "0.0.0.0/0", "1.2.3.0/24", "bad", ""]
)
item = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("ip_prefix", "ipv6_prefix", "ipv4Prefix", "ipv6Prefix", "cidr"), prefix_text | json_values
    )
    | {k: st.text(max_size=10) | json_values for k in ("region", "service", "scope", "tags")},
)
document = st.fixed_dictionaries(
    {},
    optional={
        "createDate": st.text(max_size=10) | json_values,
        "creationTime": st.text(max_size=10) | json_values,
        "syncToken": st.text(max_size=10) | json_values,
        "changeNumber": st.integers() | json_values,
        "cloud": st.text(max_size=10) | json_values,
        "last_updated_timestamp": st.text(max_size=10) | json_values,
        "prefixes": st.lists(item, max_size=4) | json_values,
        "ipv6_prefixes": st.lists(item, max_size=4) | json_values,
        "values": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "properties": st.fixed_dictionaries(
                        {},
                        optional={
                            "addressPrefixes": st.lists(prefix_text | json_values, max_size=4),
                            "region": json_values,
                            "systemService": json_values,
                        },
                    )
                    | json_values
                },
            ),
            max_size=3,
        )
        | json_values,
        "regions": st.lists(
            st.fixed_dictionaries(
                {},
                optional={"region": json_values, "cidrs": st.lists(item, max_size=3) | json_values},
            ),
            max_size=3,
        )
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(document)
def test_arbitrary_json_documents_never_raise_anything_else(doc):
    text = json.dumps(doc)
    for parser in (aws, google, azure, oracle):
        with contextlib.suppress(IntelParseError):
            parser(text)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_result_readers_refuse_junk_cleanly(value):
    for reader in (
        IntelResult.from_dict,
        IntelHit.from_dict,
        Provenance.from_dict,
        SourceInfo.from_dict,
    ):
        with contextlib.suppress(IntelParseError):
            reader(value if isinstance(value, dict) else {"hits": value, "kind": value})
