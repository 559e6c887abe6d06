"""The one parser of the operator filters (dashboard, CLI, API)."""

from __future__ import annotations

import ipaddress

import pytest

from icewatch.core.errors import ParseError
from icewatch.core.filters import (
    filter_params,
    parse_duration,
    parse_filter,
    parse_network,
    parse_time,
)
from icewatch.core.ports import SessionFilter

NOW = 1_800_000_000.0


def test_empty_and_blank_values_are_the_empty_filter() -> None:
    assert parse_filter({}, NOW) == SessionFilter()
    blank = {"level": "", "signal": " ", "ip": "", "since": "", "ua": "", "cursor": "x"}
    assert parse_filter(blank, NOW) == SessionFilter()


def test_every_field() -> None:
    got = parse_filter(
        {
            "level": ["medium,HIGH", "pending"],
            "signal": "ip.webrtc_http_mismatch",
            "ip": "203.0.113.7/24",
            "provider": "AS64500",
            "since": "24h",
            "until": "2027-01-15T08:00:00Z",
            "ua": "Firefox",
        },
        NOW,
    )
    assert got == SessionFilter(
        levels=frozenset({"medium", "high", "pending"}),
        signal="ip.webrtc_http_mismatch",
        network=ipaddress.ip_network("203.0.113.0/24"),
        provider="AS64500",
        since=NOW - 86400,
        until=parse_time("2027-01-15T08:00:00Z", NOW),
        ua_family="Firefox",
    )


def test_iso_times_match_known_epochs() -> None:
    assert parse_time("1970-01-01", NOW) == 0.0
    assert parse_time("2000-03-01T00:00:00Z", NOW) == 951868800.0
    assert parse_time("2024-02-29T12:34:56.5Z", NOW) == 1709210096.5
    assert parse_time("2024-02-29T13:34:56.5+01:00", NOW) == 1709210096.5
    assert parse_time("2024-02-29T07:04:56.5-0530", NOW) == 1709210096.5
    assert parse_time("2024-02-29 12:34", NOW) == 1709210040.0
    assert parse_time("1709210096", NOW) == 1709210096.0
    assert parse_time("1709210096.25", NOW) == 1709210096.25


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("90s", 90), ("1.5h", 5400)],
)
def test_relative_times_are_before_now(text: str, seconds: float) -> None:
    assert parse_time(text, NOW) == NOW - seconds
    assert parse_time("-" + text, NOW) == NOW - seconds
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["2023-02-29", "2024-13-01", "2024-01-01T24:00", "yesterday", "7x", "1e9", "9" * 300],
)
def test_bad_times(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_filter({"since": text}, NOW)
    assert info.value.field == "since"


def test_networks() -> None:
    assert parse_network("192.0.2.9") == ipaddress.ip_network("192.0.2.9/32")
    assert parse_network("::ffff:192.0.2.9") == ipaddress.ip_network("192.0.2.9/32")
    assert parse_network("::ffff:192.0.2.0/120") == ipaddress.ip_network("192.0.2.0/24")
    assert parse_network("2001:db8::1/32") == ipaddress.ip_network("2001:db8::/32")
    assert parse_network("[2001:db8::1]") == ipaddress.ip_network("2001:db8::1/128")
    for bad in ("192.0.2.0/33", "2001:db8::/129", "300.1.1.1", "fe80::1%eth0", "1.2.3.4/x"):
        with pytest.raises(ParseError) as info:
            parse_filter({"ip": bad}, NOW)
        assert info.value.field == "ip"


def test_errors_name_the_field() -> None:
    cases = {
        "level": "urgent",
        "signal": "a b",
        "until": "nope",
    }
    for name, value in cases.items():
        with pytest.raises(ParseError) as info:
            parse_filter({name: value}, NOW)
        assert info.value.field == name
    with pytest.raises(ParseError) as info:
        parse_filter({"signal": ["a.b", "c.d"]}, NOW)
    assert info.value.field == "signal"
    with pytest.raises(ParseError) as info:
        parse_filter({"since": "1h", "until": "2h"}, NOW)
    assert info.value.field == "until"
    with pytest.raises(ParseError) as info:
        parse_filter({"provider": "x" * 201}, NOW)
    assert info.value.field == "provider"
    with pytest.raises(ParseError) as info:
        parse_filter({"level": ["low"] * 17}, NOW)
    assert info.value.field == "level"


def test_filter_params_round_trip() -> None:
    where = parse_filter(
        {
            "level": "high,low",
            "signal": "x.y",
            "ip": "2001:db8::/48",
            "provider": "Example",
            "since": "1700000000.5",
            "until": "1h",
            "ua": "Chrome",
        },
        NOW,
    )
    assert parse_filter(filter_params(where), NOW) == where
    one = parse_filter({"ip": "192.0.2.1"}, NOW)
    assert filter_params(one) == {"ip": "192.0.2.1"}
