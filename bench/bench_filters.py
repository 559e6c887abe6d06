"""Operator filters, the overview and purge on a large store, next to the naive way.

Builds an SQLite store of ``--sessions`` sessions (default 100,000) directly in the
schema-3 tables (the rows the store itself writes: ``sessions`` with level, browser
family and provider label, ``session_signals``, ``session_addresses``,
``session_providers``), spread over 30 days, with skewed levels, signals, /24 networks
and providers. Then, on that file:

* **query**: the first page (50 ids) of each filter with the index tables
  (``icewatch.store.query.page_sql``) beside the **naive** answer — the same page by
  scanning ``sessions`` in time order and matching the JSON text (``LIKE`` on the verdict
  and evidence) or the plain columns, what the listing would cost without the index
  tables — and the whole ``query_sessions`` call (which also reads and parses the 50
  sessions and their observations);
* **overview**: ``overview`` over everything and over the last 24 hours;
* **purge**: ``purge`` of the oldest 10 % (500 sessions per transaction).

Usage: ``.venv/bin/python bench/bench_filters.py [--sessions 100000]``
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.store.samples import full_session  # noqa: E402

from icewatch import __version__  # noqa: E402
from icewatch.core.ports import SessionFilter  # noqa: E402
from icewatch.core.verdict import Level, Signal, Verdict  # noqa: E402
from icewatch.store import open_store  # noqa: E402
from icewatch.store.index import address_key  # noqa: E402
from icewatch.store.query import page_sql  # noqa: E402

CODES = [f"rule.{i}" for i in range(30)]
PROVIDERS = ["AWS", "ExampleVPN", "AS64500 Example ISP", "Hetzner", "OVH", None, None, None]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Samsung Internet"]


def build(db: Path, n: int, now: float) -> None:
    rng = random.Random(6)
    conn = sqlite3.connect(db)
    start = now - 30 * 86400
    rows: list[tuple[Any, ...]] = []
    signals: list[tuple[Any, ...]] = []
    addrs: list[tuple[Any, ...]] = []
    provs: list[tuple[Any, ...]] = []
    template = full_session("x").as_dict()
    del template["observations"]
    for i in range(n):
        sid = f"s{i:07d}"
        created = start + (30 * 86400) * i / n
        level = rng.choices(["low", "medium", "high", None], [70, 15, 10, 5])[0]
        net = min(int(rng.paretovariate(1.2)), 5000)
        client = ipaddress.IPv4Address(0xC6336400 + (net << 8) % (1 << 20) + rng.randrange(256))
        provider = rng.choice(PROVIDERS)
        codes = rng.sample(CODES[: 5 + (i % 25)], k=min(3, 5 + (i % 25)))
        verdict = Verdict(
            score=20, level=Level(level or "low"), signals=tuple(Signal(c, 20, c) for c in codes)
        ).as_dict()
        browser = rng.choice(BROWSERS)
        evidence = dict(template, session_id=sid, created_at=created)
        evidence["http"] = dict(template["http"], client_ip=str(client))
        evidence["client"] = {"browser": browser}
        rows.append(
            (sid, created, created + 3600, str(client), "127.0.0.1",
             None if level is None else created + rng.random() * 3, json.dumps(evidence),
             None if level is None else json.dumps(verdict), level, browser,
             provider, created)
        )  # fmt: skip
        if level is not None:
            signals.extend((sid, c, 20, created) for c in codes)
        addrs.append((sid, address_key(client), "http", created))
        addrs.append((sid, address_key(ipaddress.IPv4Address(0x0A000000 + i)), "reported", created))
        if provider:
            provs.append((sid, provider.lower(), created))
    conn.executemany(
        "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, reported_at,"
        " evidence, verdict, level, ua_family, provider, updated_at, indexed)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1)",
        rows,
    )
    conn.executemany("INSERT INTO session_signals VALUES (?,?,?,?)", signals)
    conn.executemany("INSERT INTO session_addresses VALUES (?,?,?,?)", addrs)
    conn.executemany("INSERT INTO session_providers VALUES (?,?,?)", provs)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


async def atimed(fn: Callable[[], Awaitable[Any]], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100_000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        store = await open_store(f"sqlite:///{db}")
        await store.close()
        t = time.perf_counter()
        build(db, args.sessions, now)
        print(f"icewatch {__version__}, Python {platform.python_version()}, "
              f"SQLite {sqlite3.sqlite_version}; {args.sessions:,} sessions built in "
              f"{time.perf_counter() - t:.1f} s\n")  # fmt: skip
        store = await open_store(f"sqlite:///{db}")
        naive = sqlite3.connect(db)
        cases: list[tuple[str, SessionFilter, str, tuple[Any, ...]]] = [
            ("none", SessionFilter(), "1", ()),
            ("level=high", SessionFilter(levels=frozenset({"high"})), "level = 'high'", ()),
            ("signal=rule.27", SessionFilter(signal="rule.27"),
             "verdict LIKE ?", ('%"code": "rule.27"%',)),
            ("ip=198.51.108.0/24", SessionFilter(network=ipaddress.ip_network("198.51.108.0/24")),
             "client_ip LIKE ?", ("198.51.108.%",)),
            ("provider=OVH", SessionFilter(provider="OVH"), "provider = 'OVH'", ()),
            ("provider=NoSuch (rare)", SessionFilter(provider="NoSuch"),
             "provider = 'NoSuch'", ()),
            ("ip=198.51.100.7 (one address)",
             SessionFilter(network=ipaddress.ip_network("198.51.100.7/32")),
             "client_ip = ?", ("198.51.100.7",)),
            ("ua=Safari", SessionFilter(ua_family="safari"),
             "evidence LIKE ?", ('%"browser": "Safari"%',)),
            ("since=24h", SessionFilter(since=now - 86400), "created_at >= ?", (now - 86400,)),
            ("level=high&signal=rule.29&since=7d",
             SessionFilter(levels=frozenset({"high"}), signal="rule.29", since=now - 7 * 86400),
             "level = 'high' AND verdict LIKE ? AND created_at >= ?",
             ('%"code": "rule.29"%', now - 7 * 86400)),
        ]  # fmt: skip
        print(
            f"{'first page of 50 (median of 5)':<38} {'index SQL':>12} {'naive SQL':>12}"
            f" {'query_sessions':>15}"
        )
        for name, where, sql, params in cases:
            ours_sql, ours_params = page_sql(where, "s.id", limit=51)
            index = timed(lambda q=ours_sql, p=ours_params: naive.execute(q, p).fetchall())  # type: ignore[misc]
            ours = await atimed(lambda w=where: store.query_sessions(w, limit=50))  # type: ignore[misc]
            theirs = timed(
                lambda s=sql, p=params: naive.execute(  # type: ignore[misc]
                    f"SELECT id FROM sessions WHERE {s}"  # noqa: S608
                    " ORDER BY created_at DESC, id DESC LIMIT 50",
                    p,
                ).fetchall()
            )
            print(f"{name:<38} {index:>9.2f} ms {theirs:>9.2f} ms {ours:>12.2f} ms")
        print()
        print(f"{'overview (24 buckets)':<38} {'time':>15}")
        for name, where in (
            ("everything (30 days)", SessionFilter()),
            ("last 24 h", SessionFilter(since=now - 86400, until=now)),
            ("level=medium,high", SessionFilter(levels=frozenset({"medium", "high"}))),
        ):
            ms = await atimed(lambda w=where: store.overview(w), repeat=3)  # type: ignore[misc]
            print(f"{name:<38} {ms:>12.1f} ms")
        cutoff = now - 27 * 86400
        t = time.perf_counter()
        purged = await store.purge(SessionFilter(until=cutoff))
        dt = time.perf_counter() - t
        print(f"\npurge of the oldest 10 %: {purged:,} sessions in {dt:.2f} s "
              f"({purged / dt:,.0f} sessions/s, 500 per transaction)")  # fmt: skip
        naive.close()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
