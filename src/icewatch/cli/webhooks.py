"""``icewatch webhooks status|list|retry|drop``: operate the webhook outbox.

The outbox is a table in the session store (``webhook_outbox``): events wait there as
``pending`` until delivered (then deleted) or given up on (kept as ``dead``: HTTP 410,
too many attempts, or older than ``webhook_max_age``). These commands read and change
it from the command line, beside a running server (SQLite WAL):

* ``status``: pending and dead counts, the oldest pending event's age, the next
  attempt, the last errors;
* ``list``: the events (``--status pending|dead``);
* ``retry ID...`` / ``retry --all-dead``: put dead events back in the queue, due now
  (attempts start again from zero); a running server sends them at its next look at
  the outbox (within 15 s);
* ``drop ID...`` / ``drop --all-dead``: delete events for good.

The store is opened from the same settings as ``icewatch serve`` (``--db``,
``ICEWATCH_DB``, the config file); it must exist.

Exit codes: 0 success; 1 the store could not be used, or an ID given to ``retry`` /
``drop`` is not there (not dead, for ``retry``) — the others are still done; 2 bad
usage or settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from icewatch.cli._output import EXIT_PROBLEM, emit_json
from icewatch.cli._store import fail, load_store_settings, now, store_options, with_store
from icewatch.core.document import iso_utc
from icewatch.core.ports import OutboxItem, OutboxSummary, SessionStore

__all__ = ["webhooks"]

#: Most events ``list`` shows.
MAX_LIST = 10_000
#: Most event ids one ``retry`` / ``drop`` takes.
MAX_IDS = 10_000
#: How many of the last errors ``status`` shows.
LAST_ERRORS = 5
_MAX_ID = 64


def _age(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 5m``, ``2d 4h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def item_json(item: OutboxItem) -> dict[str, Any]:
    """One outbox event as ``list --json`` and ``status --json`` print it."""
    event = item.event
    return {
        "id": event.id,
        "session_id": event.session_id,
        "status": item.status,
        "attempts": item.attempts,
        "created_at": event.created_at,
        "created": iso_utc(event.created_at),
        "next_at": item.next_at if item.status == "pending" else None,
        "last_error": item.last_error,
        "last_error_at": item.updated_at if item.last_error is not None else None,
    }


def summary_json(summary: OutboxSummary, at: float, *, configured: bool) -> dict[str, Any]:
    oldest = summary.oldest_pending
    return {
        "webhook_url_configured": configured,
        "pending": summary.pending,
        "dead": summary.dead,
        "oldest_pending_at": oldest,
        "oldest_pending_age_s": None if oldest is None else round(max(0.0, at - oldest), 3),
        "oldest_dead_at": summary.oldest_dead,
        "next_attempt_at": summary.next_due,
        "last_errors": [item_json(item) for item in summary.last_errors],
    }


@click.group()
def webhooks() -> None:
    """Operate the webhook outbox: status, list, retry and drop events."""


@webhooks.command("status")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status_command(db: str | None, config: str | None, as_json: bool) -> None:
    """Pending and dead events, the oldest pending event's age, the next attempt and the
    last errors."""
    settings = load_store_settings(config, db)

    async def work(store: SessionStore) -> OutboxSummary:
        return await store.outbox_summary(errors=LAST_ERRORS)

    summary = with_store(settings, work)
    at = now()
    configured = settings.webhook_url is not None
    if as_json:
        emit_json(summary_json(summary, at, configured=configured))
        return
    click.echo(f"pending: {summary.pending}")
    click.echo(f"dead:    {summary.dead}")
    if summary.oldest_pending is not None:
        age = _age(at - summary.oldest_pending)
        click.echo(f"oldest pending: {iso_utc(summary.oldest_pending)} ({age} old)")
    if summary.next_due is not None:
        due = summary.next_due - at
        when = "now" if due <= 0 else f"in {_age(due)}"
        click.echo(f"next attempt: {iso_utc(summary.next_due)} ({when})")
    if summary.last_errors:
        click.echo("last errors:")
        for item in summary.last_errors:
            click.echo(
                f"  {iso_utc(item.updated_at or item.event.created_at)}  {item.event.id}  "
                f"{item.status}  attempts {item.attempts}  {item.last_error}"
            )
    if not configured and summary.pending:
        click.echo(
            "note: webhook_url is not set in these settings: pending events wait until a "
            "server with webhook_url runs on this database",
            err=True,
        )


@webhooks.command("list")
@click.option(
    "--status",
    "status",
    type=click.Choice(["pending", "dead"]),
    default=None,
    help="Only events of this status (default: both).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIST),
    default=100,
    show_default=True,
    help="Most events shown (oldest first).",
)
@store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON array of events.")
def list_command(
    status: str | None, limit: int, db: str | None, config: str | None, as_json: bool
) -> None:
    """The events in the outbox, oldest first: id, session, status, attempts, created,
    next attempt, last error."""
    settings = load_store_settings(config, db)
    statuses = ("pending", "dead") if status is None else (status,)

    async def work(store: SessionStore) -> list[OutboxItem]:
        found: list[OutboxItem] = []
        for s in statuses:
            found.extend(await store.outbox_items(status=s, limit=limit))
        found.sort(key=lambda i: (i.event.created_at, i.event.id))
        return found[:limit]

    found = with_store(settings, work)
    if as_json:
        emit_json([item_json(item) for item in found])
        return
    from rich.console import Console
    from rich.table import Table

    at = now()
    table = Table(title=f"{len(found)} webhook event(s), oldest first", title_justify="left")
    for column in ("id", "session", "status", "attempts", "created", "next attempt", "error"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "status"))
    for item in found:
        pending = item.status == "pending"
        due = item.next_at - at
        table.add_row(
            item.event.id,
            item.event.session_id,
            "[yellow]pending[/]" if pending else "[bold red]dead[/]",
            str(item.attempts),
            iso_utc(item.event.created_at) or "",
            ("now" if due <= 0 else f"in {_age(due)}") if pending else "-",
            item.last_error or "-",
        )
    Console().print(table)


def _ids(event_ids: Sequence[str], all_dead: bool) -> list[str] | None:
    """The ids given (``None`` for ``--all-dead``); exit 2 on bad usage."""
    if all_dead and event_ids:
        fail("give event IDs or --all-dead, not both")
    if not all_dead and not event_ids:
        fail("give the event IDs, or --all-dead")
    if len(event_ids) > MAX_IDS:
        fail(f"at most {MAX_IDS} event IDs at once")
    for eid in event_ids:
        if not 1 <= len(eid) <= _MAX_ID or not eid.isascii() or not eid.isprintable():
            fail(f"ID: not an event id: {eid[:_MAX_ID]!r}")
    return None if all_dead else list(dict.fromkeys(event_ids))


def _report(
    done: list[str], wanted: list[str] | None, *, verb: str, missing_why: str, as_json: bool
) -> None:
    missing = [] if wanted is None else [e for e in wanted if e not in set(done)]
    if as_json:
        emit_json({verb: done, "not_found": missing})
    else:
        click.echo(f"{verb.capitalize()} {len(done)} event(s).")
        for eid in missing:
            click.echo(f"error: {eid}: {missing_why}", err=True)
    if missing:
        raise SystemExit(EXIT_PROBLEM)


@webhooks.command("retry")
@click.argument("event_ids", metavar="[ID]...", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every dead event.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def retry_command(
    event_ids: tuple[str, ...], all_dead: bool, db: str | None, config: str | None, as_json: bool
) -> None:
    """Put dead events back in the queue, due now, with their attempts reset. A running
    server sends them at its next look at the outbox (within 15 s). Exit 1 if an ID is
    not a dead event (the others are re-queued)."""
    wanted = _ids(event_ids, all_dead)
    settings = load_store_settings(config, db)
    at = now()

    async def work(store: SessionStore) -> list[str]:
        return list(await store.outbox_requeue(wanted, now=at))

    done = with_store(settings, work)
    _report(done, wanted, verb="requeued", missing_why="no such dead event", as_json=as_json)


@webhooks.command("drop")
@click.argument("event_ids", metavar="[ID]...", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every dead event.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def drop_command(
    event_ids: tuple[str, ...], all_dead: bool, db: str | None, config: str | None, as_json: bool
) -> None:
    """Delete events from the outbox for good (pending ones too, when named by ID). Exit
    1 if an ID is not there (the others are deleted)."""
    wanted = _ids(event_ids, all_dead)
    settings = load_store_settings(config, db)

    async def work(store: SessionStore) -> list[str]:
        return list(await store.outbox_drop(wanted))

    done = with_store(settings, work)
    _report(done, wanted, verb="dropped", missing_why="no such event", as_json=as_json)
