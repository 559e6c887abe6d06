"""Overview aggregates, delete_session and purge on a real SQLite file."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from icewatch.core.errors import ParseError
from icewatch.core.fingerprint import NetworkFingerprint
from icewatch.core.ports import SessionFilter
from icewatch.store import open_store

from .samples import new_session, verdict
from .test_store_query import ids, low_verdict, populated, session

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


def test_overview_of_everything_and_of_a_filter(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await populated(tmp_path / "o.db")
        o = await store.overview(SessionFilter(), buckets=4)
        assert o.total == 7
        assert o.by_level == {"low": 3, "medium": 0, "high": 3, "pending": 1}
        # data range 1000..2000 in 4 buckets of 250 s: s0..s5 in the first, p0 in the last
        assert [start for start, _ in o.timeline] == [1000.0, 1250.0, 1500.0, 1750.0]
        assert o.timeline[0][1] == {"low": 3, "medium": 0, "high": 3, "pending": 0}
        assert o.timeline[3][1] == {"low": 0, "medium": 0, "high": 0, "pending": 1}
        # weighted signals only (net.local_ip_exposed has weight 0)
        assert o.top_signals == (("ip.webrtc_http_mismatch", 3),)
        # medium/high sessions s0, s2, s4: s0 has ExampleVPN; s2, s4 AS64500 Example Org
        assert o.top_providers == (("AS64500 Example Org", 2), ("ExampleVPN", 1))
        # every reported session took 1.5 s
        assert dict(o.time_to_verdict) == {
            0.25: 0,
            0.5: 0,
            1.0: 0,
            2.0: 6,
            5.0: 0,
            10.0: 0,
            30.0: 0,
            60.0: 0,
            math.inf: 0,
        }
        assert o.surprisal == ()  # no fingerprints saved

        f = await store.overview(SessionFilter(since=1000.0, until=1004.0), buckets=2)
        assert f.total == 4
        assert f.timeline == (
            (1000.0, {"low": 1, "medium": 0, "high": 1, "pending": 0}),
            (1002.0, {"low": 1, "medium": 0, "high": 1, "pending": 0}),
        )
        empty = await store.overview(SessionFilter(signal="none.such"))
        assert empty.total == 0
        assert empty.timeline == ()
        assert empty.top_signals == ()
        with pytest.raises(ParseError):
            await store.overview(SessionFilter(), buckets=0)
        await store.close()

    run(scenario)


def _fp(value: str) -> NetworkFingerprint:
    return NetworkFingerprint(id=f"fp-{value}", components=(("shape", value),))


def test_surprisal_bins_follow_the_population(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 's.db'}")
        # 8 fingerprinted sessions: 4 share "a" (1 bit), 2 "b" (2 bits), 1 "c", 1 "d" (3 bits)
        shapes = ["a", "a", "a", "a", "b", "b", "c", "d"]
        for i, shape in enumerate(shapes):
            sid = f"f{i}"
            await store.create_session(new_session(sid, 100.0 + i), 9e9)
            await store.save_result(session(sid, 100.0 + i), verdict(), _fp(shape))
        o = await store.overview(SessionFilter())
        assert o.surprisal == ((0.0, 0), (1.0, 4), (2.0, 2), (3.0, 2))
        only_c = await store.overview(SessionFilter(since=106.0, until=107.0))
        assert only_c.surprisal == ((0.0, 0), (1.0, 0), (2.0, 0), (3.0, 1))
        await store.close()

    run(scenario)


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in (
                "sessions",
                "observations",
                "session_signals",
                "session_addresses",
                "session_providers",
            )
        }


def test_delete_session_removes_every_trace(tmp_path: Path) -> None:
    db = tmp_path / "d.db"

    async def scenario() -> None:
        store = await open_store(f"sqlite:///{db}")
        for i, shape in enumerate(["a", "a", "b"]):
            sid = f"d{i}"
            await store.create_session(new_session(sid, 100.0 + i), 9e9)
            await store.save_result(session(sid, 100.0 + i), verdict(), _fp(shape))
        before = await store.fingerprint_stats(_fp("a"))
        assert (before.total, before.matching) == (3, 2)
        assert await store.delete_session("d0") is True
        assert await store.delete_session("d0") is False
        assert await store.delete_session("") is False
        assert await store.get_session("d0") is None
        after = await store.fingerprint_stats(_fp("a"))
        assert (after.total, after.matching) == (2, 1)
        assert await ids(store, SessionFilter(signal="ip.webrtc_http_mismatch")) == ["d2", "d1"]
        await store.close()

    run(scenario)
    with sqlite3.connect(db) as conn:
        for table in ("observations", "session_signals", "session_addresses", "session_providers"):
            left = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE session_id = 'd0'"  # noqa: S608
            ).fetchone()[0]
            assert left == 0, table
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_purge_deletes_what_the_filter_matches_in_batches(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    n = 1203  # over two PURGE_BATCH batches

    async def scenario() -> None:
        store = await open_store(f"sqlite:///{db}")

        async def one(i: int) -> None:
            sid = f"p{i:05d}"
            await store.create_session(new_session(sid, 1000.0 + i), 9e9)
            if i % 2:
                await store.save_result(session(sid, 1000.0 + i), low_verdict(), _fp(str(i % 3)))

        await asyncio.gather(*(one(i) for i in range(n)))
        # purge the older sessions while new ones keep arriving
        purging = asyncio.create_task(store.purge(SessionFilter(until=1000.0 + 1100)))
        late = [one(n + i) for i in range(20)]
        await asyncio.gather(*late)
        assert await purging == 1100
        left = await store.query_sessions(SessionFilter(), limit=1000)
        assert len(left.sessions) == n - 1100 + 20
        assert min(s.evidence.created_at for s in left.sessions) == 1000.0 + 1100
        population = await store.fingerprint_stats(_fp("0"))
        fingerprinted = sum(1 for s in left.sessions if s.fingerprint is not None)
        assert population.total == fingerprinted
        assert await store.purge(SessionFilter(levels=frozenset({"pending"}))) == sum(
            1 for s in left.sessions if s.verdict is None
        )
        assert await store.purge(SessionFilter()) == fingerprinted
        assert await store.purge(SessionFilter()) == 0
        await store.close()

    run(scenario)
    assert _counts(db) == dict.fromkeys(_counts(db), 0)
    with sqlite3.connect(db) as conn:
        # only the total row may stay, at 0 (the v2 triggers keep it)
        assert conn.execute(
            "SELECT COUNT(*) FROM fingerprint_stats WHERE sessions != 0"
        ).fetchone() == (0,)


def test_overview_on_many_sessions_matches_a_python_count(tmp_path: Path) -> None:
    """20 000 sessions: the SQL aggregates agree with counting the rows in Python."""
    db = tmp_path / "many.db"

    async def create() -> None:
        store = await open_store(f"sqlite:///{db}")
        await store.close()

    run(create)
    with sqlite3.connect(db) as conn:
        rows = []
        sig = []
        for i in range(20_000):
            level = ("low", "medium", "high", None)[i % 4]
            reported = None if level is None else 1000.0 + i + (i % 7) * 0.4
            rows.append(
                (
                    f"m{i:05d}",
                    1000.0 + i,
                    9e9,
                    "198.51.100.7",
                    "127.0.0.1",
                    reported,
                    "{}",
                    level,
                    None if level is None else "AWS" if i % 3 else "AS64500 X",
                    1,
                )
            )
            if level in ("medium", "high"):
                sig.append((f"m{i:05d}", f"code.{i % 5}", 10, 1000.0 + i))
        conn.executemany(
            "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, reported_at,"
            " evidence, level, provider, indexed, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
            rows,
        )
        conn.executemany(
            "INSERT INTO session_signals (session_id, code, weight, created_at) VALUES (?,?,?,?)",
            sig,
        )

    async def check() -> None:
        store = await open_store(f"sqlite:///{db}")
        o = await store.overview(SessionFilter(since=1000.0, until=21000.0), buckets=20)
        assert o.total == 20_000
        assert o.by_level == {"low": 5000, "medium": 5000, "high": 5000, "pending": 5000}
        assert all(sum(b.values()) == 1000 for _, b in o.timeline)
        assert sum(n for _, n in o.top_signals) == 10_000
        assert dict(o.top_providers) == {
            "AWS": sum(1 for i in range(20_000) if i % 4 in (1, 2) and i % 3),
            "AS64500 X": sum(1 for i in range(20_000) if i % 4 in (1, 2) and not i % 3),
        }
        expect: dict[float, int] = {}
        for i in range(20_000):
            if i % 4 == 3:
                continue
            d = (i % 7) * 0.4
            bound = next(
                b for b in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, math.inf) if d <= b + 1e-9
            )
            expect[bound] = expect.get(bound, 0) + 1
        got = {b: n for b, n in o.time_to_verdict if n}
        assert sum(got.values()) == 15_000
        assert got.keys() == expect.keys()
        high = await store.overview(SessionFilter(levels=frozenset({"high"}), signal="code.2"))
        assert high.total == sum(1 for i in range(20_000) if i % 4 == 2 and i % 5 == 2)
        await store.close()

    run(check)
