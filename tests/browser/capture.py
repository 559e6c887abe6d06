"""Record what real browsers emit in the sandbox into ``tests/data/captures/``.

``python -m tests.browser.capture [--out DIR] [SCENARIO...]`` (or ``scripts/capture-browsers``)
builds the sandbox, runs each scenario (default: all of
:data:`tests.browser.scenarios.SCENARIOS`) once against the test STUN/TURN responder and
writes ``<browser>-<major version>-<scenario>.json`` with the browser's exact version,
flags/prefs, user agent, every candidate line with its time, the SDP, the datagrams the
server received (and its replies) with source and time, and the TURN credentials used so
MESSAGE-INTEGRITY can be checked again later. Needs root, chromium and firefox-esr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser.drivers import PAGE_DEADLINE_MS, BrowserRun, harness
from tests.browser.netns import SERVER_V4, missing_prerequisites
from tests.browser.scenarios import SCENARIOS, Scenario

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
FORMAT = 1


def _dns_summary(run: BrowserRun, rel: Callable[[float], float]) -> list[dict[str, Any]]:
    """The stub resolver's log for this run, one entry per name (all answered REFUSED)."""
    names: dict[str, dict[str, Any]] = {}
    for q in run.dns:
        entry = names.setdefault(q["name"], {"name": q["name"], "first_ms": rel(q["t"]),
                                             "queries": 0, "qtypes": []})  # fmt: skip
        entry["queries"] += 1
        if q["qtype"] not in entry["qtypes"]:
            entry["qtypes"].append(q["qtype"])
    return list(names.values())


def capture_record(scenario: Scenario, run: BrowserRun, egress_drops: int) -> dict[str, Any]:
    """The JSON document stored for one run."""
    started_ms = float(run.result["startedAt"])

    def rel(t: float) -> float:
        return round(t * 1000 - started_ms, 1)

    return {
        "format": FORMAT,
        "browser": run.browser,
        "version": run.version,
        "scenario": scenario.name,
        "description": scenario.description,
        "captured_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": f"{platform.system()} {platform.release()} {platform.machine()}",
        "flags": run.flags,
        "prefs": run.prefs,
        "user_agent": run.result["userAgent"],
        "webdriver": run.result.get("webdriver"),
        "network": {
            "client_namespace": scenario.role,
            "client_host_addresses": [scenario.host_v4, scenario.host_v6],
            "client_public_v4": scenario.public_v4,
            "stun_server": f"{SERVER_V4}:3478",
            "page_deadline_ms": PAGE_DEADLINE_MS,
        },
        "ice_servers": run.result["iceServers"],
        "turn": run.turn,
        "times": "ms since the page created its RTCPeerConnection (datagrams: server clock)",
        "candidates": run.result["candidates"],
        "candidate_errors": run.result["errors"],
        "events": run.result["events"],
        "gathering_ms": run.result["gatheringMs"],
        "ended_by": run.result["endedBy"],
        "sdp": run.result["sdp"],
        "stats_local_candidates": run.result["stats"],
        "datagrams": [
            {
                "ms": rel(d["t"]),
                **{k: v for k, v in d.items() if k != "t"},
            }
            for d in run.datagrams
        ],
        "http_requests": [
            {"ms": rel(h["t"]), "src": h["src"], "method": h["method"], "path": h["target"][:60]}
            for h in run.http
        ],
        "dns_queries": _dns_summary(run, rel),
        "egress_drops": egress_drops,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    ap.add_argument("--out", type=Path, default=CAPTURES)
    args = ap.parse_args(argv)
    missing = missing_prerequisites()
    if missing:
        print("capture-browsers: missing " + "; ".join(missing), file=sys.stderr)
        return 2
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {unknown}; known: {list(SCENARIOS)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with harness() as h:
        for key in chosen:
            scenario = SCENARIOS[key]
            before = sum(g.packets for g in h.topo.guards().values())
            run = scenario.run(h)
            drops = sum(g.packets for g in h.topo.guards().values()) - before
            record = capture_record(scenario, run, drops)
            major = run.version.split(".")[0]
            path = args.out / f"{run.browser}-{major}-{scenario.name}.json"
            path.write_text(json.dumps(record, indent=1) + "\n")
            n_in = sum(1 for d in run.datagrams if d["dir"] == "in")
            print(
                f"{path.name}: {len(run.candidate_lines)} candidates, {n_in} datagrams in, "
                f"gathering {run.result['gatheringMs']} ms, egress drops {drops}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
