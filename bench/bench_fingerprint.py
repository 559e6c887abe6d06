"""Network fingerprint and population statistics: what they cost, next to the naive way.

Builds an SQLite store of ``--sessions`` reported sessions (default 100,000) from the
recorded browser captures (``tests/data/captures``): each session is a capture replayed
with its random parts drawn again (``tests/core/rerun.py``) and its public address moved
into one of ``--networks`` /24 networks drawn with a Zipf-like skew, so fingerprints
repeat the way real populations do. Rows are written with the store's own SQL through
one transaction per 5,000, so the triggers count every session.

Then, in the same run, on the same file:

* **fingerprint**: ``network_fingerprint(correlation)`` per session (the correlation is
  already computed by the report path), beside ``correlate`` itself;
* **population lookup**: ``SqliteStore.fingerprint_stats`` (primary-key reads of the
  trigger-kept counts) beside the **naive** answer to the same question — ``COUNT(*)``
  over the partial index for the total and the id, and one ``json_extract`` count per
  component over the sessions table (what it would cost without the counts table);
* **report write**: ``save_result`` with a fingerprint (triggers run) beside
  ``save_result`` without one, 2,000 sessions each, 16 at a time (group commit);
* **rescore**: ``rescore_store`` over every session, a dry run and a real run with
  changed weights.

Usage: ``.venv/bin/python bench/bench_fingerprint.py [--sessions 100000] [--networks 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.core.rerun import rerun  # noqa: E402
from tests.core.scoring.capture_evidence import CAPTURES, evidence, load  # noqa: E402

from icewatch import __version__  # noqa: E402
from icewatch.core.correlate import correlate  # noqa: E402
from icewatch.core.evidence import SessionEvidence  # noqa: E402
from icewatch.core.fingerprint import NetworkFingerprint, network_fingerprint  # noqa: E402
from icewatch.core.scoring import evaluate  # noqa: E402
from icewatch.service.rescore import rescore_store  # noqa: E402
from icewatch.store import open_store  # noqa: E402
from icewatch.store.sqlite import SqliteStore  # noqa: E402


def _moved(ev: SessionEvidence, network: int, proxy: int | None) -> SessionEvidence:
    """``ev`` with its public IPv4 address moved into network number ``network`` (a /24
    from 100.0.0.0 on): the packets' sources, the page's srflx candidates and SDP, and the
    HTTP address — or, with ``proxy``, HTTP from another network (a proxy WebRTC
    bypasses: ``ip.webrtc_http_mismatch``)."""
    base = int(ipaddress.IPv4Address("100.0.0.0"))
    new = ipaddress.IPv4Address(base + network * 256 + 7)
    old = {str(o.ip) for o in ev.observations if o.ip.version == 4}
    observations = tuple(
        dataclasses.replace(o, ip=new) if o.ip.version == 4 else o for o in ev.observations
    )
    report = ev.report
    if report is not None:

        def text(value: str) -> str:
            for ip in old:
                value = value.replace(f" {ip} ", f" {new} ")
            return value

        report = dataclasses.replace(
            report,
            candidates=tuple(
                dataclasses.replace(c, candidate=text(c.candidate)) for c in report.candidates
            ),
            sdp=None if report.sdp is None else text(report.sdp),
        )
    http_ip = new if proxy is None else ipaddress.IPv4Address(base + proxy * 256 + 9)
    http = dataclasses.replace(ev.http, client_ip=http_ip, peer_ip=http_ip)
    report_http = (
        None if ev.report_http is None else dataclasses.replace(ev.report_http, client_ip=http_ip)
    )
    return dataclasses.replace(
        ev, observations=observations, http=http, report_http=report_http, report=report
    )


def make_sessions(n: int, networks: int, seed: int = 7) -> list[SessionEvidence]:
    rng = random.Random(seed)
    docs = [load(str(p)) for p in CAPTURES]
    variants = [
        [evidence(rerun(d, s), session_id=f"v{i}-{s}") for s in range(8)]
        for i, d in enumerate(docs)
    ]
    weights = [1 / (k + 1) for k in range(networks)]  # Zipf-like: few big networks, a long tail
    chosen = rng.choices(range(networks), weights=weights, k=n)
    out = []
    for i in range(n):
        base = rng.choice(rng.choice(variants))
        # One session in five comes through an HTTP proxy in one of 20 networks.
        proxy = networks + rng.randrange(20) if rng.random() < 0.2 else None
        ev = _moved(base, chosen[i], proxy)
        out.append(dataclasses.replace(ev, session_id=f"s{i:07d}", created_at=1_800_000_000.0 + i))
    return out


_T0 = time.perf_counter()


def phase(name: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {name}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill(db: Path, sessions: list[SessionEvidence]) -> tuple[float, dict[str, NetworkFingerprint]]:
    """Write every session with its verdict and fingerprint; return the seconds taken."""
    fps: dict[str, NetworkFingerprint] = {}
    rows = []
    for ev in sessions:
        c, v = evaluate(ev)
        fp = network_fingerprint(c)
        assert fp is not None
        fps[ev.session_id] = fp
        doc = ev.as_dict()
        doc.pop("observations")
        rows.append(
            (ev.session_id, ev.created_at, 9e9, str(ev.http.client_ip), str(ev.http.peer_ip),
             ev.reported_at, json.dumps(doc), json.dumps(v.as_dict()), v.level.value, v.score,
             ev.created_at, fp.id, json.dumps(fp.component_map()))
        )  # fmt: skip
    obs_rows = [
        (ev.session_id, i, o.at, o.source.value, o.kind.value, str(o.ip), o.port, o.transport,
         json.dumps(o.as_dict()))
        for ev in sessions for i, o in enumerate(ev.observations)
    ]  # fmt: skip
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    t0 = time.perf_counter()
    for start in range(0, len(rows), 5000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, reported_at,"
            " evidence, verdict, level, score, updated_at, fingerprint, fingerprint_components)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows[start : start + 5000],
        )
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO observations (session_id, seq, at, source, kind, ip, port, transport, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        obs_rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return elapsed, fps


def naive_stats(conn: sqlite3.Connection, fp: NetworkFingerprint) -> tuple[int, int, list[int]]:
    total = conn.execute("SELECT COUNT(*) FROM sessions WHERE fingerprint IS NOT NULL").fetchone()[
        0
    ]
    matching = conn.execute(
        "SELECT COUNT(*) FROM sessions WHERE fingerprint = ?", (fp.id,)
    ).fetchone()[0]
    per = [
        conn.execute(
            "SELECT COUNT(*) FROM sessions WHERE fingerprint IS NOT NULL"
            " AND json_extract(fingerprint_components, ?) = ?",
            (f'$."{name}"', value),
        ).fetchone()[0]
        for name, value in fp.components
    ]
    return total, matching, per


async def lookups(store: SqliteStore, fps: list[NetworkFingerprint], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        for fp in fps:
            t0 = time.perf_counter()
            await store.fingerprint_stats(fp)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def writes(store: SqliteStore, sessions: list[SessionEvidence], with_fp: bool) -> float:
    scored = []
    for ev in sessions:
        c, v = evaluate(ev)
        scored.append((ev, v, network_fingerprint(c) if with_fp else None))
    for ev, _, _ in scored:
        await store.create_session(dataclasses.replace(ev, report=None, observations=()), 9e9)
    sem = asyncio.Semaphore(16)

    async def one(ev: SessionEvidence, v: Any, fp: NetworkFingerprint | None) -> None:
        async with sem:
            await store.save_result(ev, v, fp)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(*s) for s in scored))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--networks", type=int, default=2000)
    ap.add_argument("--lookups", type=int, default=200, help="fingerprints looked up")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sessions = make_sessions(args.sessions, args.networks)
    made = time.perf_counter() - t0
    phase("sessions made")
    sample = sessions[:2000]
    correlations = [correlate(ev) for ev in sample]
    t_corr = timed(lambda: [correlate(ev) for ev in sample], 3) / len(sample)
    t_fp = timed(lambda: [network_fingerprint(c) for c in correlations], 3) / len(sample)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"

        async def prepare() -> None:
            store = await open_store(f"sqlite:///{db}")
            await store.close()

        asyncio.run(prepare())
        fill_s, fps = fill(db, sessions)
        phase("database filled")
        distinct = len({fp.id for fp in fps.values()})
        rng = random.Random(3)
        probe = [fps[s.session_id] for s in rng.sample(sessions, args.lookups)]

        async def measure() -> dict[str, Any]:
            store = await open_store(f"sqlite:///{db}")
            assert isinstance(store, SqliteStore)
            out: dict[str, Any] = {}
            out["lookup"] = await lookups(store, probe, 3)
            phase("lookups")
            extra = make_sessions(4000, args.networks, seed=11)
            extra = [dataclasses.replace(e, session_id="w" + e.session_id) for e in extra]
            spent = {True: 0.0, False: 0.0}
            for k in range(8):  # alternating rounds of 500, so both see the same file state
                chunk = extra[k * 500 : (k + 1) * 500]
                spent[k % 2 == 0] += await writes(store, chunk, k % 2 == 0)
            out["write_fp"] = spent[True] / 2000
            out["write_plain"] = spent[False] / 2000
            phase("writes")
            total = args.sessions + 4000
            t = time.perf_counter()
            dry = await rescore_store(store, dry_run=True)
            out["rescore_dry"] = (time.perf_counter() - t) / total
            t = time.perf_counter()
            real = await rescore_store(store, weights={"ip.webrtc_http_mismatch": 70})
            out["rescore"] = (time.perf_counter() - t) / total
            out["rescored"] = (dry.sessions, dry.changed_fingerprint, real.saved)
            out["levels"] = dict(real.transitions)
            phase("rescore")
            got = await store.fingerprint_stats(probe[0])
            out["check"] = (got.total, got.matching, [k for _, _, k in got.components])
            await store.close()
            return out

        m = asyncio.run(measure())
        conn = sqlite3.connect(db)
        naive_times = []
        for fp in probe[:20]:
            t = time.perf_counter()
            naive_stats(conn, fp)
            naive_times.append(time.perf_counter() - t)
        t_naive = statistics.median(naive_times)
        naive = naive_stats(conn, probe[0])
        conn.close()
        size_mb = db.stat().st_size / 1e6

    assert naive == m["check"], (naive, m["check"])
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"icewatch {__version__} network fingerprint — {python}, SQLite {sqlite3.sqlite_version}")
    print(f"{args.sessions} sessions from {len(CAPTURES)} captures in {args.networks} /24 networks "
          f"(built in {made:.1f} s): {distinct} distinct fingerprints; database {size_mb:.0f} MB, "
          f"filled in {fill_s:.1f} s with the triggers counting")  # fmt: skip
    print()
    rows = [
        ("fingerprint of a correlated session (µs) / correlate", t_fp, t_corr, 1),
        ("population lookup, median (µs) / naive COUNT(*) queries", m["lookup"], t_naive, 0),
        ("save_result, 16 concurrent (µs/session) / no fingerprint", m["write_fp"],
         m["write_plain"], 0),
        ("rescore, real run (µs/session) / dry run", m["rescore"], m["rescore_dry"], 0),
    ]  # fmt: skip
    header = f"{'':<58}{'icewatch':>12}{'reference':>14}"
    print(header)
    print("-" * len(header))
    for name, ours, ref, digits in rows:
        print(f"{name:<58}{ours * 1e6:>12.{digits}f}{ref * 1e6:>14.{digits}f}")
    print()
    print(
        f"lookups agree with the naive counts: total {naive[0]}, matching {naive[1]}; rescore: "
        f"{m['rescored'][0]} sessions, {m['rescored'][1]} fingerprints filled in (the writes "
        f"made without one); with ip.webrtc_http_mismatch 50 -> 70, {m['rescored'][2]} saved, "
        f"level changes {m['levels']}"
    )


if __name__ == "__main__":
    main()
