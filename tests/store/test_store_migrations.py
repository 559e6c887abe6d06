"""Schema migrations: version 1 is the first schema; released ones never change; newer
databases are refused; a failed migration leaves the database at its previous version."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from icewatch.core.evidence import HttpSighting, SessionEvidence
from icewatch.store import StoreError, open_store
from icewatch.store.schema import MIGRATIONS, Migration, current_version, migrate
from icewatch.store.sqlite import SqliteStore
from icewatch.store.url import parse_sqlite_url

from .samples import full_session, ip, verdict

#: sha256 of each released migration's statements. A released migration is never
#: edited (databases in the field already ran it): add a new one instead.
RELEASED = {
    1: "bb502d4efc6e4a244d766c3edf95758aca3560bbac1953db3fa875d5409d82f1",
    2: "4487ea12d567b58f09f83975cf7756e1c6e980c53c3c5fb43ad0e34a49d8ac21",
    3: "a4587cfd6add484c4907124e116ed57d64b20622d203edf625bc1913c96023ef",
    4: "5ce1ab6bc1a57070a694be98270ca3860ce6fce724e8f447684dac78875f56ff",
}


def _digest(step: Migration) -> str:
    return hashlib.sha256("\n;\n".join(step.statements).encode()).hexdigest()


def test_released_migrations_are_frozen() -> None:
    for version, digest in RELEASED.items():
        step = next(m for m in MIGRATIONS if m.version == version)
        assert _digest(step) == digest, f"migration {version} was edited; add a new one"


def test_versions_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def _build(db: Path, up_to: int) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, str(db), [m for m in MIGRATIONS if m.version <= up_to])
    finally:
        conn.close()


#: A session as the first release wrote it (written out, not generated: it must keep
#: reading back whatever the code becomes).
_V1_EVIDENCE = (
    '{"session_id":"old","created_at":5.0,"http":{"peer_ip":"127.0.0.1",'
    '"client_ip":"198.51.100.7","at":5.0,"user_agent":"Firefox","forwarded_for":[],'
    '"host":"","headers":{}},"report":null,"report_http":null,"reported_at":null}'
)


def test_a_version_1_database_opens_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    _build(db, 1)
    # A row as version 1 wrote it, by hand: the columns of the first schema.
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, evidence,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("old", 5.0, 9.0, "198.51.100.7", "127.0.0.1", _V1_EVIDENCE, 5.0),
        )

    async def scenario() -> None:
        store = await open_store(f"sqlite:///{db}")
        assert isinstance(store, SqliteStore)
        assert store.schema_version == MIGRATIONS[-1].version
        got = await store.get_session("old")
        assert got is not None
        assert got.evidence == SessionEvidence(
            "old", 5.0, HttpSighting(ip("127.0.0.1"), ip("198.51.100.7"), 5.0, "Firefox")
        )
        assert got.verdict is None
        await store.save_result(full_session("old", 5.0), verdict())
        await store.close()

    asyncio.run(scenario())


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    _build(db, MIGRATIONS[-1].version)
    newer = MIGRATIONS[-1].version + 1
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)",
            (newer,),
        )

    async def scenario() -> str:
        with pytest.raises(StoreError) as info:
            await open_store(f"sqlite:///{db}")
        return str(info.value)

    message = asyncio.run(scenario())
    assert f"schema version {newer}" in message
    assert "newer" in message
    assert "upgrade icewatch" in message


def test_a_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    _build(db, 1)
    broken = (
        *MIGRATIONS,
        Migration(
            MIGRATIONS[-1].version + 1,
            "broken",
            ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"),
        ),
    )

    async def scenario() -> str:
        store = SqliteStore(parse_sqlite_url(f"sqlite:///{db}"), "test", migrations=broken)
        with pytest.raises(StoreError) as info:
            await store.open()
        return str(info.value)

    assert "syntax error" in asyncio.run(scenario())
    with sqlite3.connect(db) as conn:
        assert current_version(conn) == MIGRATIONS[-1].version
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables


def test_migrations_apply_in_order_and_are_recorded(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    extra = (
        *MIGRATIONS,
        Migration(
            MIGRATIONS[-1].version + 1, "add a note", ("ALTER TABLE sessions ADD note TEXT",)
        ),
    )
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrate(conn, "db", MIGRATIONS) == MIGRATIONS[-1].version
        assert migrate(conn, "db", extra) == extra[-1].version
        assert migrate(conn, "db", extra) == extra[-1].version  # idempotent
        rows = conn.execute(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).fetchall()
        assert conn.execute("PRAGMA user_version").fetchone() == (extra[-1].version,)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    finally:
        conn.close()
    assert rows == [(m.version, m.name) for m in extra]
    assert "note" in columns
