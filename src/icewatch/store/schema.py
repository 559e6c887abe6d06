"""The SQLite schema, as an ordered list of migrations (version 1 is the first schema).

A released migration is never edited: a change to the schema is a new migration with the
next version number (``tests/store/test_migrations.py`` pins the text of released ones).
Each migration runs in one transaction together with the row recording it in
``schema_migrations``, so a database is always at exactly one version: a failure half-way
leaves it at the previous one. A database whose version is newer than the newest
migration known here is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from icewatch.store.errors import StoreError

__all__ = ["MIGRATIONS", "Migration", "current_version", "migrate"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    "sessions, observations, secrets",
    (
        # One row per session. ``evidence`` is the JSON of ``SessionEvidence.as_dict``
        # without its observations (those have their own table): the source of truth,
        # re-scored when rules change, and open to new evidence fields without a
        # migration. A few values are copied into indexed columns for the listings and
        # filters of the operator API.
        """CREATE TABLE sessions (
            id          TEXT PRIMARY KEY,
            created_at  REAL NOT NULL,
            expires_at  REAL NOT NULL,
            client_ip   TEXT NOT NULL,
            peer_ip     TEXT NOT NULL,
            reported_at REAL,
            evidence    TEXT NOT NULL,
            verdict     TEXT,
            level       TEXT,
            score       INTEGER,
            updated_at  REAL NOT NULL
        )""",
        "CREATE INDEX sessions_by_created ON sessions (created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_level ON sessions (level, created_at DESC)",
        "CREATE INDEX sessions_by_client_ip ON sessions (client_ip, created_at DESC)",
        # The packets attributed to a session, stored when its result is saved; ``seq``
        # keeps the order the evidence had.
        """CREATE TABLE observations (
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            seq        INTEGER NOT NULL,
            at         REAL NOT NULL,
            source     TEXT NOT NULL,
            kind       TEXT NOT NULL,
            ip         TEXT NOT NULL,
            port       INTEGER NOT NULL,
            transport  TEXT NOT NULL,
            data       TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID""",
        "CREATE INDEX observations_by_ip ON observations (ip, at)",
        # Server secrets (token and TURN-credential keys) that must survive restarts.
        """CREATE TABLE secrets (
            name       TEXT PRIMARY KEY,
            value      BLOB NOT NULL,
            created_at REAL NOT NULL
        )""",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1,)

_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied version (0 for an empty database)."""
    has_ledger = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not has_ledger:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(
    conn: sqlite3.Connection,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the database on ``conn`` (autocommit mode) up to the newest version; return it.

    ``where`` names the database in error messages.
    """
    latest = migrations[-1].version if migrations else 0
    version = current_version(conn)
    if version == 0:
        foreign = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        if foreign:
            raise StoreError(
                f"{where} is an SQLite database but not an icewatch one "
                f"(it has tables {', '.join(sorted(r[0] for r in foreign)[:5])}); "
                "give icewatch a file of its own"
            )
    if version > latest:
        raise StoreError(
            f"{where} has schema version {version}, newer than this icewatch knows "
            f"(up to {latest}): it was written by a newer release; upgrade icewatch "
            "or point --db at another file"
        )
    for step in migrations:
        if step.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_LEDGER)
            # Re-check inside the write lock: another process may have migrated meanwhile.
            if current_version(conn) >= step.version:
                conn.execute("ROLLBACK")
                continue
            for statement in step.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        version = step.version
    # Mirror the version where ``sqlite3 file.db 'PRAGMA user_version'`` shows it.
    if conn.execute("PRAGMA user_version").fetchone()[0] != version:
        conn.execute(f"PRAGMA user_version = {int(version)}")
    return version
