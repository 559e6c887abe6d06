"""Server memory per concurrent test connection, and how many one process holds.

One ``icewatch serve`` subprocess on loopback (``--peer-max`` raised, a long
``--peer-deadline`` so that every connection of a step is alive at once); the client
peers are aiortc in this process, bound to loopback. For each step N of the ramp, N
sessions are created and N offers sent concurrently; each client applies the answer,
waits for its data channel to open and the server's pings to arrive. Then the server's
RSS (``/proc/PID/status`` VmRSS) is read with all N alive: the delta over the idle
server (after one warm-up connection, whose one-time costs such as aiortc's first
DTLS context are left out), divided by N, is the memory per concurrent test connection.
The clients close, and the step waits a second for the server to free its peers before
the next one. The ramp stops at the first step with an error (a
non-200 offer, a channel that did not open, missing pings) or at ``--max``.

Reference: the brief's bound of 200 concurrent test connections per process; the
default ``peer_max`` is 32.

Usage: ``.venv/bin/python bench/bench_peer.py [--steps 1,10,25,50,100,200] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
from tests.peer.support import LOOPBACK, ClientPeer  # noqa: E402
from tests.service.proc import Served, start  # noqa: E402

from icewatch import __version__  # noqa: E402
from icewatch.peer import preload  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one(http: httpx.AsyncClient, clients: list[ClientPeer]) -> tuple[str, float]:
    """One test connection up to the server's pings; (outcome, offer → answer ms)."""
    client = ClientPeer()
    clients.append(client)
    created = (await http.post("/api/v1/sessions")).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    offer = await client.offer()
    t0 = time.perf_counter()
    r = await http.post(created["offer_url"], json={"sdp": offer}, headers=auth)
    answer_ms = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        return f"http {r.status_code}", answer_ms
    await client.accept(r.json()["sdp"])
    try:
        await asyncio.wait_for(client.opened.wait(), 20)
        loop = asyncio.get_running_loop()
        ends = loop.time() + 20
        while len(client.pinged_by_server) < 3 and loop.time() < ends:
            await asyncio.sleep(0.05)
    except TimeoutError:
        return "not open", answer_ms
    return ("ok" if len(client.pinged_by_server) == 3 else "no pings"), answer_ms


async def step(served: Served, n: int, idle_kib: int) -> dict[str, Any]:
    clients: list[ClientPeer] = []
    limits = httpx.Limits(max_connections=n + 4)
    async with httpx.AsyncClient(base_url=served.base, timeout=60, limits=limits) as http:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(one(http, clients) for _ in range(n)), return_exceptions=True
        )
        ramp_s = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        held_kib = rss_kib(served.popen.pid)
        ok = [r for r in results if isinstance(r, tuple) and r[0] == "ok"]
        outcomes: dict[str, int] = {}
        for r in results:
            key = r[0] if isinstance(r, tuple) else type(r).__name__
            outcomes[key] = outcomes.get(key, 0) + 1
        answers = [r[1] for r in results if isinstance(r, tuple)]
        for c in clients:
            await c.close()
    await asyncio.sleep(1.0)  # the server's peers see the close and free themselves
    return {
        "n": n,
        "ok": len(ok),
        "errors": n - len(ok),
        "rss_mib": round(held_kib / 1024, 1),
        "per_conn_kib": round((held_kib - idle_kib) / n, 1),
        "answer_median_ms": round(statistics.median(answers), 1) if answers else None,
        "answer_max_ms": round(max(answers), 1) if answers else None,
        "setup_s": round(ramp_s, 2),
        "outcomes": outcomes,
    }


async def main_async(steps: list[int], tmp: Path) -> tuple[int, list[dict[str, Any]]]:
    preload([LOOPBACK])
    top = max(steps)
    served = start(tmp, "--peer-max", str(top), "--peer-deadline", "30")
    rows: list[dict[str, Any]] = []
    try:
        await asyncio.sleep(0.5)
        await step(served, 1, 0)  # warm-up: the first connection's one-time costs
        await asyncio.sleep(0.5)
        idle = rss_kib(served.popen.pid)
        for n in steps:
            row = await step(served, n, idle)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            if row["errors"]:
                break
    finally:
        served.stop()
    return idle, rows


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="1,10,25,50,100,150,200")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    steps = [int(x) for x in args.steps.split(",")]
    with tempfile.TemporaryDirectory() as d:
        idle, rows = asyncio.run(main_async(steps, Path(d)))
    if args.json:
        print(json.dumps({"idle_rss_kib": idle, "rows": rows}, indent=2))
        return
    print(f"icewatch {__version__} · Python {platform.python_version()} · {platform.machine()}")
    print(f"server idle RSS after one warm-up connection: {idle / 1024:.1f} MiB")
    print()
    head = (
        "| concurrent | ok | errors | server RSS MiB | KiB per connection "
        "| offer→answer median ms | max ms | setup s |"
    )
    print(head)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n']} | {r['ok']} | {r['errors']} | {r['rss_mib']} | {r['per_conn_kib']} "
            f"| {r['answer_median_ms']} | {r['answer_max_ms']} | {r['setup_s']} |"
        )
    held = max((r["n"] for r in rows if not r["errors"]), default=0)
    print()
    print(f"held without errors: {held} concurrent test connections (reference: 200)")


if __name__ == "__main__":
    main()
