"""End to end: the network fingerprint with real browsers and the real server. One
Chromium loads the leak-test page twice (two real gatherings: new ports, mDNS names,
foundations and ufrags) and gets one fingerprint, counted twice; Firefox on the same
network gets another, and so does Chromium behind the NAT when it shows its host
addresses; the page itself says how many sessions share the shape.

Run with ``pytest -m browser tests/e2e`` (root, chromium, firefox-esr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.netns import CLIENT, NAT_CLIENT
from tests.browser.scenarios import NO_MDNS
from tests.e2e.harness import E2E

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARTIFACTS.mkdir(exist_ok=True)

#: Copies what the page shows in its fingerprint section to the console once it is done
#: (the driver returns the console): what a visitor reads, not only the JSON.
DOM_PROBE = """
(() => {
  let sent = false;
  const probe = () => {
    const root = document.documentElement;
    const box = document.getElementById("fingerprint");
    if (!sent && root && root.dataset.icewatchState === "done" && box) {
      sent = true;
      console.log("FINGERPRINT-SECTION " + box.innerText.replace(/\\s+/g, " "));
    }
  };
  new MutationObserver(probe).observe(document, {
    attributes: true, subtree: true, childList: true,
    attributeFilter: ["data-icewatch-state"],
  });
})();
"""


def _fp(result: dict[str, Any]) -> dict[str, Any]:
    fp: dict[str, Any] = result["fingerprint"]
    return fp


def _random_parts(result: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(c["foundation"], c["port"], c["address"], c["ufrag"]) for c in result["candidates"]}


def test_the_same_chromium_twice_then_firefox_and_the_nat(sandbox: E2E) -> None:
    out = sandbox.chromium_runs(
        role=CLIENT,
        runs=2,
        init_scripts=[DOM_PROBE],
        screenshot=ARTIFACTS / "leak-test-fingerprint.png",
    )
    first, second = (run["result"] for run in out["runs"])
    assert all(run["error"] is None for run in out["runs"])
    # Two real gatherings: everything random differs...
    assert first["id"] != second["id"]
    assert _random_parts(first).isdisjoint(_random_parts(second))
    assert set(first["mdns_names"]).isdisjoint(second["mdns_names"])
    # ...and the network shape is one fingerprint, counted once more.
    a, b = _fp(first), _fp(second)
    assert a["id"] == b["id"]
    assert a["id"].startswith("fp1:")
    assert b["population"]["matching"] == a["population"]["matching"] + 1
    assert b["population"]["sessions"] == a["population"]["sessions"] + 1
    parts = {c["name"]: c["value"] for c in a["components"]}
    assert parts["engine"] == "libwebrtc"
    assert parts["mdns"] == "names"
    assert parts["udp"] == "open"
    assert parts["turn"] == "udp"

    # What the visitor reads on the page.
    shown = [line for line in out["console"] if "FINGERPRINT-SECTION" in line]
    assert len(shown) == 2, out["console"]
    assert a["id"] in shown[0]
    assert "share this network shape" in shown[1]
    assert f"{b['population']['sessions']} sessions stored here" in shown[1]
    assert f"{b['population']['bits']} bits of identifying information" in shown[1]

    firefox = sandbox.firefox(role=CLIENT).result
    f = _fp(firefox)
    assert f["id"] != a["id"]
    assert {c["name"]: c["value"] for c in f["components"]}["engine"] == "firefox"
    assert f["population"]["sessions"] == b["population"]["sessions"] + 1

    for visit in (first, second, firefox):
        assert visit["verdict"]["level"] == "low", visit["verdict"]


def test_nat_and_direct_when_the_browser_shows_its_host_address(sandbox: E2E) -> None:
    # Behind the NAT with mDNS hiding (the default), the browser does not show whether it
    # is behind a NAT: in this sandbox the router's address shares the direct client's
    # /24 and keeps ports, so nothing the fingerprint may use tells them apart.
    hidden = _parts(sandbox.chromium(role=NAT_CLIENT).result)
    assert hidden["nat"] == "v4=hidden"
    assert hidden["public_v4"] == "10.77.1.0/24"
    # With raw host addresses, it does.
    direct = sandbox.chromium([NO_MDNS], role=CLIENT).result
    nat = sandbox.chromium([NO_MDNS], role=NAT_CLIENT).result
    d, n = _parts(direct), _parts(nat)
    assert (d["nat"], n["nat"]) == ("v4=direct", "v4=nat")
    assert d["hosts"].startswith("ip:private=")
    assert _fp(direct)["id"] != _fp(nat)["id"]
    for visit in (direct, nat):
        assert visit["verdict"]["level"] == "low", visit["verdict"]


def _parts(result: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["value"] for c in _fp(result)["components"]}
