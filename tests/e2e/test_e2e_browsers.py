"""End to end with real browsers: the real ``icewatch serve`` in the server namespace,
Debian's Chromium (Playwright) and Firefox ESR (plain headless) loading the real
leak-test page from the client namespaces, directly, behind the NAT router and through
the HTTP proxy. Each visit is made once per session (``Visits``) and the tests read the
session JSON icewatch produced for it.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.netns import (
    CLIENT,
    CLIENT_V4,
    CLIENT_V6,
    NAT_CLIENT,
    NAT_CLIENT_V4,
    NAT_CLIENT_V6,
    PROXY_V4,
    ROUTER_WAN_V4,
    SERVER_V4,
)
from tests.browser.scenarios import NO_MDNS
from tests.e2e.conftest import Visits
from tests.e2e.harness import (
    E2E,
    FIREFOX_PROXY_PREFS,
    PAGE_URL_V6,
    PROXY_FLAG,
    STUN_PORT,
    Visit,
    in_sandbox,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

POLICY = "--webrtc-ip-handling-policy=disable_non_proxied_udp"
MISMATCH = "ip.webrtc_http_mismatch"
#: Screenshots of the leak-test page, made by the run for people to review.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARTIFACTS.mkdir(exist_ok=True)
SHOTS = {
    "chromium-direct": ARTIFACTS / "leak-test-chromium-direct.png",
    "chromium-nat-proxy": ARTIFACTS / "leak-test-chromium-nat-proxy.png",
}

SCENARIOS: dict[str, Callable[[E2E], Visit]] = {
    "chromium-direct": lambda e: e.chromium(role=CLIENT, screenshot=SHOTS["chromium-direct"]),
    "chromium-nat-proxy": lambda e: e.chromium(
        [PROXY_FLAG], role=NAT_CLIENT, screenshot=SHOTS["chromium-nat-proxy"]
    ),
    "chromium-nat-proxy-policy": lambda e: e.chromium([PROXY_FLAG, POLICY], role=NAT_CLIENT),
    "chromium-nomdns": lambda e: e.chromium([NO_MDNS], role=CLIENT),
    "chromium-ipv6": lambda e: e.chromium(role=NAT_CLIENT, url=PAGE_URL_V6),
    "firefox-direct": lambda e: e.firefox(role=CLIENT),
    "firefox-nat-proxy": lambda e: e.firefox(FIREFOX_PROXY_PREFS, role=NAT_CLIENT),
}


@pytest.fixture(scope="session")
def visits(sandbox: E2E) -> Visits:
    return Visits(sandbox, SCENARIOS)


def _ips(observed: list[dict[str, Any]]) -> set[str]:
    return {o["ip"] for o in observed}


def _udp(v: Visit, source: str | None = None) -> list[dict[str, Any]]:
    return v.observed(source, "udp")


# -- 1. the client on the "internet" segment, default flags -------------------------------


@pytest.mark.parametrize("key", ["chromium-direct", "firefox-direct"])
def test_direct_client_is_seen_as_itself_and_low(visits: Visits, key: str) -> None:
    v = visits[key]
    assert v.result["http"]["client_ip"] == CLIENT_V4
    assert _udp(v, "turn"), v.result["observed"]
    assert _ips([o for o in v.observed() if o["source"] != "ice"]) == {CLIENT_V4}
    # The test connection's ICE checks may take the client's IPv6 address (dual stack).
    assert _ips([o for o in v.observed() if o["source"] == "ice"]) <= {CLIENT_V4, CLIENT_V6}
    assert v.result["verdict"]["level"] == "low", v.result["verdict"]
    assert MISMATCH not in v.codes
    assert "candidate.spoofed" not in v.codes
    assert CLIENT_V4 in {p["ip"] for p in v.result["public_ips"]["observed"]}


def test_chromium_sends_a_binding_and_its_srflx_matches_the_server_view(visits: Visits) -> None:
    v = visits["chromium-direct"]
    stun = _udp(v, "stun")
    assert len(stun) >= 1, v.result["observed"]
    srflx = [c for c in v.result["candidates"] if c["type"] == "srflx"]
    assert srflx, v.result["candidates"]
    assert {(c["address"], c["port"]) for c in srflx} <= {(o["ip"], o["port"]) for o in stun}
    assert all(c["seen_by_server"] for c in srflx)
    # Default Chromium hides its host addresses behind mDNS names.
    assert v.result["mdns_names"]
    assert "net.mdns" in v.codes
    assert not v.result["local_ips"]


# -- 2. behind the NAT, HTTP through the proxy: the classic leak --------------------------


@pytest.mark.parametrize("key", ["chromium-nat-proxy", "firefox-nat-proxy"])
def test_proxy_user_behind_nat_leaks_the_nat_address(visits: Visits, key: str) -> None:
    v = visits[key]
    assert v.result["http"]["client_ip"] == PROXY_V4
    assert v.result["report_http"]["client_ip"] == PROXY_V4
    assert any(e["method"] in ("GET", "POST") for e in v.proxy_log), v.proxy_log
    # The STUN/TURN flows (the test connection's ICE checks may take the client's own
    # routable IPv6 address in this topology: they are checked in test_e2e_connection.py).
    udp = [o for o in _udp(v) if o["source"] != "ice"]
    assert udp, v.result["observed"]
    assert _ips(udp) == {ROUTER_WAN_V4}
    assert _udp(v, "turn"), "TURN over UDP went direct, not through the proxy"
    if v.browser == "chromium":
        assert _udp(v, "stun"), "Chromium sends a STUN Binding too"
    assert MISMATCH in v.codes, v.result["verdict"]
    mismatch = v.signal(MISMATCH)
    observed = [m["observed"]["ip"] for m in mismatch["evidence"]["mismatches"]]
    assert ROUTER_WAN_V4 in observed
    assert mismatch["evidence"]["http_client_ips"] == [PROXY_V4]
    assert v.result["verdict"]["level"] != "low"
    # The NAT client's own address never reaches the server as a source.
    assert NAT_CLIENT_V4 not in _ips(v.observed())
    # TURN over TCP is tunnelled through the proxy (CONNECT): over TCP the server sees
    # the proxy, like the HTTP request; the leak is the UDP path only.
    tcp = v.observed(transport="tcp")
    assert _ips(tcp) <= {PROXY_V4}, tcp
    if tcp:
        targets = {e["target"] for e in v.proxy_log if e["method"] == "CONNECT"}
        assert f"{SERVER_V4}:{STUN_PORT}" in targets, v.proxy_log


# -- 3. the same with Chromium's "disable non-proxied UDP" policy -------------------------


def test_policy_disable_non_proxied_udp_blocks_udp_and_the_leak(visits: Visits) -> None:
    v = visits["chromium-nat-proxy-policy"]
    assert v.result["http"]["client_ip"] == PROXY_V4
    assert _udp(v) == [], v.result["observed"]
    assert {"webrtc.udp_blocked", "webrtc.no_candidates"} & v.codes, v.result["verdict"]
    assert MISMATCH not in v.codes
    # What really happens: with a proxy and a turn:...?transport=tcp server, Chromium
    # tunnels TURN over TCP through the proxy (CONNECT), so the only packets icewatch
    # receives come from the proxy: the same address as the HTTP request, no leak.
    # (Chromium 156: no candidate at all reaches the page, yet the TCP Allocate with
    # the session's credential arrives through the tunnel.)
    tcp = v.observed(transport="tcp")
    assert _ips(tcp) == {PROXY_V4}, tcp
    assert any(o["kind"] == "allocate-authenticated" for o in tcp)
    connects = [e for e in v.proxy_log if e["method"] == "CONNECT"]
    assert f"{SERVER_V4}:{STUN_PORT}" in {e["target"] for e in connects}, v.proxy_log
    assert not [c for c in v.result["candidates"] if c["type"] != "host"]


# -- 4. mDNS hiding off: the local address is exposed -------------------------------------


def test_mdns_off_lists_the_local_address(visits: Visits) -> None:
    v = visits["chromium-nomdns"]
    assert CLIENT_V4 in {s["ip"] for s in v.result["local_ips"]}
    assert "net.local_ip_exposed" in v.codes
    exposed = v.signal("net.local_ip_exposed")
    assert exposed["weight"] == 0
    assert v.result["verdict"]["level"] == "low"  # informational signals never raise it
    hosts = [c for c in v.result["candidates"] if c["type"] == "host"]
    assert CLIENT_V4 in {c["address"] for c in hosts}


# -- IPv6: the page loaded over IPv6, STUN/TURN URLs follow the host the browser used --


def test_ipv6_page_gives_ipv6_observations(visits: Visits) -> None:
    v = visits["chromium-ipv6"]
    assert v.result["http"]["client_ip"] == NAT_CLIENT_V6  # IPv6 is routed, not NATed
    # STUN/TURN follow the page's address family; the test connection's ICE checks may
    # take either family (the NAT's IPv4 or the routed IPv6), so they are left out here.
    stun_turn = [o for o in v.observed() if o["source"] != "ice"]
    assert _ips(stun_turn) == {NAT_CLIENT_V6}
    assert _ips(v.observed("ice")) <= {NAT_CLIENT_V6, ROUTER_WAN_V4}
    assert _udp(v, "turn")
    assert v.result["verdict"]["level"] == "low"
    assert MISMATCH not in v.codes


# -- 5. the TURN observation carries the right session and source -------------------------


@pytest.mark.parametrize(
    ("key", "source_ip"),
    [
        ("chromium-direct", CLIENT_V4),
        ("chromium-nomdns", CLIENT_V4),
        ("chromium-nat-proxy", ROUTER_WAN_V4),
        ("firefox-direct", CLIENT_V4),
        ("firefox-nat-proxy", ROUTER_WAN_V4),
        ("chromium-ipv6", NAT_CLIENT_V6),
    ],
)
def test_the_turn_observation_names_its_session(visits: Visits, key: str, source_ip: str) -> None:
    v = visits[key]
    turn = [o for o in _udp(v, "turn") if o["kind"] == "allocate-authenticated"]
    assert len(turn) >= 1, v.result["observed"]
    for o in turn:
        assert o["ip"] == source_ip
        assert o["attributed_by"] == "credential"
        assert o["local_port"] == STUN_PORT
    # Chromium allocates from the socket it gathered its srflx with.
    if v.browser == "chromium":
        assert {o["port"] for o in turn} <= {o["port"] for o in _udp(v, "stun")}


def test_sessions_do_not_share_observations(visits: Visits) -> None:
    """Two visits from the same client: each session holds only its own TURN traffic."""
    a, b = visits["chromium-direct"], visits["chromium-nomdns"]
    assert a.result["id"] != b.result["id"]

    def turn_keys(v: Visit) -> set[tuple[str, int, str]]:
        return {(o["ip"], o["port"], o["at"]) for o in v.observed("turn")}

    assert turn_keys(a)
    assert turn_keys(b)
    assert not turn_keys(a) & turn_keys(b)


# -- the sandbox stayed closed -----------------------------------------------------------


def test_every_visit_finished_before_the_collector_deadline(visits: Visits) -> None:
    for key in SCENARIOS:
        report = visits[key].result["report"]
        assert report is not None, key
        assert report["webrtc"] == "ok", (key, report)
        # icewatch answers every request at once, so gathering ends by itself, well
        # before the collector's own deadline.
        assert report["ended_by"] == "complete", (key, report)
        assert report["gathering_ms"] < report["deadline_ms"], (key, report)


def test_the_proxy_forwarded_nothing_outside_the_sandbox(visits: Visits) -> None:
    entries = [e for key in SCENARIOS for e in visits[key].proxy_log]
    assert entries
    for e in entries:
        if not in_sandbox(e["target"]):
            assert e["status"] == 403, e


@pytest.mark.parametrize("key", sorted(SHOTS))
def test_the_page_was_photographed_for_review(visits: Visits, key: str) -> None:
    visits[key]
    png = SHOTS[key].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 20_000  # a rendered page, not a blank one


def test_zz_egress_guards_dropped_nothing(sandbox: E2E, visits: Visits) -> None:
    for key in SCENARIOS:  # make sure every visit has run before looking
        visits[key]
    guards = sandbox.topo.guards()
    leaked = {role: g for role, g in guards.items() if g.packets}
    assert not leaked, leaked
