"""The SQLite :class:`~icewatch.core.ports.SessionStore` (``sqlite:///path``).

Evidence is stored as the JSON of ``SessionEvidence.as_dict`` (its observations one
row each) and read back with :func:`~icewatch.core.evidence.session_evidence_from_dict`,
so a stored session can be re-scored when the rules change; a few values are copied
into indexed columns (``created_at``, ``level``, ``client_ip``) for listings and filters.
The threads and the transaction discipline are in :mod:`icewatch.store._db`; the schema
and its migrations in :mod:`icewatch.store.schema`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from icewatch.core.errors import ParseError
from icewatch.core.evidence import SessionEvidence, session_evidence_from_dict
from icewatch.core.fingerprint import NetworkFingerprint, Population
from icewatch.core.ports import (
    OutboxEvent,
    OutboxItem,
    OutboxSummary,
    Overview,
    Rescored,
    SessionBatch,
    SessionFilter,
    SessionPage,
    StoredSession,
)
from icewatch.core.privacy import AddressPolicy
from icewatch.core.verdict import Verdict, verdict_from_dict
from icewatch.store import outbox as _outbox
from icewatch.store._db import Database
from icewatch.store.errors import StoreError
from icewatch.store.index import INDEX_VERSION, reindex_batch, write_index, write_signals
from icewatch.store.overview import MAX_BUCKETS, compute_overview
from icewatch.store.query import check_filter, page_sql, where_sql
from icewatch.store.schema import MIGRATIONS, Migration
from icewatch.store.url import SqliteTarget

__all__ = ["MAX_BATCH_SESSIONS", "MAX_PAGE", "SqliteStore"]

#: Largest ``limit`` one listing call accepts.
MAX_PAGE = 1000
#: Largest batch :meth:`SqliteStore.iter_sessions` reads at once.
MAX_BATCH_SESSIONS = 5000
#: Sessions indexed per transaction when an upgraded database is back-filled.
REINDEX_BATCH = 500
#: Sessions whose addresses are rewritten per transaction.
REWRITE_BATCH = 200
#: Sessions deleted per transaction by :meth:`SqliteStore.purge`.
PURGE_BATCH = 500
#: How far :meth:`SqliteStore.count_matching` counts by default.
COUNT_LIMIT = 100_000
#: Longest cursor text accepted (an opaque token of a float and a session id).
_MAX_CURSOR = 512
_MAX_SECRET_NAME = 200

_SESSION_COLUMNS = "id, created_at, expires_at, evidence, verdict, fingerprint"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_cursor(created_at: float, session_id: str) -> str:
    """An opaque cursor pointing just past the session ``(created_at, session_id)``."""
    raw = _dumps([created_at, session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Read a cursor from :func:`encode_cursor`; raise :class:`ParseError` for anything else."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR:
        raise ParseError("cursor", "not a cursor returned by a previous page")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        created_at, session_id = value
        if isinstance(created_at, bool) or not isinstance(created_at, int | float):
            raise TypeError
        if not isinstance(session_id, str):
            raise TypeError
        return float(created_at), session_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ParseError("cursor", "not a cursor returned by a previous page") from None


def _verdict_columns(verdict: Verdict | None) -> tuple[str | None, str | None, int | None]:
    if verdict is None:
        return None, None, None
    return _dumps(verdict.as_dict()), verdict.level.value, verdict.score


def _fingerprint_columns(fingerprint: NetworkFingerprint | None) -> dict[str, str | None]:
    if fingerprint is None:
        return {"fingerprint": None, "fingerprint_components": None}
    return {
        "fingerprint": fingerprint.id,
        "fingerprint_components": _dumps(fingerprint.component_map()),
    }


def _evidence_columns(evidence: SessionEvidence) -> dict[str, Any]:
    document = evidence.as_dict()
    del document["observations"]  # stored in their own table, one row each
    return {
        "id": evidence.session_id,
        "created_at": evidence.created_at,
        "client_ip": str(evidence.http.client_ip),
        "peer_ip": str(evidence.http.peer_ip),
        "reported_at": evidence.reported_at,
        "evidence": _dumps(document),
    }


def _write_observations(conn: sqlite3.Connection, evidence: SessionEvidence) -> None:
    conn.execute("DELETE FROM observations WHERE session_id = ?", (evidence.session_id,))
    conn.executemany(
        "INSERT INTO observations (session_id, seq, at, source, kind, ip, port, transport, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                evidence.session_id,
                seq,
                o.at,
                o.source.value,
                o.kind.value,
                str(o.ip),
                o.port,
                o.transport,
                _dumps(o.as_dict()),
            )
            for seq, o in enumerate(evidence.observations)
        ],
    )


def _row_to_session(row: sqlite3.Row, observations: Sequence[str]) -> StoredSession:
    try:
        document = json.loads(row["evidence"])
        document["observations"] = [json.loads(o) for o in observations]
        evidence = session_evidence_from_dict(document)
        verdict = None if row["verdict"] is None else verdict_from_dict(json.loads(row["verdict"]))
    except (ValueError, TypeError) as exc:  # ParseError and JSONDecodeError are ValueErrors
        raise StoreError(f"stored session {row['id']} is unreadable: {exc}") from None
    return StoredSession(
        evidence=evidence,
        expires_at=row["expires_at"],
        verdict=verdict,
        fingerprint=row["fingerprint"],
    )


def _since(since: float | None) -> float:
    """A ``created_at`` lower bound (``-inf`` for none); raise :class:`ParseError`."""
    if since is None:
        return float("-inf")
    if isinstance(since, bool) or not isinstance(since, int | float) or since != since:
        raise ParseError("since", "must be a number of Unix seconds")
    return float(since)


def _rows(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor yielding rows addressable by column name."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor


def _observations_of(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> dict[str, list[str]]:
    """Each session's stored observations (one query for the whole page)."""
    ids = [row["id"] for row in rows]
    found: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return found
    marks = ",".join("?" * len(ids))
    for session_id, data in conn.execute(
        f"SELECT session_id, data FROM observations WHERE session_id IN ({marks})"  # noqa: S608
        " ORDER BY session_id, seq",
        ids,
    ):
        found[session_id].append(data)
    return found


def _page_of(conn: sqlite3.Connection, rows: list[sqlite3.Row], limit: int) -> SessionPage:
    """The page of ``rows`` read with ``LIMIT limit + 1``: the first ``limit`` sessions,
    and the cursor after the last of them when there was one row more."""
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"])
    return SessionPage(sessions=tuple(_load(conn, page)), next_cursor=next_cursor)


def _load(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[StoredSession]:
    """Attach each session's observations (one query for the whole page)."""
    if not rows:
        return []
    found = _observations_of(conn, rows)
    return [_row_to_session(row, found[row["id"]]) for row in rows]


class SqliteStore:
    """A :class:`~icewatch.core.ports.SessionStore` on one SQLite file (WAL mode).

    Build it with :func:`icewatch.store.open_store`, or construct it and ``await
    store.open()``. Use it from one event loop.
    """

    def __init__(
        self,
        target: SqliteTarget,
        url: str,
        *,
        readers: int = 2,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self._url = url
        self._db = Database(target, readers=readers, migrations=migrations)
        self._policy = AddressPolicy("full")

    def __repr__(self) -> str:
        return f"<SqliteStore {self._url}>"

    @property
    def url(self) -> str:
        """The URL the store was opened with (passwords masked)."""
        return self._url

    @property
    def schema_version(self) -> int:
        return self._db.schema_version

    @property
    def stats(self) -> dict[str, int]:
        """Writes committed and transactions (fsyncs) they took: ``writes / batches`` is
        the group-commit factor."""
        return {"writes": self._db.writes, "batches": self._db.batches}

    async def open(self) -> None:
        """Create or migrate the database and start its threads, then index the sessions
        an older version wrote (see :mod:`icewatch.store.index`); raise :class:`StoreError`."""
        await self._db.open()
        if self._db.schema_version >= 3:  # the index tables exist
            await self._reindex()

    async def _reindex(self) -> int:
        """Fill the derived index rows of sessions written before schema 3 (or by older
        indexing rules), :data:`REINDEX_BATCH` per transaction; return how many."""

        def load(row: Any) -> tuple[SessionEvidence, Verdict | None]:
            observations = [
                r[0]
                for r in row["_conn"].execute(
                    "SELECT data FROM observations WHERE session_id = ? ORDER BY seq",
                    (row["id"],),
                )
            ]
            stored = _row_to_session(row["_row"], observations)
            return stored.evidence, stored.verdict

        def batch(conn: sqlite3.Connection) -> int:
            rows = (
                _rows(conn)
                .execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE indexed < ? LIMIT ?",  # noqa: S608
                    (INDEX_VERSION, REINDEX_BATCH),
                )
                .fetchall()
            )
            reindex_batch(conn, [{"id": r["id"], "_row": r, "_conn": conn} for r in rows], load)
            return len(rows)

        def pending(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM sessions WHERE indexed < ? LIMIT 1", (INDEX_VERSION,)
            ).fetchone()
            return row is not None

        total = 0
        if not await self._db.read(pending):
            return 0
        while True:
            done = await self._db.write(batch)
            total += done
            if done < REINDEX_BATCH:
                return total

    # -- stored addresses (icewatch.core.privacy) ----------------------------------------

    @property
    def address_policy(self) -> AddressPolicy:
        return self._policy

    def set_address_policy(self, policy: AddressPolicy) -> None:
        """How addresses are written from now on (``store_addresses``): reports saved
        afterwards are rewritten, and :meth:`rewrite_addresses` catches up the rest."""
        self._policy = policy

    def _stored_form(
        self, evidence: SessionEvidence, verdict: Verdict
    ) -> tuple[SessionEvidence, Verdict, str | None]:
        """The evidence and verdict as the policy stores them, and the ``addresses`` mark."""
        policy = self._policy
        if not policy.rewrites:
            return evidence, verdict, None
        try:
            stored = session_evidence_from_dict(policy.json(evidence.as_dict()))
            stored_verdict = verdict_from_dict(policy.json(verdict.as_dict()))
        except ValueError as exc:  # cannot happen: rewritten addresses are valid ones
            raise StoreError(f"session {evidence.session_id}: rewriting addresses: {exc}") from None
        return stored, stored_verdict, policy.mode

    def _where(self, where: SessionFilter) -> tuple[str, list[Any]]:
        """The filter as SQL; an address filter also finds that address's stored form."""
        check_filter(where)
        aliases = () if where.network is None else self._policy.network_aliases(where.network)
        return where_sql(where, aliases)

    def _stored_event(self, event: OutboxEvent) -> OutboxEvent:
        """A webhook event as stored: its addresses rewritten like the session's (the
        body is signed at each attempt, so the receiver gets the stored form)."""
        try:
            body = self._policy.json(json.loads(event.body))
        except ValueError as exc:  # the body is always our own JSON
            raise StoreError(f"webhook event {event.id}: unreadable body: {exc}") from None
        return dataclasses.replace(event, body=_dumps(body).encode())

    async def _in_batches(self, step: Callable[[sqlite3.Connection], int], size: int) -> int:
        """Run the write transaction ``step`` until it handles fewer than ``size``
        sessions (other writes interleave between them); return the total it handled."""
        total = 0
        while True:
            done = await self._db.write(step)
            total += done
            if done < size:
                return total

    async def rewrite_addresses(self, now: float, *, batch: int = REWRITE_BATCH) -> int:
        """Rewrite, under the current policy, the sessions still stored with the addresses
        as captured: reported ones (saved before the policy was set) and unreported ones
        whose ``expires_at`` is past ``now`` (a live session keeps its HTTP address until
        it expires). ``batch`` sessions per transaction; return how many were rewritten."""
        policy = self._policy
        if not policy.rewrites:
            return 0

        def step(conn: sqlite3.Connection) -> int:
            rows = (
                _rows(conn)
                .execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608
                    " WHERE addresses IS NULL AND (reported_at IS NOT NULL OR expires_at <= ?)"
                    " LIMIT ?",
                    (now, batch),
                )
                .fetchall()
            )
            for row in rows:
                observations = [
                    r[0]
                    for r in conn.execute(
                        "SELECT data FROM observations WHERE session_id = ? ORDER BY seq",
                        (row["id"],),
                    )
                ]
                try:
                    found = _row_to_session(row, observations)
                except StoreError:
                    # Unreadable: nothing can be salvaged without its addresses.
                    conn.execute("DELETE FROM sessions WHERE id = ?", (row["id"],))
                    continue
                evidence = session_evidence_from_dict(policy.json(found.evidence.as_dict()))
                verdict = (
                    None
                    if found.verdict is None
                    else verdict_from_dict(policy.json(found.verdict.as_dict()))
                )
                columns = _evidence_columns(evidence)
                verdict_json, _, _ = _verdict_columns(verdict)
                conn.execute(
                    "UPDATE sessions SET client_ip = :client_ip, peer_ip = :peer_ip,"
                    " evidence = :evidence, verdict = COALESCE(:verdict, verdict)"
                    " WHERE id = :id",
                    {**columns, "verdict": verdict_json},
                )
                _write_observations(conn, evidence)
                write_index(conn, evidence, verdict, addresses=policy.mode)
            return len(rows)

        return await self._in_batches(step, batch)

    # -- SessionStore ---------------------------------------------------------------------

    async def create_session(self, evidence: SessionEvidence, expires_at: float) -> None:
        columns = _evidence_columns(evidence)
        now = time.time()

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip,"
                    " reported_at, evidence, updated_at)"
                    " VALUES (:id, :created_at, :expires_at, :client_ip, :peer_ip,"
                    " :reported_at, :evidence, :updated_at)",
                    {**columns, "expires_at": float(expires_at), "updated_at": now},
                )
            except sqlite3.IntegrityError:
                raise KeyError(evidence.session_id) from None
            _write_observations(conn, evidence)
            write_index(conn, evidence, None)

        await self._db.write(insert)

    async def save_result(
        self,
        evidence: SessionEvidence,
        verdict: Verdict,
        fingerprint: NetworkFingerprint | None = None,
        *,
        outbox: OutboxEvent | None = None,
        outbox_max: int = 0,
    ) -> bool:
        """Also queues the webhook event ``outbox`` in the same transaction (see
        :func:`icewatch.store.outbox.enqueue`); return whether it was queued."""
        evidence, verdict, mark = self._stored_form(evidence, verdict)
        if outbox is not None and mark is not None:
            outbox = self._stored_event(outbox)
        columns = _evidence_columns(evidence)
        verdict_json, level, score = _verdict_columns(verdict)
        now = time.time()

        def update(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE sessions SET created_at = :created_at, client_ip = :client_ip,"
                " peer_ip = :peer_ip, reported_at = :reported_at, evidence = :evidence,"
                " verdict = :verdict, level = :level, score = :score, updated_at = :updated_at,"
                " fingerprint = :fingerprint, fingerprint_components = :fingerprint_components"
                " WHERE id = :id",
                {
                    **columns,
                    **_fingerprint_columns(fingerprint),
                    "verdict": verdict_json,
                    "level": level,
                    "score": score,
                    "updated_at": now,
                },
            )
            if cursor.rowcount != 1:
                raise KeyError(evidence.session_id)
            _write_observations(conn, evidence)
            write_index(conn, evidence, verdict, addresses=mark)
            if outbox is None:
                return False
            return _outbox.enqueue(conn, outbox, limit=outbox_max, now=now)

        return await self._db.write(update)

    async def get_session(self, session_id: str) -> StoredSession | None:
        def fetch(conn: sqlite3.Connection) -> StoredSession | None:
            rows = (
                _rows(conn)
                .execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?",  # noqa: S608
                    (session_id,),
                )
                .fetchall()
            )
            found = _load(conn, rows)
            return found[0] if found else None

        if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
            return None
        return await self._db.read(fetch)

    async def list_sessions(self, *, limit: int, cursor: str | None = None) -> SessionPage:
        """Newest first (``created_at``, then id, descending). ``limit`` is 1..:data:`MAX_PAGE`;
        a bad ``limit`` or ``cursor`` raises :class:`~icewatch.core.errors.ParseError`."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ParseError("limit", f"must be an integer in 1..{MAX_PAGE}")
        after = None if cursor is None else decode_cursor(cursor)

        def page(conn: sqlite3.Connection) -> SessionPage:
            if after is None:
                rows = (
                    _rows(conn)
                    .execute(
                        f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608
                        " ORDER BY created_at DESC, id DESC LIMIT ?",
                        (limit + 1,),
                    )
                    .fetchall()
                )
            else:
                rows = (
                    _rows(conn)
                    .execute(
                        f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608
                        " WHERE (created_at, id) < (?, ?)"
                        " ORDER BY created_at DESC, id DESC LIMIT ?",
                        (*after, limit + 1),
                    )
                    .fetchall()
                )
            return _page_of(conn, rows, limit)

        return await self._db.read(page)

    async def fingerprint_stats(self, fingerprint: NetworkFingerprint) -> Population:
        """Primary-key reads of ``fingerprint_stats`` (kept by triggers), one snapshot."""
        keys = [("", ""), ("fingerprint", fingerprint.id), *fingerprint.components]

        def read(conn: sqlite3.Connection) -> Population:
            found: dict[tuple[str, str], int] = {}
            for name, value in keys:
                row = conn.execute(
                    "SELECT sessions FROM fingerprint_stats WHERE name = ? AND value = ?",
                    (name, value),
                ).fetchone()
                found[(name, value)] = 0 if row is None else max(0, int(row[0]))
            return Population(
                total=found[("", "")],
                matching=found[("fingerprint", fingerprint.id)],
                components=tuple((n, v, found[(n, v)]) for n, v in fingerprint.components),
            )

        return await self._db.read(read)

    async def count_sessions(self, *, since: float | None = None) -> int:
        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE created_at >= ? AND reported_at IS NOT NULL",
                (_since(since),),
            ).fetchone()
            return int(row[0])

        return await self._db.read(count)

    async def iter_sessions(
        self, *, batch: int = 500, since: float | None = None
    ) -> AsyncIterator[SessionBatch]:
        """Keyset pagination over ``(created_at, id)`` ascending (the ``sessions_by_created``
        index): a session added meanwhile with an older time is not revisited."""
        if isinstance(batch, bool) or not isinstance(batch, int):
            raise ParseError("batch", "must be an integer")
        if not 1 <= batch <= MAX_BATCH_SESSIONS:
            raise ParseError("batch", f"must be in 1..{MAX_BATCH_SESSIONS}")
        after: tuple[float, str] = (_since(since), "")

        def page(conn: sqlite3.Connection) -> tuple[SessionBatch, tuple[float, str] | None]:
            rows = (
                _rows(conn)
                .execute(
                    f"SELECT {_SESSION_COLUMNS} FROM sessions"  # noqa: S608
                    " WHERE (created_at, id) > (?, ?) AND reported_at IS NOT NULL"
                    " ORDER BY created_at, id LIMIT ?",
                    (*after, batch),
                )
                .fetchall()
            )
            observations = _observations_of(conn, rows)
            good: list[StoredSession] = []
            bad: list[tuple[str, str]] = []
            for row in rows:
                try:
                    good.append(_row_to_session(row, observations[row["id"]]))
                except StoreError as exc:
                    bad.append((row["id"], str(exc)))
            last = (rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == batch else None
            return SessionBatch(tuple(good), tuple(bad)), last

        while True:
            found, last = await self._db.read(page)
            if found.sessions or found.unreadable:
                yield found
            if last is None:
                return
            after = last

    async def save_verdicts(self, items: Sequence[Rescored]) -> int:
        now = time.time()
        params = []
        verdicts: dict[str, Verdict] = {}
        for item in items:
            verdicts[item.session_id] = item.verdict
            stored = item.verdict
            if self._policy.rewrites:  # evidence may be as captured until the pass runs
                stored = verdict_from_dict(self._policy.json(item.verdict.as_dict()))
            verdict_json, level, score = _verdict_columns(stored)
            params.append(
                {
                    "id": item.session_id,
                    "verdict": verdict_json,
                    "level": level,
                    "score": score,
                    "updated_at": now,
                    **_fingerprint_columns(item.fingerprint),
                }
            )

        def update(conn: sqlite3.Connection) -> int:
            changed = 0
            for p in params:
                cursor = conn.execute(
                    "UPDATE sessions SET verdict = :verdict, level = :level, score = :score,"
                    " fingerprint = :fingerprint, fingerprint_components = :fingerprint_components,"
                    " updated_at = :updated_at WHERE id = :id AND reported_at IS NOT NULL",
                    p,
                )
                if cursor.rowcount:
                    changed += cursor.rowcount
                    session_id = str(p["id"])
                    write_signals(conn, session_id, verdicts[session_id])
            return changed

        if not params:
            return 0
        return await self._db.write(update)

    # -- webhook outbox (icewatch.store.outbox) -------------------------------------------

    async def outbox_claim(self, now: float, *, limit: int, lease: float) -> list[OutboxItem]:
        return await self._db.write(
            lambda conn: _outbox.claim(conn, now, limit=max(1, int(limit)), lease=lease)
        )

    async def outbox_done(self, event_id: str) -> None:
        await self._db.write(lambda conn: _outbox.done(conn, event_id))

    async def outbox_retry(
        self, event_id: str, *, attempts: int, next_at: float, error: str, dead: bool
    ) -> None:
        now = time.time()
        await self._db.write(
            lambda conn: _outbox.retry(
                conn, event_id, attempts=attempts, next_at=next_at, error=error, dead=dead, now=now
            )
        )

    async def outbox_stats(self) -> dict[str, float | None]:
        return await self._db.read(_outbox.stats)

    async def outbox_items(self, *, status: str, limit: int) -> Sequence[OutboxItem]:
        return await self._db.read(lambda conn: _outbox.items(conn, status=status, limit=limit))

    async def outbox_for_session(self, session_id: str) -> Sequence[OutboxItem]:
        if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
            return []
        return await self._db.read(lambda conn: _outbox.for_session(conn, session_id))

    async def outbox_summary(self, *, errors: int = 5) -> OutboxSummary:
        return await self._db.read(lambda conn: _outbox.summary(conn, errors=errors))

    async def outbox_requeue(self, event_ids: Sequence[str] | None, *, now: float) -> list[str]:
        ids = None if event_ids is None else [str(e) for e in event_ids]
        return await self._db.write(lambda conn: _outbox.requeue(conn, ids, now=now))

    async def outbox_drop(self, event_ids: Sequence[str] | None) -> list[str]:
        ids = None if event_ids is None else [str(e) for e in event_ids]
        return await self._db.write(lambda conn: _outbox.drop(conn, ids))

    async def server_secret(self, name: str, new_secret: bytes) -> bytes:
        if not isinstance(name, str) or not name or len(name) > _MAX_SECRET_NAME:
            raise ValueError(f"secret name must be 1..{_MAX_SECRET_NAME} characters")
        if not isinstance(new_secret, bytes) or not new_secret:
            raise ValueError("a secret must be non-empty bytes")
        now = time.time()

        def insert_if_absent(conn: sqlite3.Connection) -> bytes:
            conn.execute(
                "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, new_secret, now),
            )
            row = conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
            return bytes(row[0])

        return await self._db.write(insert_if_absent)

    # --- filtered queries, overview, deletion -------------------------------------------

    async def query_sessions(
        self, where: SessionFilter, *, limit: int, cursor: str | None = None
    ) -> SessionPage:
        """Newest first (``created_at``, then id, descending), the sessions ``where``
        matches. ``limit`` is 1..:data:`MAX_PAGE`; a bad ``limit``, ``cursor`` or filter
        raises :class:`~icewatch.core.errors.ParseError` (a ``ValueError``)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ParseError("limit", f"must be an integer in 1..{MAX_PAGE}")
        after = None if cursor is None else decode_cursor(cursor)
        check_filter(where)
        aliases = () if where.network is None else self._policy.network_aliases(where.network)
        columns = ", ".join(f"s.{c.strip()}" for c in _SESSION_COLUMNS.split(","))
        sql, params = page_sql(where, columns, limit=limit + 1, after=after, aliases=aliases)

        def page(conn: sqlite3.Connection) -> SessionPage:
            rows = _rows(conn).execute(sql, params).fetchall()
            return _page_of(conn, rows, limit)

        return await self._db.read(page)

    async def overview(self, where: SessionFilter, *, buckets: int = 24) -> Overview:
        """The aggregates of :class:`~icewatch.core.ports.Overview` in one read snapshot
        (see :mod:`icewatch.store.overview`); ``buckets`` is 1..:data:`MAX_BUCKETS`."""
        if isinstance(buckets, bool) or not isinstance(buckets, int):
            raise ParseError("buckets", "must be an integer")
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ParseError("buckets", f"must be in 1..{MAX_BUCKETS}")
        condition, params = self._where(where)
        return await self._db.read(
            lambda conn: compute_overview(conn, where, condition, params, buckets)
        )

    async def count_matching(self, where: SessionFilter, *, limit: int = COUNT_LIMIT) -> int:
        """How many sessions ``where`` matches, counted no further than ``limit`` (so the
        cost stays bounded however many match: ``limit`` means "at least ``limit``")."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10**7:
            raise ParseError("limit", "must be an integer in 1..10000000")
        condition, params = self._where(where)
        sql = (
            "SELECT COUNT(*) FROM (SELECT 1 FROM sessions AS s"  # noqa: S608
            f" WHERE {condition} LIMIT ?)"
        )
        row = await self._db.read(lambda conn: conn.execute(sql, [*params, limit]).fetchone())
        return int(row[0])

    async def delete_session(self, session_id: str) -> bool:
        """Delete the session row; its observations and index rows go by ``ON DELETE
        CASCADE`` and the fingerprint counts by trigger, in the same transaction."""
        if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
            return False

        def delete(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount == 1

        return bool(await self._db.write(delete))

    async def purge(self, where: SessionFilter) -> int:
        """Delete what ``where`` matches, :data:`PURGE_BATCH` sessions per transaction
        (other writes interleave between batches); return how many were deleted."""
        condition, params = self._where(where)
        sql = (
            "DELETE FROM sessions WHERE id IN"  # noqa: S608
            f" (SELECT s.id FROM sessions AS s WHERE {condition} LIMIT {PURGE_BATCH})"
        )

        def batch(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, params).rowcount)

        return await self._in_batches(batch, PURGE_BATCH)

    async def ping(self) -> None:
        if self._db.closed or not self._db.writer_alive:
            raise StoreError(f"{self._db.where}: the store is closed")

        def check(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()

        await self._db.read(check)

    async def close(self) -> None:
        await self._db.close()
