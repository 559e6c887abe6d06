"""The test connection's cost: offer → data channel open → first RTT, and time to verdict
with the test connection on vs off, real Chromium, real server, in the e2e sandbox.

Two ``icewatch serve`` in the server namespace: the sandbox's own (test connection on,
the default) and a second one with ``--no-test-connection`` on other ports. One Chromium
in the client namespace loads each server's leak-test page ``--runs`` times (a fresh
navigation per run; the first, cold navigation is left out of the statistics).

Per run, in milliseconds:

* **offer → answer** — the ``POST …/offer`` (Resource Timing: start → response end);
* **offer → data channel open** — offer sent → ``onopen`` (the collector's ``open_ms``,
  since its start, less the offer's start on the same clock);
* **offer → first RTT sample** — offer sent → the first data-channel pong;
* data-channel RTT (median of the run's 3 pings) and HTTP RTT (median of the 3 fetches);
* **time to verdict** — navigation start → ``data-icewatch-state="done"``, on and off.

Target: the test connection adds ≤ 300 ms to the median time to verdict.

Usage (root, chromium): ``.venv/bin/python bench/bench_connection.py [--runs 30] [--json]``
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

from tests.browser.netns import CLIENT, SERVER_V4, missing_prerequisites  # noqa: E402
from tests.e2e.harness import e2e  # noqa: E402

from icewatch import __version__  # noqa: E402

TARGET_EXTRA_MS = 300.0
OFF_HTTP_PORT = 8090
OFF_STUN_PORT = 3490


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def connection_figures(run: dict[str, Any]) -> dict[str, float]:
    """The per-run test-connection figures (ms) from one driver run (test connection on)."""
    timing = run["timing"]
    conn = run["result"]["connection"]
    rtts = conn["page_rtt_ms"]["samples"]
    if conn["state"] != "connected" or not rtts:
        raise RuntimeError(f"the test connection did not open: {conn}")
    offer, create = timing["offer"], timing["create"]
    # The collector's clock starts just before POST /sessions: offer start on its clock.
    offer_at = offer["start"] - create["start"]
    open_after = conn["open_ms"] - offer_at
    return {
        "offer -> answer (POST .../offer)": offer["end"] - offer["start"],
        "offer -> data channel open": open_after,
        "offer -> first RTT sample": open_after + rtts[0],
        "data-channel RTT (median of 3 pings)": statistics.median(rtts),
        "HTTP RTT (median of 3 fetches)": statistics.median(
            conn["http_rtt_ms"]["samples"] or [0.0]
        ),
        "offer answered -> report sent": timing["report"]["start"] - offer["end"],
        "report round trip (POST .../report)": timing["report"]["end"] - timing["report"]["start"],
        "time to verdict, test connection on": run["done_ms"],
    }


def _check(runs: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    failed = [r["error"] for r in runs if r["error"]]
    if failed:
        sys.exit(f"{what}: {len(failed)} run(s) failed, e.g. {failed[0]}")
    return runs[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="measured runs (default 30, min 20)")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = ap.parse_args()
    if args.runs < 20:
        ap.error("--runs must be at least 20")
    missing = missing_prerequisites(browsers=False)
    if missing or not Path("/usr/bin/chromium").exists():
        sys.exit("bench_connection needs: " + "; ".join(missing or ["/usr/bin/chromium"]))

    with e2e() as env:
        off_server = env.start_extra_server(
            "no-conn", OFF_HTTP_PORT, OFF_STUN_PORT, "--no-test-connection"
        )
        try:
            on = env.chromium_runs(role=CLIENT, runs=args.runs + 1, timeout=90)
            off = env.chromium_runs(
                role=CLIENT,
                runs=args.runs + 1,
                timeout=90,
                url=f"http://{SERVER_V4}:{OFF_HTTP_PORT}/",
            )
        finally:
            off_server.stop()
        guards = env.topo.guards()
    on_runs = _check(on["runs"], "test connection on")
    off_runs = _check(off["runs"], "test connection off")
    rows = [connection_figures(r) for r in on_runs]
    off_verdict = [float(r["done_ms"]) for r in off_runs]
    off_states = {str(r["result"]["connection"]["state"]) for r in off_runs}
    levels = {r["result"]["verdict"]["level"] for r in on_runs + off_runs}

    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"icewatch {__version__} test connection — Chromium {on['version']}, {python}, "
          f"{len(on_runs)} runs per server, one browser, a fresh navigation each")  # fmt: skip
    print(f"sandbox: client 10.77.1.2 -> icewatch serve 10.77.1.1; off-server connection "
          f"states: {', '.join(sorted(off_states))}; "
          f"verdicts: {', '.join(sorted(levels))}")  # fmt: skip
    print()
    header = f"{'ms':<48}{'median':>8}{'p95':>8}{'min':>8}{'max':>8}"
    print(header)
    print("-" * len(header))

    def line(name: str, values: list[float]) -> None:
        print(
            f"{name:<48}{statistics.median(values):>8.1f}{percentile(values, 95):>8.1f}"
            f"{min(values):>8.1f}{max(values):>8.1f}"
        )

    for name in rows[0]:
        line(name, [r[name] for r in rows])
    line(
        "report round trip, test connection off",
        [r["timing"]["report"]["end"] - r["timing"]["report"]["start"] for r in off_runs],
    )
    line("time to verdict, test connection off", off_verdict)
    on_median = statistics.median(r["time to verdict, test connection on"] for r in rows)
    off_median = statistics.median(off_verdict)
    extra = on_median - off_median
    print()
    print(
        f"the test connection adds {extra:.0f} ms to the median time to verdict "
        f"({off_median:.0f} -> {on_median:.0f} ms) — target <= {TARGET_EXTRA_MS:.0f} ms: "
        f"{'met' if extra <= TARGET_EXTRA_MS else 'NOT met'}"
    )
    dropped = sum(g.packets for g in guards.values())
    print(f"egress guards: {dropped} packet(s) dropped")
    if args.json:
        print(json.dumps({"on": rows, "off_time_to_verdict": off_verdict}, indent=1))


if __name__ == "__main__":
    main()
