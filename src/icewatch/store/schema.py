"""The SQLite schema, as an ordered list of migrations (version 1 is the first schema).

A released migration is never edited: a change to the schema is a new migration with the
next version number (``tests/store/test_store_migrations.py`` pins the text of released ones).
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

#: Keeps one ``fingerprint_stats`` row current: ``{sign}1`` on (name, value).
_COUNT_UP = (
    "INSERT INTO fingerprint_stats (name, value, sessions) VALUES ('', '', 1), "
    "('fingerprint', NEW.fingerprint, 1) "
    "ON CONFLICT (name, value) DO UPDATE SET sessions = sessions + 1; "
    "INSERT INTO fingerprint_stats (name, value, sessions) "
    "SELECT key, value, 1 FROM json_each(NEW.fingerprint_components) WHERE true "
    "ON CONFLICT (name, value) DO UPDATE SET sessions = sessions + 1;"
)
_COUNT_DOWN = (
    "UPDATE fingerprint_stats SET sessions = sessions - 1 WHERE name = '' AND value = ''; "
    "UPDATE fingerprint_stats SET sessions = sessions - 1 "
    "WHERE name = 'fingerprint' AND value = OLD.fingerprint; "
    "UPDATE fingerprint_stats SET sessions = sessions - 1 WHERE (name, value) IN "
    "(SELECT key, value FROM json_each(OLD.fingerprint_components)); "
    "DELETE FROM fingerprint_stats WHERE name = 'fingerprint' AND value = OLD.fingerprint "
    "AND sessions <= 0; "
    "DELETE FROM fingerprint_stats WHERE (name, value) IN "
    "(SELECT key, value FROM json_each(OLD.fingerprint_components)) AND sessions <= 0;"
)
_FP_CHANGED = (
    "(OLD.fingerprint IS NOT NEW.fingerprint "
    "OR OLD.fingerprint_components IS NOT NEW.fingerprint_components)"
)

_V2 = Migration(
    2,
    "network fingerprint and its population counts",
    (
        # The network fingerprint of a reported session (icewatch.core.fingerprint): its
        # id and its components as a JSON object {name: value}. Derived from the
        # evidence (``icewatch rescore`` recomputes it), so NULL is always acceptable.
        "ALTER TABLE sessions ADD COLUMN fingerprint TEXT",
        "ALTER TABLE sessions ADD COLUMN fingerprint_components TEXT",
        "CREATE INDEX sessions_by_fingerprint ON sessions (fingerprint, created_at DESC)"
        " WHERE fingerprint IS NOT NULL",
        # How many sessions have each fingerprint ('fingerprint', id) and each component
        # value (name, value); ('', '') counts every fingerprinted session. Kept by the
        # triggers below in the transaction that changes a session, whoever changes it
        # (a report, a rescore, a DELETE by hand), so a lookup is one primary-key read
        # and the counts never drift. Rows that fall to zero go.
        """CREATE TABLE fingerprint_stats (
            name     TEXT NOT NULL,
            value    TEXT NOT NULL,
            sessions INTEGER NOT NULL,
            PRIMARY KEY (name, value)
        ) WITHOUT ROWID""",
        "CREATE TRIGGER fingerprint_counted AFTER INSERT ON sessions"
        f" WHEN NEW.fingerprint IS NOT NULL BEGIN {_COUNT_UP} END",
        "CREATE TRIGGER fingerprint_uncounted AFTER DELETE ON sessions"
        f" WHEN OLD.fingerprint IS NOT NULL BEGIN {_COUNT_DOWN} END",
        "CREATE TRIGGER fingerprint_replaced_old"
        " AFTER UPDATE OF fingerprint, fingerprint_components ON sessions"
        f" WHEN OLD.fingerprint IS NOT NULL AND {_FP_CHANGED} BEGIN {_COUNT_DOWN} END",
        "CREATE TRIGGER fingerprint_replaced_new"
        " AFTER UPDATE OF fingerprint, fingerprint_components ON sessions"
        f" WHEN NEW.fingerprint IS NOT NULL AND {_FP_CHANGED} BEGIN {_COUNT_UP} END",
    ),
)

_V3 = Migration(
    3,
    "filter index: browser family, provider, signals, addresses",
    (
        # Copied out of the evidence and the verdict (icewatch.store.index) in the
        # transaction that writes them, so the operator filters are index scans. All
        # derived: ``indexed`` says which version of the indexing rules wrote a row's
        # derived values (0: not yet; the store fills those in when it opens).
        "ALTER TABLE sessions ADD COLUMN ua_family TEXT",
        "ALTER TABLE sessions ADD COLUMN provider TEXT",
        "ALTER TABLE sessions ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX sessions_by_ua_family ON sessions (ua_family COLLATE NOCASE, created_at)"
        " WHERE ua_family IS NOT NULL",
        "CREATE INDEX sessions_by_indexed ON sessions (indexed)",
        # How the addresses in a row's stored JSON and columns were written
        # (``store_addresses``: NULL = as captured, else ``truncated`` or ``hashed``), so
        # the background pass finds the rows still to rewrite.
        "ALTER TABLE sessions ADD COLUMN addresses TEXT",
        "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
        "CREATE INDEX sessions_unrewritten ON sessions (expires_at) WHERE addresses IS NULL",
        # One row per signal code a session's verdict carries (its weight as applied).
        """CREATE TABLE session_signals (
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            code       TEXT NOT NULL,
            weight     INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, code)
        ) WITHOUT ROWID""",
        "CREATE INDEX session_signals_by_code ON session_signals (code, created_at)",
        # Every distinct address of a session as 16 bytes (IPv4 as ::ffff:a.b.c.d), so
        # "in this CIDR" is one range scan; ``seen_as``: http, http_peer, observed,
        # reported (comma-separated).
        """CREATE TABLE session_addresses (
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            ip         BLOB NOT NULL,
            seen_as    TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, ip)
        ) WITHOUT ROWID""",
        "CREATE INDEX session_addresses_by_ip ON session_addresses (ip, created_at)",
        # Every provider/organisation name (lower-cased) and ``as<N>`` the IP
        # intelligence gave for any address of a session.
        """CREATE TABLE session_providers (
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, name)
        ) WITHOUT ROWID""",
        "CREATE INDEX session_providers_by_name ON session_providers (name, created_at)",
    ),
)

_V4 = Migration(
    4,
    "webhook outbox",
    (
        # Webhook events waiting for delivery (icewatch.store.outbox): inserted in the
        # transaction that saves a flagged verdict, deleted once delivered; ``dead``
        # rows gave up and stay for inspection. ``body`` is the exact JSON POSTed.
        """CREATE TABLE webhook_outbox (
            id         TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            body       BLOB NOT NULL,
            status     TEXT NOT NULL,
            attempts   INTEGER NOT NULL,
            next_at    REAL NOT NULL,
            last_error TEXT,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_at)",
        "CREATE INDEX webhook_outbox_by_session ON webhook_outbox (session_id)",
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4)

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
