"""The real listener against real Chromium and Firefox, inside the namespace sandbox.

The sandbox and drivers are ``tests/browser``'s; the server process is
:mod:`tests.listener.browser_serve`: the capture page plus icewatch's own listener, with
one listener per refusal code (403 on 3478, 486 on 3479, 508 on 3480). Each visit gets a
real per-session TURN REST credential, so the authenticated Allocate must verify, be
attributed to that session with the browser's source address, and be refused in a way
that ends gathering at once (no deadline, no relay candidate).

``python -m tests.listener.test_listener_browsers [N]`` runs the refusal-code timing
comparison (N visits per browser and code) and prints a table.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from tests.browser.drivers import HTTP_PORT, BrowserRun, Harness
from tests.browser.netns import (
    CLIENT,
    CLIENT_V4,
    NAT_CLIENT,
    ROUTER_WAN_V4,
    SERVER,
    SERVER_V4,
    SERVER_V6,
    missing_prerequisites,
    topology,
)

from icewatch.core.session import make_session_id, session_turn_credential

pytestmark = pytest.mark.browser

REALM = "icewatch.test"
PORTS = {403: 3478, 486: 3479, 508: 3480}


@dataclass
class ListenerHarness(Harness):
    """``tests/browser``'s harness with icewatch's listener as the STUN/TURN server."""

    turn_url: str = f"turn:{SERVER_V4}:3478?transport=udp"
    stun_urls: tuple[str, ...] = (f"stun:{SERVER_V4}:3478", f"stun:[{SERVER_V6}]:3478")

    def start_server(self) -> None:
        argv = [sys.executable, "-m", "tests.listener.browser_serve", "--out", str(self.out),
                "--secret", self.secret, "--http", f"{SERVER_V4}:{HTTP_PORT}"]  # fmt: skip
        for code, port in PORTS.items():
            argv += ["--stun", f"{SERVER_V4},{SERVER_V6}:{port}:{code}"]
        log = (self.out / "server.log").open("ab")
        self.server = self.topo.run_in(SERVER, argv, stderr=log)
        assert self.server.popen.stdout is not None
        line = self.server.popen.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"listener did not start: {line!r}; see {self.out}/server.log")
        for role in (CLIENT, NAT_CLIENT):
            stub = self.topo.run_in(role, [sys.executable, "-m", "tests.browser.dnsstub",
                                           str(self.out / f"dns-{role}.jsonl")])  # fmt: skip
            assert stub.popen.stdout is not None
            if stub.popen.stdout.readline().decode().strip() != "ready":
                raise RuntimeError(f"DNS stub did not start in {role}")

    def _session(self, scenario: str) -> tuple[str, dict[str, str], str]:
        session = make_session_id(os.urandom(16))
        expires = int(time.time()) + 3600
        username, password = session_turn_credential(bytes.fromhex(self.secret), session, expires)
        query = [("stun", u) for u in self.stun_urls]
        query += [("turn", self.turn_url), ("user", username), ("cred", password),
                  ("session", session), ("deadline", "3000")]  # fmt: skip
        url = f"http://{SERVER_V4}:{HTTP_PORT}/page/index.html?{urlencode(query)}"
        return session, {"username": username, "password": password, "realm": REALM}, url

    def visit(
        self, browser: str, code: int = 403, transport: str = "udp", role: str = CLIENT
    ) -> BrowserRun:
        self.turn_url = f"turn:{SERVER_V4}:{PORTS[code]}?transport={transport}"
        if browser == "chromium":
            return self.chromium(f"refuse-{code}", role=role)
        return self.firefox(f"refuse-{code}", role=role)


@dataclass
class Visit:
    """What one visit showed: the page's side and the listener's side."""

    run: BrowserRun
    code: int

    @property
    def observations(self) -> list[dict[str, Any]]:
        return [d for d in self.run.datagrams if d.get("dir") == "in"]

    @property
    def authenticated(self) -> list[dict[str, Any]]:
        return [o for o in self.observations if o["kind"] == "allocate-authenticated"]

    @property
    def complete_ms(self) -> float | None:
        for e in self.run.result["events"]:
            if e.get("gatheringState") == "complete":
                return float(e["ms"])
        return None

    def refusal_to_complete_ms(self) -> float | None:
        """From the listener receiving the authenticated Allocate to end of gathering."""
        done = self.complete_ms
        if done is None or not self.authenticated:
            return None
        started = float(self.run.result["startedAt"]) / 1000
        at = float(self.authenticated[-1]["at"])
        return round((started + done / 1000 - at) * 1000, 1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ListenerHarness]:
    missing = missing_prerequisites()
    if missing:
        pytest.skip("real-browser tests need " + "; ".join(missing))
    with topology() as topo:
        out = topo.workdir / "server"
        out.mkdir(exist_ok=True)
        h = ListenerHarness(topo=topo, out=out, secret=secrets.token_hex(16))
        h.start_server()
        yield h
        guards = topo.guards()
        assert all(g.packets == 0 for g in guards.values()), guards


def _check(visit: Visit, source: str, transport: str = "udp") -> None:
    run = visit.run
    result = run.result
    assert result["exception"] is None
    # gathering ended by itself, well before the page's 3 s deadline
    assert result["endedBy"] == "null-candidate", result["events"]
    assert visit.complete_ms is not None
    assert visit.complete_ms < 1500
    # the authenticated Allocate: the session's credential, the browser's source
    auth = visit.authenticated
    assert auth, visit.observations
    assert {o["session_id"] for o in auth} == {run.session}
    assert {o["integrity"] for o in auth} == {"valid"}
    assert {o["ip"] for o in auth} == {source}
    assert {o["transport"] for o in auth} == {transport}
    assert {o["refuse_code"] for o in auth} == {visit.code}
    # nothing was relayed or allocated: no relay candidate, and the page saw the refusal
    # (Firefox 153 reports 508 as errorCode 65535; 403 and 486 as themselves)
    assert not any(" typ relay" in c for c in run.candidate_lines)
    assert result["errors"]
    # nothing else was attributed to a session
    assert all(o["session_id"] in (None, run.session) for o in visit.observations)


@pytest.mark.parametrize("code", sorted(PORTS))
def test_chromium_refusal_ends_gathering(sandbox: ListenerHarness, code: int) -> None:
    _check(Visit(sandbox.visit("chromium", code), code), CLIENT_V4)


@pytest.mark.parametrize("code", sorted(PORTS))
def test_firefox_refusal_ends_gathering(sandbox: ListenerHarness, code: int) -> None:
    _check(Visit(sandbox.visit("firefox", code), code), CLIENT_V4)


def test_chromium_turn_over_tcp(sandbox: ListenerHarness) -> None:
    visit = Visit(sandbox.visit("chromium", 403, transport="tcp"), 403)
    _check(visit, CLIENT_V4, transport="tcp")


def test_chromium_behind_nat_is_seen_at_the_router(sandbox: ListenerHarness) -> None:
    visit = Visit(sandbox.visit("chromium", 403, role=NAT_CLIENT), 403)
    _check(visit, ROUTER_WAN_V4)
    bindings = [o for o in visit.observations if o["kind"] == "binding" and o["family"] == "ipv4"]
    assert bindings
    assert {o["ip"] for o in bindings} == {ROUTER_WAN_V4}


# --- the timing comparison (python -m tests.listener.test_listener_browsers [N]) ---------


def compare(runs: int) -> list[dict[str, Any]]:
    rows = []
    with topology() as topo:
        out = topo.workdir / "server"
        out.mkdir(exist_ok=True)
        h = ListenerHarness(topo=topo, out=out, secret=secrets.token_hex(16))
        h.start_server()
        for browser in ("chromium", "firefox"):
            for code in sorted(PORTS):
                visits = [Visit(h.visit(browser, code), code) for _ in range(runs)]
                after = [v.refusal_to_complete_ms() for v in visits]
                gathering = [v.complete_ms for v in visits]
                ok = [a for a in after if a is not None]
                done = [g for g in gathering if g is not None]
                rows.append(
                    {
                        "browser": f"{browser} {visits[0].run.version}",
                        "code": code,
                        "runs": runs,
                        "ended_by_itself": sum(
                            v.run.result["endedBy"] == "null-candidate" for v in visits
                        ),
                        "gathering_ms_median": statistics.median(done) if done else None,
                        "refusal_to_complete_ms_median": statistics.median(ok) if ok else None,
                        "refusal_to_complete_ms": ok,
                        "error_codes": sorted(
                            {e.get("errorCode") for v in visits for e in v.run.result["errors"]}
                        ),
                    }
                )
        guards = topo.guards()
        assert all(g.packets == 0 for g in guards.values()), guards
    return rows


if __name__ == "__main__":
    table = compare(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(
        "| browser | code | ended by itself | gathering (median ms) | refusal → complete "
        "| page's errorCode |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for r in table:
        print(
            f"| {r['browser']} | {r['code']} | {r['ended_by_itself']}/{r['runs']} "
            f"| {r['gathering_ms_median']} | {r['refusal_to_complete_ms_median']} ms "
            f"({', '.join(str(x) for x in r['refusal_to_complete_ms'])}) | {r['error_codes']} |"
        )
    Path("/tmp/icewatch-refusal-timing.json").write_text(json.dumps(table, indent=2))
