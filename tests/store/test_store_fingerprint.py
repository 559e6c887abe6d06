"""The network fingerprint in the SQLite store: migration 2 on a file the previous code
wrote, population counts kept by triggers (whoever writes), the indexes they use, and
the batched iteration and verdict updates ``icewatch rescore`` runs on."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from icewatch.core.correlate import correlate
from icewatch.core.errors import ParseError
from icewatch.core.evidence import SessionEvidence
from icewatch.core.fingerprint import NetworkFingerprint, network_fingerprint
from icewatch.core.ports import Rescored
from icewatch.core.scoring import evaluate
from icewatch.core.verdict import Level, Verdict
from icewatch.store import open_store
from icewatch.store.schema import MIGRATIONS, current_version, migrate
from icewatch.store.sqlite import SqliteStore
from tests.core.scoring.capture_evidence import evidence as capture_evidence

from .samples import full_session, new_session, verdict

T = TypeVar("T")

CAPTURES = ("chromium-156-default", "chromium-156-nat", "firefox-153-default")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run(main())


def session(capture: str, session_id: str, created_at: float) -> SessionEvidence:
    ev = capture_evidence(capture, session_id=session_id)
    return dataclasses.replace(ev, created_at=created_at)


def fingerprint_of(ev: SessionEvidence) -> NetworkFingerprint:
    fp = network_fingerprint(correlate(ev))
    assert fp is not None
    return fp


async def _store(db: Path) -> SqliteStore:
    store = await open_store(f"sqlite:///{db}")
    assert isinstance(store, SqliteStore)
    return store


async def report(store: SqliteStore, ev: SessionEvidence) -> NetworkFingerprint:
    """Create and report a session the way the web adapter does."""
    await store.create_session(dataclasses.replace(ev, report=None, observations=()), 9e9)
    _, v = evaluate(ev)
    fp = fingerprint_of(ev)
    await store.save_result(ev, v, fp)
    return fp


def _brute_force(db: Path) -> dict[tuple[str, str], int]:
    """What the triggers' table must say, counted from the sessions themselves."""
    out: dict[tuple[str, str], int] = {}
    with sqlite3.connect(db) as conn:
        for fp, comps in conn.execute(
            "SELECT fingerprint, fingerprint_components FROM sessions WHERE fingerprint IS NOT NULL"
        ):
            out[("", "")] = out.get(("", ""), 0) + 1
            out[("fingerprint", fp)] = out.get(("fingerprint", fp), 0) + 1
            for name, value in json.loads(comps).items():
                out[(name, value)] = out.get((name, value), 0) + 1
    return out


def _stats_table(db: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(db) as conn:
        return {
            (n, v): k
            for n, v, k in conn.execute("SELECT name, value, sessions FROM fingerprint_stats")
            if k or (n, v) != ("", "")
        }


# --- migration from the previous schema --------------------------------------------------


def _v1_write(conn: sqlite3.Connection, ev: SessionEvidence, v: Verdict | None) -> None:
    """The writes of the release before migration 2, statement for statement (its
    ``create_session`` then ``save_result``): the columns of schema 1 only."""
    doc = ev.as_dict()
    del doc["observations"]
    conn.execute(
        "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip,"
        " reported_at, evidence, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            ev.session_id,
            ev.created_at,
            9e9,
            str(ev.http.client_ip),
            str(ev.http.peer_ip),
            ev.reported_at,
            json.dumps(doc),
            ev.created_at,
        ),
    )
    if v is not None:
        conn.execute(
            "UPDATE sessions SET verdict = ?, level = ?, score = ? WHERE id = ?",
            (json.dumps(v.as_dict()), v.level.value, v.score, ev.session_id),
        )
    conn.executemany(
        "INSERT INTO observations (session_id, seq, at, source, kind, ip, port, transport, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                ev.session_id,
                i,
                o.at,
                o.source.value,
                o.kind.value,
                str(o.ip),
                o.port,
                o.transport,
                json.dumps(o.as_dict()),
            )
            for i, o in enumerate(ev.observations)
        ],
    )


def test_a_version_1_file_written_by_the_previous_code_migrates(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, str(db), [m for m in MIGRATIONS if m.version == 1])
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        _v1_write(conn, new_session("pending", 100.0), None)
        _v1_write(conn, full_session("done", 200.0), verdict())
        conn.execute("COMMIT")
        assert current_version(conn) == 1
        columns = {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    finally:
        conn.close()
    assert "fingerprint" not in columns

    async def new_release() -> None:
        store = await _store(db)
        assert store.schema_version == MIGRATIONS[-1].version
        done = await store.get_session("done")
        assert done is not None
        assert done.evidence == full_session("done", 200.0)
        assert done.verdict == verdict()
        assert done.fingerprint is None  # computed later, by a rescore
        ev = session("chromium-156-default", "fresh", 300.0)
        fp = await report(store, ev)
        stats = await store.fingerprint_stats(fp)
        assert (stats.total, stats.matching) == (1, 1)
        assert await store.count_sessions() == 2  # "done" and "fresh"; "pending" has no report
        # A rescore fills in the old session's fingerprint: it is counted from then on.
        old_fp = fingerprint_of(full_session("done", 200.0))
        assert await store.save_verdicts([Rescored("done", verdict(), old_fp)]) == 1
        assert (await store.fingerprint_stats(old_fp)).total == 2
        await store.close()

    run(new_release)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (MIGRATIONS[-1].version,)
    assert _stats_table(db) == _brute_force(db)


def test_migration_2_in_one_transaction_with_its_triggers(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, "db", MIGRATIONS)
        names = {
            (r[0], r[1])
            for r in conn.execute("SELECT type, name FROM sqlite_master WHERE name LIKE '%fing%'")
        }
    finally:
        conn.close()
    assert names == {
        ("table", "fingerprint_stats"),
        ("index", "sessions_by_fingerprint"),
        ("trigger", "fingerprint_counted"),
        ("trigger", "fingerprint_uncounted"),
        ("trigger", "fingerprint_replaced_old"),
        ("trigger", "fingerprint_replaced_new"),
    }


# --- counts ------------------------------------------------------------------------------


def test_counts_follow_reports_rescores_and_deletes(tmp_path: Path) -> None:
    db = tmp_path / "icewatch.db"
    plan = [("chromium-156-default", 4), ("chromium-156-nat", 2), ("firefox-153-default", 1)]

    async def scenario() -> dict[str, NetworkFingerprint]:
        store = await _store(db)
        fps: dict[str, NetworkFingerprint] = {}
        t = 1000.0
        for capture, n in plan:
            for i in range(n):
                t += 1
                fps[capture] = await report(store, session(capture, f"{capture}-{i}", t))
        # Not reported: not counted.
        await store.create_session(new_session("pending", 5000.0), 9e9)
        chrome = await store.fingerprint_stats(fps["chromium-156-default"])
        assert (chrome.total, chrome.matching) == (7, 4)
        by_name = {n: (v, k) for n, v, k in chrome.components}
        assert by_name["engine"] == ("libwebrtc", 6)  # Chromium direct and behind the NAT
        assert by_name["public_v6"] == ("fd77:1::/48", 5)  # direct Chromium and Firefox
        assert by_name["tcp"] == ("none", 6)
        firefox = await store.fingerprint_stats(fps["firefox-153-default"])
        assert (firefox.total, firefox.matching) == (7, 1)

        # A rescore moving one session to another fingerprint moves its counts.
        moved = Rescored("chromium-156-default-0", verdict(), fps["firefox-153-default"])
        assert await store.save_verdicts([moved]) == 1
        assert (await store.fingerprint_stats(fps["chromium-156-default"])).matching == 3
        assert (await store.fingerprint_stats(fps["firefox-153-default"])).matching == 2
        # Saving the same fingerprint again changes nothing.
        assert await store.save_verdicts([moved]) == 1
        assert (await store.fingerprint_stats(fps["firefox-153-default"])).matching == 2
        # A fingerprint removed (None) uncounts the session.
        await store.save_verdicts([Rescored("chromium-156-nat-0", verdict(), None)])
        nat = await store.fingerprint_stats(fps["chromium-156-nat"])
        assert (nat.total, nat.matching) == (6, 1)
        await store.close()
        return fps

    fps = run(scenario)
    assert _stats_table(db) == _brute_force(db)

    # A DELETE by hand (docs/storage.md) is counted too, and zero rows go.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("DELETE FROM sessions WHERE id LIKE 'firefox%' OR id LIKE 'chromium-156-nat%'")
        conn.execute("DELETE FROM sessions WHERE id = 'chromium-156-default-0'")
    table = _stats_table(db)
    assert table == _brute_force(db)
    assert ("fingerprint", fps["firefox-153-default"].id) not in table
    assert table[("", "")] == 3
    assert ("tcp", "host:active") not in table

    async def after() -> None:
        store = await _store(db)
        gone = await store.fingerprint_stats(fps["firefox-153-default"])
        assert (gone.total, gone.matching) == (3, 0)
        assert {n: k for n, _, k in gone.components}["engine"] == 0
        await store.close()

    run(after)


def test_an_empty_store_has_no_population(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await _store(tmp_path / "db.sqlite")
        stats = await store.fingerprint_stats(
            fingerprint_of(session("chromium-156-default", "x", 1.0))
        )
        assert (stats.total, stats.matching) == (0, 0)
        assert all(k == 0 for _, _, k in stats.components)
        await store.close()

    run(scenario)


def _plan(conn: sqlite3.Connection, sql: str, *params: object) -> str:
    return " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_lookups_use_the_indexes(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def scenario() -> None:
        store = await _store(db)
        await report(store, session("chromium-156-default", "a", 1.0))
        await store.close()

    run(scenario)
    with sqlite3.connect(db) as conn:
        conn.execute("ANALYZE")
        stats = _plan(
            conn, "SELECT sessions FROM fingerprint_stats WHERE name = ? AND value = ?", "a", "b"
        )
        by_fp = _plan(
            conn,
            "SELECT COUNT(*) FROM sessions WHERE fingerprint = ?",
            "fp1:00000000000000000000",
        )
        pages = _plan(
            conn,
            "SELECT id FROM sessions WHERE (created_at, id) > (?, ?) AND reported_at IS NOT NULL"
            " ORDER BY created_at, id LIMIT 10",
            0.0,
            "",
        )
    assert "USING PRIMARY KEY" in stats, stats
    assert "sessions_by_fingerprint" in by_fp, by_fp
    assert "sessions_by_created" in pages, pages
    assert "TEMP B-TREE" not in pages, pages


# --- iteration and verdict updates for rescore -------------------------------------------


def test_iter_sessions_in_batches_oldest_first(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def scenario() -> None:
        store = await _store(db)
        for i in range(23):
            await store.create_session(new_session(f"s{i:02d}", 100.0 + i), 9e9)
            if i % 4 != 3:  # every fourth one never reported
                await store.save_result(full_session(f"s{i:02d}", 100.0 + i), verdict())
        reported = [f"s{i:02d}" for i in range(23) if i % 4 != 3]
        assert await store.count_sessions() == len(reported)

        sizes: list[int] = []
        seen: list[str] = []
        async for b in store.iter_sessions(batch=5):
            sizes.append(len(b.sessions))
            seen.extend(s.evidence.session_id for s in b.sessions)
            assert not b.unreadable
        assert seen == reported
        assert len(reported) == 18
        assert sizes == [5, 5, 5, 3]

        since = [
            s.evidence.session_id
            async for b in store.iter_sessions(since=110.0)
            for s in b.sessions
        ]
        assert since == [s for s in reported if int(s[1:]) >= 10]
        assert await store.count_sessions(since=110.0) == len(since)

        with pytest.raises(ParseError):
            async for _ in store.iter_sessions(batch=0):
                pass
        await store.close()

    run(scenario)


def test_an_unreadable_row_is_skipped_and_named(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def fill() -> None:
        store = await _store(db)
        for i in range(3):
            await store.create_session(new_session(f"s{i}", 10.0 + i), 9e9)
            await store.save_result(full_session(f"s{i}", 10.0 + i), verdict())
        await store.close()

    run(fill)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET evidence = '{not json' WHERE id = 's1'")

    async def scan() -> None:
        store = await _store(db)
        batches = [b async for b in store.iter_sessions(batch=2)]
        ids = [s.evidence.session_id for b in batches for s in b.sessions]
        bad = [u for b in batches for u in b.unreadable]
        assert ids == ["s0", "s2"]
        assert [u[0] for u in bad] == ["s1"]
        assert "unreadable" in bad[0][1]
        await store.close()

    run(scan)


def test_save_verdicts_touches_reported_sessions_only(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    low = Verdict(score=0, level=Level.LOW)

    async def scenario() -> None:
        store = await _store(db)
        await store.create_session(new_session("pending"), 9e9)
        await store.create_session(new_session("done"), 9e9)
        await store.save_result(full_session("done"), verdict())
        n = await store.save_verdicts(
            [Rescored("done", low), Rescored("pending", low), Rescored("missing", low)]
        )
        assert n == 1
        done = await store.get_session("done")
        pending = await store.get_session("pending")
        assert done is not None
        assert pending is not None
        assert done.verdict == low
        assert done.evidence == full_session("done")  # evidence untouched
        assert pending.verdict is None
        assert await store.save_verdicts([]) == 0
        await store.close()

    run(scenario)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT level, score FROM sessions WHERE id = 'done'").fetchone() == (
            "low",
            0,
        )
