"""``icewatch purge --older-than DURATION``: delete the sessions created before now minus
DURATION (everything stored about them), from the same store ``icewatch serve`` uses.

The service's retention task does the same on its own schedule; this is the manual lever
(a tighter period once, or a store the service no longer runs on). ``--dry-run`` counts
and deletes nothing; without ``--yes`` it asks first (and refuses when there is no
terminal to ask). Runs beside a live server (SQLite WAL; deletion in bounded batches).

Exit codes: 0 success (also when nothing matched or the answer was no); 1 the store
could not be used; 2 bad usage or settings, or confirmation needed without a terminal.
"""

from __future__ import annotations

import click

from icewatch.cli._output import emit_json
from icewatch.cli._store import confirmed, fail, load_store_settings, now, store_options, with_store
from icewatch.cli.sessions import count_matching
from icewatch.core.document import iso_utc
from icewatch.core.errors import ParseError
from icewatch.core.filters import parse_duration
from icewatch.core.ports import SessionFilter, SessionStore

__all__ = ["purge"]


@click.command()
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    required=True,
    help="Delete sessions created more than this long ago: 30d, 12h, 2w, 90m.",
)
@click.option("--dry-run", is_flag=True, help="Count the sessions; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def purge(
    older_than: str, dry_run: bool, yes: bool, db: str | None, config: str | None, as_json: bool
) -> None:
    """Delete every session created more than DURATION ago; print how many."""
    try:
        seconds = parse_duration(older_than, field="--older-than")
    except ParseError as exc:
        fail(f"{exc.field}: {exc.reason}")
    if seconds <= 0:
        fail("--older-than: must be longer than zero")
    settings = load_store_settings(config, db)
    cutoff = now() - seconds
    where = SessionFilter(until=cutoff)

    async def count(store: SessionStore) -> int:
        return await count_matching(store, where)

    async def delete(store: SessionStore) -> int:
        return await store.purge(where)

    matching: int | None = None
    if dry_run or not yes:
        matching = with_store(settings, count)
    deleted = 0
    if not dry_run and matching != 0:
        if not confirmed(
            f"Delete {matching} session(s) created before {iso_utc(cutoff)}?",
            yes=yes,
            refusal=f"{matching} session(s) would be deleted: confirm with --yes "
            "(no terminal to ask)",
        ):
            return
        deleted = with_store(settings, delete)
    if as_json:
        emit_json(
            {
                "before": iso_utc(cutoff),
                "dry_run": dry_run,
                "matching": deleted if matching is None else matching,
                "deleted": deleted,
            }
        )
    elif dry_run:
        click.echo(f"{matching} session(s) created before {iso_utc(cutoff)} (dry run: kept).")
    else:
        click.echo(f"Deleted {deleted} session(s) created before {iso_utc(cutoff)}.")
