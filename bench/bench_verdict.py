"""Time to verdict: from page load to ``icewatchState = "done"``, real Chromium, real server.

Builds the end-to-end sandbox (``tests/e2e/harness.py``: network namespaces, the real
``icewatch serve`` in the server namespace, Chromium in the client namespace), then
loads the leak-test page ``--runs`` times in **one** Chromium (one launch, a fresh
navigation of the same URL per run, so static files may come from the browser cache as
on a repeat visit; a first, cold navigation is made and left out of the statistics).
``--launch-per-run`` launches a fresh Chromium with a new profile for every run instead
(a first visit each time).

Per run, all in milliseconds, measured inside the page:

* **time to verdict** — navigation start → ``data-icewatch-state="done"`` (an init script
  with a MutationObserver stamps ``performance.now()``; no polling in the figure);
* page ready — navigation start → DOMContentLoaded;
* session created — navigation start → the ``POST /api/v1/sessions`` answer;
* Chromium's gathering — the collector's ``gathering_ms`` from the session JSON's report
  (collector start → end of candidates), less the session round trip: Chromium's own
  ``createOffer`` → end-of-candidates time against icewatch's STUN/TURN;
* report round trip — ``POST …/report`` sent → answered (wait for observations,
  correlation, scoring, the durable SQLite write);

printed as a table (median, p95, min, max) next to the seed's fixed 1000 ms wait.
Target: median time to verdict ≤ 400 ms.

Usage (root, chromium): ``.venv/bin/python bench/bench_verdict.py [--runs 30] [--json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.browser.netns import CLIENT, missing_prerequisites  # noqa: E402
from tests.e2e.harness import e2e  # noqa: E402

from icewatch import __version__  # noqa: E402

SEED_WAIT_MS = 1000.0
TARGET_MS = 400.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def breakdown(run: dict[str, Any]) -> dict[str, float]:
    """The per-run figures (ms) from one driver run."""
    timing = run["timing"]
    report = run["result"]["report"]
    create, sent = timing["create"], timing["report"]
    session_rtt = create["end"] - create["start"]
    return {
        "time to verdict (navigation start -> done)": run["done_ms"],
        "page ready (DOMContentLoaded)": timing["dom_content_loaded"],
        "session created (POST /sessions answered)": create["end"],
        "Chromium gathering (createOffer -> end of candidates)": report["gathering_ms"]
        - session_rtt,
        "collector gathering_ms (incl. session POST)": report["gathering_ms"],
        "report round trip (POST .../report)": sent["end"] - sent["start"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="measured runs (default 30, min 20)")
    ap.add_argument(
        "--launch-per-run",
        action="store_true",
        help="launch a fresh Chromium (new profile, cold cache) for every run instead",
    )
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args()
    if args.runs < 20:
        ap.error("--runs must be at least 20")
    missing = missing_prerequisites(browsers=False)
    if missing or not Path("/usr/bin/chromium").exists():
        sys.exit("bench_verdict needs: " + "; ".join(missing or ["/usr/bin/chromium"]))

    with e2e() as env:
        if args.launch_per_run:
            outs = [env.chromium_runs(role=CLIENT, runs=1) for _ in range(args.runs + 1)]
            out = {"version": outs[0]["version"], "runs": [o["runs"][0] for o in outs]}
        else:
            out = env.chromium_runs(role=CLIENT, runs=args.runs + 1, timeout=60)
        guards = env.topo.guards()
    runs = out["runs"]
    failed = [r["error"] for r in runs if r["error"]]
    if failed:
        sys.exit(f"{len(failed)} run(s) failed, e.g. {failed[0]}")
    cold, measured = runs[0], runs[1:]
    rows = [breakdown(r) for r in measured]
    ended = {r["result"]["report"]["ended_by"] for r in measured}
    levels = {r["result"]["verdict"]["level"] for r in measured}

    mode = (
        "a fresh browser and profile per run (cold cache)"
        if args.launch_per_run
        else "one browser, a fresh navigation each"
    )
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"icewatch {__version__} time to verdict — Chromium {out['version']}, {python}, "
          f"{len(measured)} runs, {mode}; first run left out: "
          f"{cold['done_ms']:.0f} ms")  # fmt: skip
    print(f"sandbox: client 10.77.1.2 -> icewatch serve 10.77.1.1 (HTTP :8080, STUN/TURN "
          f":3478); every run ended by {', '.join(sorted(ended))}; verdicts: "
          f"{', '.join(sorted(levels))}")  # fmt: skip
    print()
    header = f"{'ms':<56}{'median':>8}{'p95':>8}{'min':>8}{'max':>8}"
    print(header)
    print("-" * len(header))
    for name in rows[0]:
        values = [r[name] for r in rows]
        print(
            f"{name:<56}{statistics.median(values):>8.0f}{percentile(values, 95):>8.0f}"
            f"{min(values):>8.0f}{max(values):>8.0f}"
        )
    print(f"{'seed sample: fixed wait before reading candidates':<56}{SEED_WAIT_MS:>8.0f}"
          f"{SEED_WAIT_MS:>8.0f}{SEED_WAIT_MS:>8.0f}{SEED_WAIT_MS:>8.0f}")  # fmt: skip
    verdict = [r["time to verdict (navigation start -> done)"] for r in rows]
    median = statistics.median(verdict)
    print()
    print(
        f"time to verdict: median {median:.0f} ms, p95 {percentile(verdict, 95):.0f} ms — "
        f"target median <= {TARGET_MS:.0f} ms: {'met' if median <= TARGET_MS else 'NOT met'}"
    )
    dropped = sum(g.packets for g in guards.values())
    print(f"egress guards: {dropped} packet(s) dropped")
    if args.json:
        print(json.dumps({"cold_ms": cold["done_ms"], "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
