"""The webhook outbox in SQLite (table ``webhook_outbox``, schema version 4).

A flagged report's event is inserted by :func:`enqueue` inside the transaction that
saves the verdict, so the event exists exactly when the verdict does. The delivery
worker (``icewatch.service.webhooks``) claims due events with a lease, POSTs them and
records the outcome; delivered events are deleted, events that gave up stay with status
``dead`` for inspection. Rows belong to their session (``ON DELETE CASCADE``): deleting
or purging a session deletes its undelivered events too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from icewatch.core.ports import OutboxEvent, OutboxItem, OutboxSummary

__all__ = [
    "MAX_ERROR_CHARS",
    "STATUSES",
    "claim",
    "done",
    "drop",
    "enqueue",
    "for_session",
    "items",
    "requeue",
    "retry",
    "stats",
    "summary",
]

STATUSES = ("pending", "dead")
#: Longest failure text kept per event.
MAX_ERROR_CHARS = 500

_COLUMNS = "id, session_id, created_at, body, status, attempts, next_at, last_error, updated_at"
#: Most ids one requeue/drop statement names (SQLite's variable limit is far above).
_ID_CHUNK = 500


def enqueue(conn: sqlite3.Connection, event: OutboxEvent, *, limit: int, now: float) -> bool:
    """Insert ``event`` (due at once) unless ``limit`` events are pending; return whether
    it was inserted. Runs in the caller's transaction."""
    if limit < 1:
        return False
    # Counting stops at the limit: the cost stays bounded however full the outbox is.
    row = conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_outbox WHERE status = 'pending' LIMIT ?)",
        (limit,),
    ).fetchone()
    if int(row[0]) >= limit:
        return False
    conn.execute(
        "INSERT INTO webhook_outbox (id, session_id, created_at, body, status, attempts,"
        " next_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        (event.id, event.session_id, event.created_at, event.body, now, now),
    )
    return True


def _item(row: Any) -> OutboxItem:
    eid, sid, created, body, status, attempts, next_at, error, updated = tuple(row)
    return OutboxItem(
        event=OutboxEvent(str(eid), str(sid), float(created), bytes(body)),
        status=str(status),
        attempts=int(attempts),
        next_at=float(next_at),
        last_error=None if error is None else str(error),
        updated_at=None if updated is None else float(updated),
    )


def claim(conn: sqlite3.Connection, now: float, *, limit: int, lease: float) -> list[OutboxItem]:
    """The due pending events (oldest due first), each leased until ``now + lease``."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_outbox"  # noqa: S608
        " WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, created_at LIMIT ?",
        (now, limit),
    ).fetchall()
    found = [_item(r) for r in rows]
    conn.executemany(
        "UPDATE webhook_outbox SET next_at = ?, updated_at = ? WHERE id = ?",
        [(now + lease, now, item.event.id) for item in found],
    )
    return found


def done(conn: sqlite3.Connection, event_id: str) -> None:
    conn.execute("DELETE FROM webhook_outbox WHERE id = ?", (event_id,))


def retry(
    conn: sqlite3.Connection,
    event_id: str,
    *,
    attempts: int,
    next_at: float,
    error: str,
    dead: bool,
    now: float,
) -> None:
    conn.execute(
        "UPDATE webhook_outbox SET attempts = ?, next_at = ?, last_error = ?, status = ?,"
        " updated_at = ? WHERE id = ?",
        (attempts, next_at, error[:MAX_ERROR_CHARS], "dead" if dead else "pending", now, event_id),
    )


def stats(conn: sqlite3.Connection) -> dict[str, float | None]:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in conn.execute(
        "SELECT status, COUNT(*) FROM webhook_outbox GROUP BY status"
    ).fetchall():
        counts[str(status)] = int(count)
    row = conn.execute(
        "SELECT MIN(next_at) FROM webhook_outbox WHERE status = 'pending'"
    ).fetchone()
    return {
        "pending": float(counts["pending"]),
        "dead": float(counts["dead"]),
        "next_due": None if row[0] is None else float(row[0]),
    }


def items(conn: sqlite3.Connection, *, status: str, limit: int) -> Sequence[OutboxItem]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_outbox WHERE status = ?"  # noqa: S608
        " ORDER BY created_at, id LIMIT ?",
        (status, max(1, min(int(limit), 10_000))),
    ).fetchall()
    return [_item(r) for r in rows]


def for_session(conn: sqlite3.Connection, session_id: str, *, limit: int = 20) -> list[OutboxItem]:
    """One session's events still in the outbox (pending or dead), oldest first (through
    the ``webhook_outbox_by_session`` index). Delivered events are deleted, so they are
    never among them."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_outbox WHERE session_id = ?"  # noqa: S608
        " ORDER BY created_at, id LIMIT ?",
        (session_id, max(1, min(int(limit), 1000))),
    ).fetchall()
    return [_item(r) for r in rows]


# -- operators (icewatch webhooks) -------------------------------------------------------


def summary(conn: sqlite3.Connection, *, errors: int = 5) -> OutboxSummary:
    """Counts, the oldest pending and dead events, the next attempt and the ``errors``
    most recent failures (most recent first)."""
    counts = dict.fromkeys(STATUSES, 0)
    oldest: dict[str, float | None] = dict.fromkeys(STATUSES, None)
    for status, count, first in conn.execute(
        "SELECT status, COUNT(*), MIN(created_at) FROM webhook_outbox GROUP BY status"
    ).fetchall():
        counts[str(status)] = int(count)
        oldest[str(status)] = None if first is None else float(first)
    row = conn.execute(
        "SELECT MIN(next_at) FROM webhook_outbox WHERE status = 'pending'"
    ).fetchone()
    failed = conn.execute(
        f"SELECT {_COLUMNS} FROM webhook_outbox WHERE last_error IS NOT NULL"  # noqa: S608
        " ORDER BY updated_at DESC, id LIMIT ?",
        (max(0, min(int(errors), 100)),),
    ).fetchall()
    return OutboxSummary(
        pending=counts["pending"],
        dead=counts["dead"],
        oldest_pending=oldest["pending"],
        oldest_dead=oldest["dead"],
        next_due=None if row[0] is None else float(row[0]),
        last_errors=tuple(_item(r) for r in failed),
    )


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + _ID_CHUNK] for i in range(0, len(ids), _ID_CHUNK)]


def requeue(conn: sqlite3.Connection, event_ids: Sequence[str] | None, *, now: float) -> list[str]:
    """Dead events back to ``pending``, due at ``now``, attempts from zero (the last
    error is kept until the next attempt); ``None``: every dead event. Return their ids."""
    if event_ids is None:
        batches: list[Sequence[str]] = [
            [str(r[0]) for r in conn.execute("SELECT id FROM webhook_outbox WHERE status = 'dead'")]
        ]
    else:
        batches = _chunks(list(event_ids))
    done: list[str] = []
    for batch in batches:
        if not batch:
            continue
        marks = ",".join("?" * len(batch))
        found = [
            str(r[0])
            for r in conn.execute(
                f"SELECT id FROM webhook_outbox WHERE status = 'dead' AND id IN ({marks})",  # noqa: S608
                tuple(batch),
            )
        ]
        conn.executemany(
            "UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_at = ?,"
            " updated_at = ? WHERE id = ?",
            [(now, now, eid) for eid in found],
        )
        done.extend(found)
    return done


def drop(conn: sqlite3.Connection, event_ids: Sequence[str] | None) -> list[str]:
    """Delete the events ``event_ids`` (any status); ``None``: every dead event. Return
    the ids deleted."""
    if event_ids is None:
        found = [
            str(r[0]) for r in conn.execute("SELECT id FROM webhook_outbox WHERE status = 'dead'")
        ]
        conn.execute("DELETE FROM webhook_outbox WHERE status = 'dead'")
        return found
    done: list[str] = []
    for batch in _chunks(list(event_ids)):
        marks = ",".join("?" * len(batch))
        found = [
            str(r[0])
            for r in conn.execute(
                f"SELECT id FROM webhook_outbox WHERE id IN ({marks})",  # noqa: S608
                tuple(batch),
            )
        ]
        conn.executemany("DELETE FROM webhook_outbox WHERE id = ?", [(eid,) for eid in found])
        done.extend(found)
    return done
