"""End to end: operator IP lists with a real browser.

Two more ``icewatch serve`` processes run in the server namespace beside the sandbox's
main one (which keeps its default settings for the other tests): one started with
``--list datacenter=FILE`` naming the sandbox client's address, one with the same list
and an ``allow`` list covering it. Chromium in the client namespace loads each one's
page; the session JSON must show ``ip.datacenter`` with the list's provenance on the
first, and no ``ip.*`` signal (the lookup marked allowed, naming the allow list) on the
second.

Run with ``pytest -m browser tests/e2e`` (root, chromium).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.netns import CLIENT, CLIENT_V4, SERVER_V4
from tests.e2e.harness import E2E, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

DC_PORTS = (8091, 3491)
ALLOW_PORTS = (8092, 3492)


@pytest.fixture(scope="module")
def listed(sandbox: E2E) -> dict[str, Visit]:
    dc = sandbox.work / "intel-datacenter.txt"
    dc.write_text(f"# the e2e client, listed as a datacenter address\n{CLIENT_V4}/32\n")
    allow = sandbox.work / "intel-allow.txt"
    allow.write_text(f"{CLIENT_V4.rsplit('.', 1)[0]}.0/24  # the client's segment\n")
    procs = [
        sandbox.start_extra_server("intel-dc", *DC_PORTS, "--list", f"datacenter={dc}"),
        sandbox.start_extra_server(
            "intel-allow", *ALLOW_PORTS, "--list", f"datacenter={dc}", "--list", f"allow={allow}"
        ),
    ]
    try:
        return {
            "dc": sandbox.chromium(role=CLIENT, url=f"http://{SERVER_V4}:{DC_PORTS[0]}/"),
            "allow": sandbox.chromium(role=CLIENT, url=f"http://{SERVER_V4}:{ALLOW_PORTS[0]}/"),
        }
    finally:
        for proc in procs:
            proc.stop()
            if proc in sandbox.topo.procs:
                sandbox.topo.procs.remove(proc)


def _lookup(v: Visit, ip: str) -> dict[str, Any]:
    return next(x for x in v.result["intel"]["lookups"] if x["ip"] == ip)


def test_listed_client_gets_ip_datacenter_with_provenance(listed: dict[str, Visit]) -> None:
    v = listed["dc"]
    assert v.result["http"]["client_ip"] == CLIENT_V4
    assert "ip.datacenter" in v.codes, v.result["verdict"]
    sig = v.signal("ip.datacenter")
    assert sig["weight"] == 35
    assert CLIENT_V4 in sig["summary"]
    (addr,) = sig["evidence"]["addresses"]
    assert addr["ip"] == CLIENT_V4
    assert "http" in addr["seen_as"]
    assert "observed" in addr["seen_as"], "the server's own STUN/TURN view counts too"
    prov = addr["hits"][0]["provenance"]
    assert prov["source"] == "list:datacenter:intel-datacenter.txt"
    assert prov["prefix"] == f"{CLIENT_V4}/32"
    assert addr["hits"][0]["kind"] == "hosting"
    assert "lists: list:datacenter:intel-datacenter.txt" in sig["evidence"]["data"]
    assert v.result["verdict"]["level"] == "medium"
    assert _lookup(v, CLIENT_V4)["allowed"] is False


def test_allow_list_suppresses_the_signal_and_says_so(listed: dict[str, Visit]) -> None:
    v = listed["allow"]
    assert not {c for c in v.codes if c in {"ip.datacenter", "ip.vpn", "ip.tor"}}
    assert v.result["verdict"]["level"] == "low", v.result["verdict"]
    lookup = _lookup(v, CLIENT_V4)
    assert lookup["allowed"] is True
    kinds = {h["kind"]: h["provenance"] for h in lookup["hits"]}
    assert kinds["allow"]["source"] == "list:allow:intel-allow.txt"
    assert kinds["allow"]["prefix"] == f"{CLIENT_V4.rsplit('.', 1)[0]}.0/24"
    assert "hosting" in kinds, "the datacenter hit stays in the evidence"
