"""End to end: browser-engine consistency with real browsers in the sandbox.

Debian's Chromium started with a Firefox user agent (``--user-agent=``) and Firefox ESR
with a Chrome user agent (``general.useragent.override``) visit the real leak-test page;
icewatch must see through both (``candidate.shape_mismatch``). Default Chromium and
Firefox, directly and behind the NAT router, must come out ``low`` with no weighted
signal and none of the environment signals, with a claim and a dialect that name them
correctly.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browser.netns import CLIENT, NAT_CLIENT
from tests.e2e.conftest import Visits
from tests.e2e.harness import E2E, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHAPE = "candidate.shape_mismatch"
NETWORK = "env.ua_network_mismatch"
VPN = "net.vpn_interface"
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)

SCENARIOS: dict[str, Callable[[E2E], Visit]] = {
    "chromium-direct": lambda e: e.chromium(role=CLIENT),
    "chromium-nat": lambda e: e.chromium(role=NAT_CLIENT),
    "firefox-direct": lambda e: e.firefox(role=CLIENT),
    "firefox-nat": lambda e: e.firefox(role=NAT_CLIENT),
    "chromium-as-firefox": lambda e: e.chromium([f"--user-agent={FIREFOX_UA}"], role=CLIENT),
    "firefox-as-chrome": lambda e: e.firefox(
        {"general.useragent.override": CHROME_UA}, role=NAT_CLIENT
    ),
}
DEFAULTS = ["chromium-direct", "chromium-nat", "firefox-direct", "firefox-nat"]


@pytest.fixture(scope="module")
def visits(sandbox: E2E) -> Visits:
    return Visits(sandbox, SCENARIOS)


@pytest.mark.parametrize("key", DEFAULTS)
def test_default_browsers_are_consistent_and_low(visits: Visits, key: str) -> None:
    v = visits[key]
    verdict = v.result["verdict"]
    assert verdict["level"] == "low", verdict
    weighted = [s for s in verdict["signals"] if s["weight"]]
    assert not weighted, weighted
    assert not {SHAPE, NETWORK, VPN} & v.codes, verdict

    client = v.result["client"]
    dialect = v.result["dialect"]
    assert client is not None
    assert client["device"] == "desktop"
    assert client["os"] == "Linux"
    assert client["parser"].startswith("ua-parser")
    if v.browser == "chromium":
        assert client["browser"] == "HeadlessChrome"
        assert client["engine"] == "blink"
        # Client hints exist only in secure contexts: the sandbox page is plain HTTP on
        # a non-loopback address, so Chromium sends none here. When it does, they agree.
        if client["hints"] is not None:
            assert client["hints"]["engine"] == "blink"
        assert client["notes"] == []
        assert dialect["dialect"] == "libwebrtc"
    else:
        assert client["browser"] == "Firefox"
        assert client["engine"] == "gecko"
        assert client["hints"] is None  # Firefox sends no client hints
        assert dialect["dialect"] == "firefox"
    assert dialect["confident"] is True
    assert dialect["confidence"] >= 0.8
    assert dialect["mixed"] is False


def test_chromium_with_a_firefox_user_agent_is_caught(visits: Visits) -> None:
    v = visits["chromium-as-firefox"]
    client = v.result["client"]
    assert client["browser"] == "Firefox"  # the override took effect...
    assert client["engine"] == "gecko"
    assert v.result["http"]["user_agent"] == FIREFOX_UA
    # ...but the WebRTC stack is still Chromium's.
    assert v.result["dialect"]["dialect"] == "libwebrtc"
    assert SHAPE in v.codes, v.result["verdict"]
    shape = v.signal(SHAPE)
    assert shape["weight"] > 0
    assert "user_agent" in shape["evidence"]["contradicted_by"]
    assert shape["evidence"]["claimed"]["engine"] == "gecko"
    assert shape["evidence"]["dialect"] == "libwebrtc"
    names = {f["name"] for f in shape["evidence"]["features"]}
    assert {"libwebrtc_extensions", "sdp_origin"} <= names
    assert shape["evidence"]["against"] == []
    assert v.result["verdict"]["level"] != "low"
    # Chromium keeps telling the truth in its client hints.
    if client["hints"] is not None and client["hints"]["engine"] == "blink":
        assert "hints_from_non_chromium" in client["notes"]


def test_firefox_with_a_chrome_user_agent_is_caught(visits: Visits) -> None:
    v = visits["firefox-as-chrome"]
    client = v.result["client"]
    assert client["browser"] == "Chrome"
    assert client["engine"] == "blink"
    assert client["os"] == "Windows"
    assert client["hints"] is None
    assert v.result["dialect"]["dialect"] == "firefox"
    assert SHAPE in v.codes, v.result["verdict"]
    assert v.signal(SHAPE)["evidence"]["contradicted_by"] == ["user_agent"]
    assert v.result["verdict"]["level"] != "low"
    # A Windows desktop on the sandbox's veth: no adapter information, no network signal.
    assert NETWORK not in v.codes
