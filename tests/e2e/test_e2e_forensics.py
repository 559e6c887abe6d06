"""End to end: spoof and tamper forensics with real browsers in the sandbox.

Chromium (Playwright) loads the real leak-test page with an init script that plays a
browser extension (``add_init_script`` runs in every frame before any page code):

* an anti-detect wrapper the way stealth extensions write them — ``RTCPeerConnection``
  behind a ``Proxy``, ``Function.prototype.toString`` patched to print native-looking
  text for every function it replaced, the ``onicecandidate`` setter and the
  ``localDescription`` getter rewritten so the page sees the proxy's address 10.77.1.3
  instead of its own in the candidates and the SDP → ``candidate.spoofed`` (the server
  saw the real address), and ``webrtc.api_tampered`` (a fresh frame's ``toString`` and
  ``getStats()`` are not fooled);
* a naive wrapper (a plain function replacing the constructor) → ``webrtc.api_tampered``;
* ``RTCPeerConnection`` and its friends deleted → ``webrtc.unavailable``.

And the false-positive guard: default Chromium and default Firefox ESR, directly and
behind the NAT router, run every tamper check and come out with none of these signals.
Firefox cannot run init scripts here (no Playwright for stock Firefox), so the tamper
scenarios run on Chromium.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.netns import CLIENT, CLIENT_V4, NAT_CLIENT, NAT_CLIENT_V4, ROUTER_WAN_V4
from tests.browser.scenarios import NO_MDNS
from tests.e2e.conftest import Visits
from tests.e2e.harness import E2E, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PROXY_ADDRESS = "10.77.1.3"
SPOOFED = "candidate.spoofed"
TAMPERED = "webrtc.api_tampered"
MALFORMED = "candidate.malformed"
UNAVAILABLE = "webrtc.unavailable"

#: An anti-detect wrapper, the way stealth extensions write them: the constructor behind
#: a Proxy (prototype.constructor and the webkit alias pointed at it too), every replaced
#: function registered with a patched Function.prototype.toString that prints native
#: text, and candidate addresses rewritten to the proxy's in events and in the SDP.
ANTI_DETECT = """
(() => {
  const FAKE = "__FAKE__";
  const disguised = new WeakMap();
  const disguise = (fn, name) => {
    disguised.set(fn, "function " + name + "() { [native code] }");
    return fn;
  };
  const nativeToString = Function.prototype.toString;
  const toString = new Proxy(nativeToString, {
    apply(target, self, args) {
      return disguised.has(self) ? disguised.get(self) : Reflect.apply(target, self, args);
    },
  });
  Object.defineProperty(Function.prototype, "toString", {
    value: disguise(toString, "toString"), writable: true, configurable: true,
  });
  // Only the connection-address of IPv4 candidates: the raddr and mDNS names stay.
  const address = /^((?:a=)?candidate:\\S+ \\d+ \\S+ \\d+ )\\d{1,3}(?:\\.\\d{1,3}){3} /;
  const rewrite = (line) => line.replace(address, "$1" + FAKE + " ");
  const rewriteSdp = (sdp) => sdp.split("\\r\\n").map(rewrite).join("\\r\\n");

  const Native = window.RTCPeerConnection;
  const P = Native.prototype;
  const on = Object.getOwnPropertyDescriptor(P, "onicecandidate");
  const fakeEvent = (e) => {
    const c = e.candidate;
    if (!c || !c.candidate) return e;
    return new RTCPeerConnectionIceEvent("icecandidate", {
      candidate: new RTCIceCandidate({
        candidate: rewrite(c.candidate), sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex,
        usernameFragment: c.usernameFragment,
      }),
    });
  };
  const setter = Object.getOwnPropertyDescriptor({
    set onicecandidate(handler) {
      const self = this;
      on.set.call(this, typeof handler === "function"
        ? function (e) { return handler.call(self, fakeEvent(e)); } : handler);
    },
  }, "onicecandidate").set;
  Object.defineProperty(P, "onicecandidate", {
    ...on, set: disguise(setter, "set onicecandidate"),
  });
  const ld = Object.getOwnPropertyDescriptor(P, "localDescription");
  const getter = Object.getOwnPropertyDescriptor({
    get localDescription() {
      const d = ld.get.call(this);
      return d && new RTCSessionDescription({ type: d.type, sdp: rewriteSdp(d.sdp) });
    },
  }, "localDescription").get;
  Object.defineProperty(P, "localDescription", {
    ...ld, get: disguise(getter, "get localDescription"),
  });

  const Wrapped = new Proxy(Native, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args, newTarget === Wrapped ? target : newTarget);
    },
  });
  disguise(Wrapped, "RTCPeerConnection");
  Object.defineProperty(P, "constructor", { value: Wrapped, writable: true, configurable: true });
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection"]) {
    Object.defineProperty(window, name, { value: Wrapped, writable: true, configurable: true });
  }
})();
""".replace("__FAKE__", PROXY_ADDRESS)

#: A naive wrapper: a plain function in place of the constructor, nothing disguised.
NAIVE = """
(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function RTCPeerConnection(config) { return new Native(config); };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""

#: WebRTC removed the way some privacy tools and automation stacks do it.
DELETED = """
for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCIceCandidate",
                    "RTCSessionDescription", "RTCPeerConnectionIceEvent", "RTCDataChannel"]) {
  delete window[name];
}
"""

SCENARIOS: dict[str, Callable[[E2E], Visit]] = {
    "anti-detect": lambda e: e.chromium(role=CLIENT, init_scripts=[ANTI_DETECT]),
    "naive": lambda e: e.chromium(role=CLIENT, init_scripts=[NAIVE]),
    "deleted": lambda e: e.chromium(role=CLIENT, init_scripts=[DELETED]),
    "chromium-direct": lambda e: e.chromium(role=CLIENT),
    "chromium-nat": lambda e: e.chromium(role=NAT_CLIENT),
    "firefox-direct": lambda e: e.firefox(role=CLIENT),
    "firefox-nat": lambda e: e.firefox(role=NAT_CLIENT),
    # Raw host addresses behind the NAT: srflx raddr = a host, c= = the srflx.
    "chromium-nomdns-nat": lambda e: e.chromium([NO_MDNS], role=NAT_CLIENT),
    "firefox-noobfuscate-nat": lambda e: e.firefox(
        {"media.peerconnection.ice.obfuscate_host_addresses": False}, role=NAT_CLIENT
    ),
}
DEFAULTS = ["chromium-direct", "chromium-nat", "firefox-direct", "firefox-nat"]
RAW_HOSTS = ["chromium-nomdns-nat", "firefox-noobfuscate-nat"]


@pytest.fixture(scope="session")
def forensic_visits(sandbox: E2E) -> Visits:
    return Visits(sandbox, SCENARIOS)


def _tamper(v: Visit) -> dict[str, Any]:
    report = v.result["report"]
    assert report is not None
    tamper: dict[str, Any] = report["tamper"]
    assert tamper is not None, report
    return tamper


def _failed(v: Visit) -> set[str]:
    return {f["check"] for f in v.signal(TAMPERED)["evidence"]["failed"]}


# -- 1. the anti-detect wrapper: the page is lied to, the server is not -----------------


def test_anti_detect_wrapper_rewrites_what_the_page_sees(forensic_visits: Visits) -> None:
    v = forensic_visits["anti-detect"]
    srflx = [c for c in v.result["candidates"] if c["type"] == "srflx"]
    assert PROXY_ADDRESS in {c["address"] for c in srflx}, v.result["candidates"]
    assert CLIENT_V4 not in {c["address"] for c in srflx}
    assert f" {PROXY_ADDRESS} " in (v.result["sdp"] or "")
    # The collector's own toString check is fooled, as intended by the wrapper.
    assert "native:RTCPeerConnection" not in {f["check"] for f in _tamper(v)["failed"]}


def test_anti_detect_wrapper_is_caught_by_the_server_view(forensic_visits: Visits) -> None:
    v = forensic_visits["anti-detect"]
    assert SPOOFED in v.codes, v.result["verdict"]
    spoofed = v.signal(SPOOFED)
    kinds = [f["kind"] for f in spoofed["evidence"]["findings"]]
    assert kinds[0] == "rewritten", kinds
    first = spoofed["evidence"]["findings"][0]
    assert first["reported"]["address"] == PROXY_ADDRESS
    assert first["observed"]["ip"] == CLIENT_V4
    assert first["reported"]["port"] == first["observed"]["port"]
    assert PROXY_ADDRESS in spoofed["summary"]
    assert CLIENT_V4 in spoofed["summary"]
    assert v.result["verdict"]["level"] == "high", v.result["verdict"]


def test_anti_detect_wrapper_is_caught_by_a_fresh_realm_and_get_stats(
    forensic_visits: Visits,
) -> None:
    v = forensic_visits["anti-detect"]
    assert TAMPERED in v.codes, v.result["verdict"]
    ev = v.signal(TAMPERED)["evidence"]
    # A fresh frame's toString is its own (the wrapper patched the frame's copy for the
    # frame's functions only) and shows the Proxy for what it is.
    assert "realm:RTCPeerConnection" in _failed(v), ev["failed"]
    # getStats() still lists the real srflx, which no event delivered.
    missing = [d for d in ev["stats"] if d["kind"] == "not_in_events"]
    assert any(CLIENT_V4 in d["seen"] for d in missing), ev["stats"]


# -- 2. a naive wrapper -----------------------------------------------------------------


def test_naive_wrapper_is_api_tampered(forensic_visits: Visits) -> None:
    v = forensic_visits["naive"]
    assert TAMPERED in v.codes, v.result["verdict"]
    failed = _failed(v)
    assert {"native:RTCPeerConnection", "prototype:constructor", "prototype:chain"} <= failed
    detail = next(
        f["detail"]
        for f in v.signal(TAMPERED)["evidence"]["failed"]
        if f["check"] == "native:RTCPeerConnection"
    )
    assert "new Native(config)" in detail
    # The API still works underneath: the candidates are the browser's own.
    assert SPOOFED not in v.codes
    assert MALFORMED not in v.codes
    assert v.result["verdict"]["level"] != "low"


# -- 3. WebRTC deleted --------------------------------------------------------------------


def test_deleted_api_is_unavailable(forensic_visits: Visits) -> None:
    v = forensic_visits["deleted"]
    assert v.result["report"]["webrtc"] == "missing"
    assert UNAVAILABLE in v.codes, v.result["verdict"]
    ev = v.signal(UNAVAILABLE)["evidence"]
    assert ev["claimed_browser"]["name"] == "chrome"
    assert ev["claimed_browser"]["ships_webrtc"] is True
    assert "always has it" in v.signal(UNAVAILABLE)["summary"]
    assert v.result["observed"] == []
    assert SPOOFED not in v.codes


# -- 4. the false-positive guard ----------------------------------------------------------


@pytest.mark.parametrize("key", DEFAULTS + RAW_HOSTS)
def test_default_browsers_pass_every_tamper_check(forensic_visits: Visits, key: str) -> None:
    v = forensic_visits[key]
    tamper = _tamper(v)
    assert tamper["failed"] == [], tamper["failed"]
    assert tamper["checks"] >= 30, tamper
    assert tamper["stats"], tamper  # getStats() answered
    assert tamper["stats_error"] is None
    assert {TAMPERED, SPOOFED, MALFORMED, UNAVAILABLE}.isdisjoint(v.codes), v.result["verdict"]
    assert v.result["verdict"]["level"] == "low", v.result["verdict"]
    weighted = [s["code"] for s in v.result["verdict"]["signals"] if s["weight"] > 0]
    assert weighted == [], weighted


@pytest.mark.parametrize("key", ["chromium-nat", "firefox-nat"])
def test_nat_clients_are_seen_from_the_router(forensic_visits: Visits, key: str) -> None:
    v = forensic_visits[key]
    assert {o["ip"] for o in v.observed(transport="udp") if o["family"] == "ipv4"} == {
        ROUTER_WAN_V4
    }


@pytest.mark.parametrize("key", RAW_HOSTS)
def test_raw_hosts_behind_nat_agree_with_their_srflx(forensic_visits: Visits, key: str) -> None:
    v = forensic_visits[key]
    srflx = [c for c in v.result["candidates"] if c["type"] == "srflx" and c["protocol"] == "udp"]
    hosts = {(c["address"], c["port"]) for c in v.result["candidates"] if c["type"] == "host"}
    v4 = [c for c in srflx if c["address"] == ROUTER_WAN_V4]
    assert v4, v.result["candidates"]
    # The related address is the host the srflx was gathered from: checked, and real.
    assert all((c["related_address"], c["related_port"]) in hosts for c in v4)
    assert NAT_CLIENT_V4 in {c["related_address"] for c in v4}
    assert f"c=IN IP4 {ROUTER_WAN_V4}" in (v.result["sdp"] or "")
