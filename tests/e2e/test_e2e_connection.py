"""End to end: the test connection (a real WebRTC data channel to icewatch's own peer),
the ICE-observed address, proxied TURN, the inferred IP-handling policy and path latency,
with real Chromium and Firefox ESR in the sandbox.

* Direct and behind the NAT router, both browsers: the data channel opens
  (``connection.state == "connected"``), the server records the address the browser's
  ICE checks came from (``source: "ice"``): the client's own, or the NAT's public
  10.77.1.254; the verdict stays ``low`` with no weighted signal.
* HTTP through the proxy: the ``ice`` observation shows the NAT's address while HTTP
  shows the proxy.
* ``disable_non_proxied_udp`` + proxy + the ``turn:…?transport=tcp`` URL: only TURN over
  TCP arrives, from the proxy; no leak is reported and the inferred policy says so.
* Path latency: ``tc qdisc … netem`` is not available on the sandbox kernel (no
  ``sch_netem``: "Specified qdisc kind is unknown"), so a second forward proxy adds the
  delay itself (``tests/browser/proxy.py --delay-ms 75``: a delay line on every chunk in
  each direction, +150 ms round-trip on the HTTP path). Through it ``conn.rtt_mismatch``
  fires; through the undelayed proxy it does not.
* An init script that makes the offer's ``fetch`` fail → ``conn.failed``.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
)
from tests.e2e.conftest import Visits
from tests.e2e.harness import E2E, FIREFOX_PROXY_PREFS, PROXY_FLAG, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

POLICY = "--webrtc-ip-handling-policy=disable_non_proxied_udp"
MISMATCH = "ip.webrtc_http_mismatch"
FAILED = "conn.failed"
RTT = "conn.rtt_mismatch"
#: One-way delay of the slow proxy in each direction (+150 ms round trip).
DELAY_MS = 75
SLOW_PROXY_PORT = 3129

#: The offer never reaches the server: fetch() to /offer rejects, as a privacy
#: extension or a bot framework that blocks the request would make it.
BLOCK_OFFER = """
(() => {
  const real = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : (input && input.url) || "";
    if (url.endsWith("/offer")) return Promise.reject(new TypeError("Failed to fetch"));
    return real.apply(this, arguments);
  };
})();
"""


def _slow_proxy_visit(e: E2E) -> Visit:
    proc = e.start_extra_proxy("slow", SLOW_PROXY_PORT, "--delay-ms", str(DELAY_MS))
    try:
        return e.chromium([f"--proxy-server=http://{PROXY_V4}:{SLOW_PROXY_PORT}"], role=NAT_CLIENT)
    finally:
        proc.stop()
        e.topo.procs.remove(proc)


SCENARIOS: dict[str, Callable[[E2E], Visit]] = {
    "chromium-direct": lambda e: e.chromium(role=CLIENT),
    "chromium-nat": lambda e: e.chromium(role=NAT_CLIENT),
    "firefox-direct": lambda e: e.firefox(role=CLIENT),
    "firefox-nat": lambda e: e.firefox(role=NAT_CLIENT),
    "chromium-nat-proxy": lambda e: e.chromium([PROXY_FLAG], role=NAT_CLIENT),
    "firefox-nat-proxy": lambda e: e.firefox(FIREFOX_PROXY_PREFS, role=NAT_CLIENT),
    "chromium-nat-proxy-policy": lambda e: e.chromium([PROXY_FLAG, POLICY], role=NAT_CLIENT),
    "chromium-nat-slow-proxy": _slow_proxy_visit,
    "chromium-blocked-offer": lambda e: e.chromium(role=CLIENT, init_scripts=[BLOCK_OFFER]),
}
#: Where each client's ICE checks may come from, as the server sees them: the client's
#: own addresses, or behind the router the NAT's public IPv4 (the sandbox routes the NAT
#: client's IPv6 without translation, like most home routers; ICE often prefers it).
DIRECT = {CLIENT_V4, CLIENT_V6}
BEHIND_NAT = {ROUTER_WAN_V4, NAT_CLIENT_V6}
DEFAULTS = {
    "chromium-direct": DIRECT,
    "chromium-nat": BEHIND_NAT,
    "firefox-direct": DIRECT,
    "firefox-nat": BEHIND_NAT,
}


@pytest.fixture(scope="session")
def conn_visits(sandbox: E2E) -> Visits:
    return Visits(sandbox, SCENARIOS)


def _connection(v: Visit) -> dict[str, Any]:
    """The session JSON's ``connection`` section (what the page reported + the server's
    view), with the page's RTT samples as ``rtts_ms`` and the HTTP ones as ``http``."""
    conn: dict[str, Any] = dict(v.result["connection"])
    assert conn["state"] is not None, conn
    conn["rtts_ms"] = conn["page_rtt_ms"]["samples"]
    conn["http"] = conn["http_rtt_ms"]["samples"]
    return conn


def _ice_ips(v: Visit) -> set[str]:
    return {o["ip"] for o in v.observed("ice")}


def _weighted(v: Visit) -> list[str]:
    return [s["code"] for s in v.result["verdict"]["signals"] if s["weight"] > 0]


# -- 1. direct and behind the NAT: the data channel opens, the ICE checks show the address


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_data_channel_opens_and_ice_shows_the_public_address(conn_visits: Visits, key: str) -> None:
    v = conn_visits[key]
    conn = _connection(v)
    assert conn["attempted"] is True
    assert conn["state"] == "connected", conn
    assert conn["open_ms"] is not None
    assert conn["answer_ms"] is not None
    assert conn["answer_ms"] <= conn["open_ms"]
    assert len(conn["rtts_ms"]) == 3, conn
    assert all(0 <= x < 100 for x in conn["rtts_ms"]), conn
    assert v.observed("ice"), v.result["observed"]
    assert _ice_ips(v), v.observed("ice")
    assert _ice_ips(v) <= DEFAULTS[key], v.observed("ice")
    assert NAT_CLIENT_V4 not in _ice_ips(v)
    assert len(conn["http"]) == 3, conn


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_default_browsers_stay_low_with_the_test_connection(conn_visits: Visits, key: str) -> None:
    v = conn_visits[key]
    assert v.result["verdict"]["level"] == "low", v.result["verdict"]
    assert _weighted(v) == [], v.result["verdict"]
    assert {FAILED, RTT, MISMATCH}.isdisjoint(v.codes)


# -- 2. HTTP through the proxy: ICE shows the NAT, HTTP the proxy --------------------------


@pytest.mark.parametrize("key", ["chromium-nat-proxy", "firefox-nat-proxy"])
def test_through_the_proxy_ice_shows_the_nat_and_http_the_proxy(
    conn_visits: Visits, key: str
) -> None:
    v = conn_visits[key]
    assert v.result["http"]["client_ip"] == PROXY_V4
    assert _connection(v)["state"] == "connected", _connection(v)
    assert _ice_ips(v), v.observed("ice")
    assert _ice_ips(v) <= BEHIND_NAT, v.observed("ice")
    assert PROXY_V4 not in _ice_ips(v)
    assert MISMATCH in v.codes, v.result["verdict"]
    # The undelayed proxy adds no latency worth a signal.
    assert RTT not in v.codes, v.result["verdict"]
    assert FAILED not in v.codes


# -- 3. disable_non_proxied_udp: TURN over TCP through the proxy, no leak ---------------


def test_proxied_turn_is_no_leak_and_the_policy_is_inferred(conn_visits: Visits) -> None:
    v = conn_visits["chromium-nat-proxy-policy"]
    assert v.result["http"]["client_ip"] == PROXY_V4
    assert v.observed(transport="udp") == [], v.result["observed"]
    tcp = v.observed(transport="tcp")
    assert {o["ip"] for o in tcp} == {PROXY_V4}, tcp
    assert MISMATCH not in v.codes, v.result["verdict"]
    assert FAILED not in v.codes, v.result["verdict"]
    assert ROUTER_WAN_V4 not in _ice_ips(v)
    policy = v.result.get("policy")
    assert policy, sorted(v.result)
    assert "disable_non_proxied_udp" in json.dumps(policy), policy


# -- 4. path latency ------------------------------------------------------------------


def test_a_slow_proxy_path_is_an_rtt_mismatch(conn_visits: Visits) -> None:
    v = conn_visits["chromium-nat-slow-proxy"]
    assert v.result["http"]["client_ip"] == PROXY_V4
    conn = _connection(v)
    http_rtts = conn["http"]
    assert len(http_rtts) >= 2, conn
    assert min(http_rtts) >= 2 * DELAY_MS, http_rtts
    assert conn["state"] == "connected", conn
    assert max(conn["rtts_ms"]) < 2 * DELAY_MS, conn
    assert RTT in v.codes, v.result["verdict"]
    assert v.signal(RTT)["weight"] > 0


# -- 5. the offer blocked ---------------------------------------------------------------


def test_a_blocked_offer_is_conn_failed(conn_visits: Visits) -> None:
    v = conn_visits["chromium-blocked-offer"]
    conn = _connection(v)
    assert conn["attempted"] is True
    assert conn["state"] == "failed", conn
    assert "Failed to fetch" in (conn["error"] or ""), conn
    assert v.observed("ice") == []
    assert FAILED in v.codes, v.result["verdict"]
    assert v.signal(FAILED)["weight"] > 0


# -- every visit ends well under the deadline ---------------------------------------------


@pytest.mark.parametrize("key", [k for k in SCENARIOS if k.startswith("chromium")])
def test_visits_end_quickly(conn_visits: Visits, key: str) -> None:
    v = conn_visits[key]
    assert v.done_ms is not None
    assert v.done_ms < 4000, v.done_ms
