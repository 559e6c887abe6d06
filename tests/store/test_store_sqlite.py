"""The SQLite store through its public API, on real files in ``tmp_path``."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from icewatch.core.errors import ParseError
from icewatch.core.ports import SessionStore
from icewatch.store import StoreError, open_store
from icewatch.store.schema import MIGRATIONS
from icewatch.store.sqlite import MAX_PAGE, SqliteStore, decode_cursor, encode_cursor

from .samples import full_session, new_session, verdict

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run(main())


async def opened(path: Path) -> SessionStore:
    return await open_store(f"sqlite:///{path}")


def test_full_session_round_trips(tmp_path: Path) -> None:
    db = tmp_path / "icewatch.db"

    async def scenario() -> None:
        store = await opened(db)
        await store.create_session(new_session("s1"), expires_at=1300.0)
        got = await store.get_session("s1")
        assert got is not None
        assert got.evidence == new_session("s1")
        assert got.expires_at == 1300.0
        assert got.verdict is None

        await store.save_result(full_session("s1"), verdict())
        got = await store.get_session("s1")
        assert got is not None
        assert got.evidence == full_session("s1")
        assert got.verdict == verdict()
        await store.close()

        # And from a fresh process' point of view: reopen and read again.
        store = await opened(db)
        again = await store.get_session("s1")
        await store.close()
        assert again == got

    run(scenario)


def test_saving_again_replaces_evidence_and_observations(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        await store.create_session(new_session("s1"), 2000.0)
        await store.save_result(full_session("s1"), verdict())
        fewer = dataclasses.replace(
            full_session("s1"), observations=full_session("s1").observations[:1]
        )
        await store.save_result(fewer, verdict())
        got = await store.get_session("s1")
        await store.close()
        assert got is not None
        assert got.evidence.observations == fewer.observations

    run(scenario)


def test_duplicate_and_unknown_sessions_raise_key_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        await store.create_session(new_session("s1"), 2000.0)
        with pytest.raises(KeyError):
            await store.create_session(new_session("s1"), 2000.0)
        with pytest.raises(KeyError):
            await store.save_result(full_session("nope"), verdict())
        assert await store.get_session("nope") is None
        assert await store.get_session("") is None
        # The failed writes rolled back alone: the first session is intact and the
        # store still takes writes.
        await store.create_session(new_session("s2"), 2000.0)
        page = await store.list_sessions(limit=10)
        await store.close()
        assert [s.evidence.session_id for s in page.sessions] == ["s2", "s1"]

    run(scenario)


def test_listing_is_newest_first_across_pages(tmp_path: Path) -> None:
    # 25 sessions, with ties on created_at broken by id, listed 7 at a time.
    created = {f"s{i:02d}": 1000.0 + (i // 3) * 0.1 for i in range(25)}
    expected = sorted(created, key=lambda sid: (created[sid], sid), reverse=True)

    async def scenario() -> list[list[str]]:
        store = await opened(tmp_path / "db.sqlite")
        for sid in reversed(list(created)):  # insertion order must not matter
            await store.create_session(new_session(sid, created[sid]), 9e9)
        pages: list[list[str]] = []
        cursor: str | None = None
        while True:
            page = await store.list_sessions(limit=7, cursor=cursor)
            pages.append([s.evidence.session_id for s in page.sessions])
            cursor = page.next_cursor
            if cursor is None:
                break
            # A session created meanwhile (newer than everything) does not disturb
            # the pages still to come.
            await store.create_session(new_session(f"new{len(pages)}", 5000.0), 9e9)
        await store.close()
        return pages

    pages = run(scenario)
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [sid for page in pages for sid in page] == expected


def test_listing_exact_multiple_has_no_empty_last_page(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        for i in range(4):
            await store.create_session(new_session(f"s{i}", 1000.0 + i), 9e9)
        first = await store.list_sessions(limit=2)
        second = await store.list_sessions(limit=2, cursor=first.next_cursor)
        empty = await store.list_sessions(limit=5, cursor=encode_cursor(0.0, ""))
        await store.close()
        assert [s.evidence.session_id for s in first.sessions] == ["s3", "s2"]
        assert [s.evidence.session_id for s in second.sessions] == ["s1", "s0"]
        assert second.next_cursor is None
        assert empty.sessions == ()
        assert empty.next_cursor is None

    run(scenario)


def test_listing_returns_observations_and_verdicts(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        for sid, at in (("a", 1.0), ("b", 2.0)):
            await store.create_session(new_session(sid, at), 9e9)
            await store.save_result(full_session(sid, at), verdict())
        page = await store.list_sessions(limit=5)
        await store.close()
        assert [s.evidence for s in page.sessions] == [
            full_session("b", 2.0),
            full_session("a", 1.0),
        ]
        assert all(s.verdict == verdict() for s in page.sessions)

    run(scenario)


@pytest.mark.parametrize(
    "cursor", ["", "garbage!", "W10", "WzEsMl0", "eyJhIjoxfQ", "WyJ4IiwieSJd", "x" * 600]
)
def test_bad_cursors_are_parse_errors(tmp_path: Path, cursor: str) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        try:
            with pytest.raises(ParseError):
                await store.list_sessions(limit=5, cursor=cursor)
        finally:
            await store.close()

    run(scenario)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE + 1, True])
def test_bad_limits_are_parse_errors(tmp_path: Path, limit: int) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        try:
            with pytest.raises(ParseError):
                await store.list_sessions(limit=limit)
        finally:
            await store.close()

    run(scenario)


def test_cursor_round_trips_exactly() -> None:
    for created_at in (0.0, 1e-9, 1717171717.123456, 2.0**53 + 0.5):
        assert decode_cursor(encode_cursor(created_at, "abc_-")) == (created_at, "abc_-")


def test_many_concurrent_writers_are_all_durable(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    n = 500

    async def scenario() -> dict[str, int]:
        store = await opened(db)
        assert isinstance(store, SqliteStore)

        async def one(i: int) -> None:
            await store.create_session(new_session(f"s{i:04d}", 1000.0 + i), 9e9)
            await store.save_result(full_session(f"s{i:04d}", 1000.0 + i), verdict())

        await asyncio.gather(*(one(i) for i in range(n)))
        stats = store.stats
        await store.close()
        return stats

    stats = run(scenario)
    assert stats["writes"] == 2 * n
    # Group commit happened: far fewer transactions than writes.
    assert stats["batches"] < stats["writes"]
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT COUNT(*) FROM sessions WHERE verdict IS NOT NULL"
        ).fetchone() == (n,)
        assert conn.execute("SELECT COUNT(*) FROM observations").fetchone() == (2 * n,)


def test_close_drains_queued_writes(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    n = 300

    async def scenario() -> list[BaseException | None]:
        store = await opened(db)
        tasks = [
            asyncio.create_task(store.create_session(full_session(f"s{i}"), 9e9)) for i in range(n)
        ]
        await asyncio.sleep(0)  # every task has queued its write; none is committed yet
        await store.close()
        assert all(t.done() for t in tasks), "close() returned before acknowledging queued writes"
        return [t.exception() for t in tasks]

    assert run(scenario) == [None] * n

    async def reopen() -> int:
        store = await opened(db)
        count = 0
        cursor: str | None = None
        while True:
            page = await store.list_sessions(limit=MAX_PAGE, cursor=cursor)
            count += len(page.sessions)
            assert all(s.evidence == full_session(s.evidence.session_id) for s in page.sessions)
            cursor = page.next_cursor
            if cursor is None:
                break
        await store.close()
        return count

    assert run(reopen) == n


def test_use_after_close_is_a_store_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreError, match="closed"):
            await store.create_session(new_session("s1"), 9e9)
        with pytest.raises(StoreError, match="closed"):
            await store.get_session("s1")
        with pytest.raises(StoreError, match="closed"):
            await store.ping()

    run(scenario)


def test_secret_is_inserted_once_and_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def first() -> tuple[bytes, list[bytes]]:
        store = await opened(db)
        kept = await store.server_secret("master", b"A" * 32)
        # Concurrent first calls with different candidates all get one stored value.
        racing = await asyncio.gather(
            *(store.server_secret("other", bytes([i]) * 32) for i in range(1, 20))
        )
        await store.close()
        return kept, racing

    kept, racing = run(first)
    assert kept == b"A" * 32
    assert len(set(racing)) == 1
    assert racing[0] == bytes([1]) * 32  # the first queued write won

    async def second() -> tuple[bytes, bytes]:
        store = await opened(db)
        pair = (
            await store.server_secret("master", b"B" * 32),
            await store.server_secret("other", b"C" * 32),
        )
        await store.close()
        return pair

    assert run(second) == (b"A" * 32, bytes([1]) * 32)


@pytest.mark.parametrize(("name", "value"), [("", b"x"), ("x" * 201, b"x"), ("n", b""), ("n", "s")])
def test_bad_secret_arguments(tmp_path: Path, name: str, value: bytes) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        try:
            with pytest.raises(ValueError, match="secret"):
                await store.server_secret(name, value)
        finally:
            await store.close()

    run(scenario)


def test_wal_mode_full_sync_and_private_file(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    async def scenario() -> None:
        store = await opened(db)
        await store.ping()
        await store.create_session(new_session("s1"), 9e9)
        # While open, the -wal file exists beside the database.
        assert (tmp_path / "db.sqlite-wal").exists()
        await store.close()

    run(scenario)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (MIGRATIONS[-1].version,)
    assert db.stat().st_mode & 0o777 == 0o600


def test_repr_and_url(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "db.sqlite")
        assert isinstance(store, SqliteStore)
        assert repr(store) == f"<SqliteStore sqlite:///{tmp_path}/db.sqlite>"
        assert store.schema_version == MIGRATIONS[-1].version
        await store.close()

    run(scenario)


def test_in_memory_store_works_and_is_private() -> None:
    async def scenario() -> None:
        a = await open_store("sqlite://:memory:")
        b = await open_store("sqlite:///:memory:")
        await a.create_session(new_session("s1"), 9e9)
        await a.save_result(full_session("s1"), verdict())
        got = await a.get_session("s1")
        assert got is not None
        assert got.evidence == full_session("s1")
        assert (await a.list_sessions(limit=5)).sessions == (got,)
        assert await b.get_session("s1") is None
        assert await a.server_secret("m", b"k") == b"k"
        await a.ping()
        await asyncio.gather(a.close(), b.close())

    run(scenario)


def test_a_second_process_store_on_the_same_file_sees_commits(tmp_path: Path) -> None:
    # Two stores on one file (as two processes would have): WAL readers of one see the
    # commits of the other, and writes interleave under the busy timeout.
    db = tmp_path / "db.sqlite"

    async def scenario() -> None:
        one = await opened(db)
        two = await opened(db)
        await asyncio.gather(
            *(one.create_session(new_session(f"a{i}", float(i)), 9e9) for i in range(50)),
            *(two.create_session(new_session(f"b{i}", float(i)), 9e9) for i in range(50)),
        )
        assert await two.get_session("a49") is not None
        assert await one.get_session("b49") is not None
        await one.close()
        await two.close()

    run(scenario)


def test_cancelled_open_leaves_no_thread_behind(tmp_path: Path) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(opened(tmp_path / "db.sqlite"))
        await asyncio.sleep(0)  # the writer thread is starting
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario)
    for thread in threading.enumerate():
        if thread.name.startswith("icewatch-store"):
            thread.join(timeout=10)
            assert not thread.is_alive(), thread.name
