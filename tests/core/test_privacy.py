"""Rewriting stored addresses: truncation, keyed pseudonyms, the token matcher."""

from __future__ import annotations

import ipaddress

import pytest

from icewatch.core.addr import parse_ip
from icewatch.core.evidence import session_evidence_from_dict
from icewatch.core.privacy import AddressPolicy, pseudonym, rewrite_json, truncate

KEY = b"k" * 32
HASHED = AddressPolicy("hashed", KEY)
TRUNCATED = AddressPolicy("truncated")


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return parse_ip(text).ip


def test_truncation_keeps_the_24_and_the_48() -> None:
    assert truncate(ip("203.0.113.77")) == ip("203.0.113.0")
    assert truncate(ip("2001:db8:1234:5678::9")) == ip("2001:db8:1234::")


def test_pseudonyms_are_stable_keyed_and_in_reserved_ranges() -> None:
    a = pseudonym(ip("203.0.113.77"), KEY)
    assert a == pseudonym(ip("203.0.113.77"), KEY)
    assert a != pseudonym(ip("203.0.113.78"), KEY)
    assert a != pseudonym(ip("203.0.113.77"), b"j" * 32)
    assert a in ipaddress.ip_network("240.0.0.0/4")
    assert a != ip("255.255.255.255")
    b = pseudonym(ip("2001:db8::1"), KEY)
    assert b in ipaddress.ip_network("100::/64")
    seen = {pseudonym(ipaddress.IPv4Address(n), KEY) for n in range(0x0A000000, 0x0A000000 + 5000)}
    assert len(seen) == 5000  # no collisions among 5000 neighbours


@pytest.mark.parametrize(
    ("text", "truncated"),
    [
        ("203.0.113.9", "203.0.113.0"),
        (
            "candidate:2 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 192.168.1.20 rport 9",
            "candidate:2 1 udp 1686052607 203.0.113.0 61000 typ srflx raddr 192.168.1.0 rport 9",
        ),
        (
            "a=candidate:1 1 udp 5 2001:db8:1:2::9 53000 typ host",
            "a=candidate:1 1 udp 5 2001:db8:1:: 53000 typ host",
        ),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.0"),
        ("[2001:db8:1:2::1]:3478", "[2001:db8:1::]:3478"),
        ("fe80::1:2:3:4%eth0", "fe80::%eth0"),
        ("2001:DB8:1:2:0:0:0:1", "2001:DB8:1::"),
        ("2001:0db8:0001:0002:0000:0000:0000:0001", "2001:db8:1::"),
        ("turn:198.51.100.7:3478?transport=udp", "turn:198.51.100.0:3478?transport=udp"),
        ("for=198.51.100.7;proto=https", "for=198.51.100.0;proto=https"),
        ("c=IN IP4 0.0.0.0", "c=IN IP4 0.0.0.0"),
        ("o=- 1 2 IN IP4 127.0.0.1", "o=- 1 2 IN IP4 127.0.0.1"),
        ("at 12:34:56 or 2026-11-28T12:34:56.789Z", "at 12:34:56 or 2026-11-28T12:34:56.789Z"),
        (
            "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
            "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
        ),
        ("mac 00:1a:2b:3c:4d:5e", "mac 00:1a:2b:3c:4d:5e"),
        (
            "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
            "Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36",
        ),
        (
            "txid 00112233445566778899aabb 1.2.3.4.5 999.1.1.1",
            "txid 00112233445566778899aabb 1.2.3.4.5 999.1.1.1",
        ),
        (
            "abcd.local 4b0c2f1e-dead-beef-0000-123456789abc.local",
            "abcd.local 4b0c2f1e-dead-beef-0000-123456789abc.local",
        ),
    ],
)
def test_tokens_are_found_and_only_addresses_change(text: str, truncated: str) -> None:
    assert TRUNCATED.text(text) == truncated


def test_hashed_text_hides_every_address() -> None:
    text = "srflx 203.0.113.9 raddr 10.1.2.3 v6 2001:db8::7 mapped ::ffff:198.51.100.7"
    out = HASHED.text(text)
    for raw in ("203.0.113.9", "10.1.2.3", "2001:db8::7", "198.51.100.7"):
        assert raw not in out
    assert out.count("::ffff:24") + out.count("::ffff:25") == 1
    assert HASHED.text(text) == out


def test_json_walk_skips_user_agent_fields_and_widens_narrow_prefixes() -> None:
    doc = {
        "http": {
            "client_ip": "203.0.113.9",
            "user_agent": "X/1.2.3.4",
            "forwarded_for": ["203.0.113.9"],
        },
        "headers": {"sec-ch-ua-full-version-list": '"Chromium";v="1.2.3.4"'},
        "intel": [
            {"ip": "203.0.113.9", "provenance": {"prefix": "203.0.113.9/32", "version": "1.2.3.4"}}
        ],
        "wide": {"prefix": "203.0.0.0/16"},
        "n": 5,
        "none": None,
    }
    out = rewrite_json(doc, TRUNCATED.address)
    assert out["http"] == {
        "client_ip": "203.0.113.0",
        "user_agent": "X/1.2.3.4",
        "forwarded_for": ["203.0.113.0"],
    }
    assert out["headers"] == doc["headers"]
    assert out["intel"][0]["ip"] == "203.0.113.0"
    assert out["intel"][0]["provenance"] == {"prefix": "203.0.113.0/24", "version": "1.2.3.4"}
    assert out["wide"] == {"prefix": "203.0.0.0/16"}
    assert out["n"] == 5
    assert out["none"] is None


def test_rewritten_evidence_still_reads_back() -> None:
    from tests.store.samples import full_session, verdict

    ev = full_session("s1")
    for policy in (TRUNCATED, HASHED):
        doc = policy.json(ev.as_dict())
        back = session_evidence_from_dict(doc)
        assert back.http.client_ip.version == ev.http.client_ip.version
        assert [o.ip.version for o in back.observations] == [o.ip.version for o in ev.observations]
        text = repr(doc) + repr(policy.json(verdict().as_dict()))
        for raw in ("198.51.100.7", "203.0.113.9", "192.168.1.20", "2001:db8::7", "2001:db8::9"):
            assert raw not in text, (policy.mode, raw)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="store_addresses"):
        AddressPolicy("scrambled")
    with pytest.raises(ValueError, match="key"):
        AddressPolicy("hashed", b"short")
    assert AddressPolicy("full").json({"ip": "203.0.113.9"}) == {"ip": "203.0.113.9"}
