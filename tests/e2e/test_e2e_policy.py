"""End to end: the WebRTC IP-handling policy icewatch infers from real browsers, and the
proxied case (Chromium ``disable_non_proxied_udp`` + proxy) reported as the browser
honouring its proxy, not as a leak.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browser.netns import CLIENT, NAT_CLIENT, PROXY_V4
from tests.browser.scenarios import NO_MDNS
from tests.e2e.conftest import Visits
from tests.e2e.harness import E2E, PROXY_FLAG, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

NO_HOSTS = "--webrtc-ip-handling-policy=default_public_interface_only"
NO_UDP = "--webrtc-ip-handling-policy=disable_non_proxied_udp"
NO_OBFUSCATION = {"media.peerconnection.ice.obfuscate_host_addresses": False}

SCENARIOS: dict[str, Callable[[E2E], Visit]] = {
    "chromium-default": lambda e: e.chromium(role=CLIENT),
    "chromium-nomdns": lambda e: e.chromium([NO_MDNS], role=CLIENT),
    "chromium-public-only": lambda e: e.chromium([NO_HOSTS], role=CLIENT),
    "chromium-proxied": lambda e: e.chromium([PROXY_FLAG, NO_UDP], role=NAT_CLIENT),
    "firefox-default": lambda e: e.firefox(role=CLIENT),
    "firefox-noobfuscate": lambda e: e.firefox(NO_OBFUSCATION, role=CLIENT),
}


@pytest.fixture(scope="module")
def policy_visits(sandbox: E2E) -> Visits:
    return Visits(sandbox, SCENARIOS)


@pytest.mark.parametrize(
    ("key", "engine", "policy"),
    [
        ("chromium-default", "chromium", "default"),
        ("chromium-nomdns", "chromium", "mdns_off"),
        ("chromium-public-only", "chromium", "default_public_interface_only"),
        ("chromium-proxied", "chromium", "disable_non_proxied_udp"),
        ("firefox-default", "firefox", "default"),
        ("firefox-noobfuscate", "firefox", "obfuscation_off"),
    ],
)
def test_policy_inferred_from_real_browsers(
    policy_visits: Visits, key: str, engine: str, policy: str
) -> None:
    v = policy_visits[key]
    p = v.result["policy"]
    assert p is not None, v.result["report"]
    assert (p["engine"], p["policy"]) == (engine, policy), p
    assert p["meaning"]
    assert p["reasons"]


def test_proxied_webrtc_is_seen_for_what_it_is(policy_visits: Visits) -> None:
    v = policy_visits["chromium-proxied"]
    assert v.result["http"]["client_ip"] == PROXY_V4
    tcp = v.observed(transport="tcp")
    assert {o["ip"] for o in tcp} == {PROXY_V4}, v.result["observed"]
    assert v.observed(transport="udp") == []
    assert "net.webrtc_proxied" in v.codes, v.result["verdict"]
    proxied = v.signal("net.webrtc_proxied")
    assert proxied["weight"] == 0
    assert proxied["summary"].startswith("WebRTC went through your proxy: no leak.")
    assert "ip.webrtc_http_mismatch" not in v.codes
    assert "conn.failed" not in v.codes
    assert v.result["policy"]["confidence"] >= 0.9


@pytest.mark.parametrize("key", ["chromium-default", "firefox-default", "chromium-nomdns"])
def test_ordinary_browsers_get_no_conn_signal(policy_visits: Visits, key: str) -> None:
    v = policy_visits[key]
    assert not {c for c in v.codes if c.startswith("conn.")}, v.result["verdict"]
    assert "net.webrtc_proxied" not in v.codes
    assert v.result["verdict"]["level"] == "low"
