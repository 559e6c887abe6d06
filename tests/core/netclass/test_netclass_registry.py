"""The special-purpose tables, checked row by row against an expected table.

The expected rows (``netclass_expected.py``) are transcribed independently from the IANA
registries, so a wrong, missing or extra row in ``icewatch.core.netclass.registry`` fails.
"""

from __future__ import annotations

import ipaddress

import pytest
from tests.core.netclass.netclass_expected import (
    EXPECTED,
    NETS,
    Expected,
    reference_category,
)

from icewatch.core.netclass import (
    IPV4_ROWS,
    IPV6_ROWS,
    Category,
    SpecialPurposeRow,
    classify_ip,
)

C = Category


def _id(e: Expected) -> str:
    return e.prefix


def _row_for(prefix: str) -> SpecialPurposeRow:
    net = ipaddress.ip_network(prefix)
    rows = [r for r in (*IPV4_ROWS, *IPV6_ROWS) if r.prefix == net]
    assert len(rows) == 1, f"{prefix}: {len(rows)} rows"
    return rows[0]


@pytest.mark.parametrize("exp", EXPECTED, ids=_id)
def test_each_registry_entry_classifies_its_sample(exp: Expected) -> None:
    assert ipaddress.ip_address(exp.sample) in ipaddress.ip_network(exp.prefix)
    if exp.prefix == "::ffff:0:0/96":
        row = _row_for(exp.prefix)
        assert (row.category, row.name) == (exp.category, exp.name)
        return
    c = classify_ip(exp.sample)
    assert c.category is exp.category
    assert c.row is not None
    assert str(c.row.prefix) == exp.prefix
    assert c.row.name == exp.name


@pytest.mark.parametrize("exp", EXPECTED, ids=_id)
def test_each_row_carries_the_registry_reachability_flag(exp: Expected) -> None:
    assert _row_for(exp.prefix).globally_reachable is exp.reachable


def test_table_has_exactly_the_expected_rows() -> None:
    actual = {(str(r.prefix), r.category, r.name) for r in (*IPV4_ROWS, *IPV6_ROWS)}
    expected = {(e.prefix, e.category, e.name) for e in EXPECTED}
    assert actual - expected == set(), "rows not in the expected table"
    assert expected - actual == set(), "expected rows missing from the table"
    assert len(IPV4_ROWS) + len(IPV6_ROWS) == len(EXPECTED)


def test_rows_are_valid_networks_without_duplicates() -> None:
    for rows, version in ((IPV4_ROWS, 4), (IPV6_ROWS, 6)):
        seen: set[tuple[int, int]] = set()
        for row in rows:
            assert row.prefix.version == version, row
            # a valid network: no host bits set
            assert ipaddress.ip_network(str(row.prefix), strict=True) == row.prefix
            key = (int(row.prefix.network_address), row.prefix.prefixlen)
            assert key not in seen, f"two rows for {row.prefix}"
            seen.add(key)
            assert row.name, row
            assert row.rfc.startswith("RFC "), row


def test_same_length_rows_never_overlap() -> None:
    for rows in (IPV4_ROWS, IPV6_ROWS):
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                if a.prefix.prefixlen == b.prefix.prefixlen:
                    assert not a.prefix.overlaps(b.prefix), (a.prefix, b.prefix)


def test_ipv6_rows_cover_everything_outside_global_unicast() -> None:
    """Outside 2000::/3, every address must hit a row (else it would come out public)."""
    gua = ipaddress.IPv6Network("2000::/3")
    top: list[ipaddress.IPv6Network] = []
    for row in IPV6_ROWS:
        if isinstance(row.prefix, ipaddress.IPv6Network) and row.prefix.prefixlen <= 10:
            top.append(row.prefix)
    covered = list(ipaddress.collapse_addresses([*top, gua]))
    assert covered == [ipaddress.ip_network("::/0")]


def _boundaries() -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = []
    for net, exp in NETS:
        first = int(net.network_address)
        last = int(net.broadcast_address)
        top = (1 << net.max_prefixlen) - 1
        for value in (first, last, first - 1, last + 1):
            if 0 <= value <= top:
                addr = (
                    ipaddress.IPv4Address(value)
                    if net.version == 4
                    else ipaddress.IPv6Address(value)
                )
                cases.append((exp.prefix, str(addr)))
    return cases


@pytest.mark.parametrize(("prefix", "address"), _boundaries())
def test_range_boundaries_match_the_reference(prefix: str, address: str) -> None:
    addr = ipaddress.ip_address(address)
    assert classify_ip(addr).category is reference_category(addr), prefix


@pytest.mark.parametrize(
    ("address", "category", "name"),
    [
        ("100.63.255.255", C.PUBLIC, None),
        ("100.64.0.0", C.CGNAT, "Shared Address Space"),
        ("100.127.255.255", C.CGNAT, "Shared Address Space"),
        ("100.128.0.0", C.PUBLIC, None),
        ("172.15.255.255", C.PUBLIC, None),
        ("172.16.0.0", C.PRIVATE, "Private-Use"),
        ("172.31.255.255", C.PRIVATE, "Private-Use"),
        ("172.32.0.0", C.PUBLIC, None),
        ("192.0.0.7", C.IETF_PROTOCOL, "IPv4 Service Continuity Prefix"),
        ("192.0.0.11", C.IETF_PROTOCOL, "IETF Protocol Assignments"),
        ("192.0.1.0", C.PUBLIC, None),
        ("192.88.99.3", C.RESERVED, "Deprecated (6to4 Relay Anycast)"),
        ("198.17.255.255", C.PUBLIC, None),
        ("198.20.0.0", C.PUBLIC, None),
        ("223.255.255.255", C.PUBLIC, None),
        ("239.255.255.255", C.MULTICAST, "Multicast"),
        ("255.255.255.254", C.RESERVED, "Reserved"),
        ("0.0.0.1", C.THIS_NETWORK, '"This network"'),
        ("1.0.0.0", C.PUBLIC, None),
        ("::2", C.RESERVED, "Reserved by IETF"),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", C.RESERVED, "Reserved by IETF"),
        ("2000::", C.PUBLIC, None),
        ("3fff:1000::", C.PUBLIC, None),
        ("3ffe:ffff::1", C.PUBLIC, None),
        ("4000::", C.RESERVED, "Reserved by IETF"),
        ("2001:1::4", C.IETF_PROTOCOL, "IETF Protocol Assignments"),
        ("2001:1ff:ffff::1", C.IETF_PROTOCOL, "IETF Protocol Assignments"),
        ("2001:200::1", C.PUBLIC, None),
        ("2001:db7:ffff::1", C.PUBLIC, None),
        ("2001:db9::1", C.PUBLIC, None),
        ("100:0:0:2::1", C.RESERVED, "Reserved by IETF"),
        ("febf:ffff::1", C.LINK_LOCAL, "Link-Local Unicast"),
        ("fec0::", C.RESERVED, "Reserved by IETF (deprecated site-local)"),
        ("fbff:ffff::1", C.RESERVED, "Reserved by IETF"),
    ],
)
def test_hand_picked_edges(address: str, category: Category, name: str | None) -> None:
    c = classify_ip(address)
    assert c.category is category
    assert (c.row.name if c.row is not None else None) == name
