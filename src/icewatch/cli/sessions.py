"""``icewatch sessions list|show|export|delete``: the stored sessions, from the command line.

The filters are the dashboard's and the operator API's (one parser,
:func:`icewatch.core.filters.parse_filter`): ``--level`` (repeatable or
comma-separated; ``low``, ``medium``, ``high``, ``pending``), ``--signal CODE``, ``--ip``
(an address or a CIDR prefix), ``--provider`` (a provider name or ``AS64500``),
``--since``/``--until`` (ISO 8601, Unix seconds, or a duration back from now: ``90m``,
``24h``, ``7d``, ``2w``), ``--ua`` (browser family).

The store is opened from the same settings as ``icewatch serve`` (``--db``,
``ICEWATCH_DB``, the config file); it must exist. Reading works while the service runs
(SQLite WAL).

Exit codes: 0 success; 1 the store could not be used, or ``show`` found no such
session; 2 bad usage, a bad filter or bad settings (one line on stderr naming it).
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any

import click

from icewatch.cli._output import EXIT_PROBLEM, emit_json
from icewatch.cli._store import confirmed, fail, load_store_settings, now, store_options, with_store
from icewatch.core.document import iso_utc
from icewatch.core.errors import ParseError
from icewatch.core.export import CSV_COLUMNS, csv_row, jsonl_record, session_level
from icewatch.core.filters import parse_filter
from icewatch.core.ports import SessionFilter, SessionStore, StoredSession

__all__ = ["count_matching", "filter_options", "pages", "session_filter", "sessions", "with_store"]

#: Sessions read per store query while exporting.
EXPORT_PAGE = 500
#: The filter options' parameter names (as the filter parser spells them).
_FILTER_NAMES = ("level", "signal", "ip", "provider", "since", "until", "ua")
#: Most sessions ``list`` shows.
MAX_LIST = 10_000

_LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "bold red", "pending": "dim"}


def session_filter(
    *,
    level: Sequence[str] = (),
    signal: str | None = None,
    ip: str | None = None,
    provider: str | None = None,
    since: str | None = None,
    until: str | None = None,
    ua: str | None = None,
    current: float | None = None,
) -> SessionFilter:
    """The filter the options describe; exit 2 on a bad one (naming the option)."""
    at = now() if current is None else current
    params: dict[str, list[str]] = {}
    if level:
        params["level"] = list(level)
    given = {"signal": signal, "ip": ip, "provider": provider, "since": since, "until": until}
    for name, value in (*given.items(), ("ua", ua)):
        if value is not None:
            params[name] = [value]
    try:
        return parse_filter(params, at)
    except ParseError as exc:
        fail(f"--{exc.field}: {exc.reason}")


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter options, shared by ``list`` and ``export``, and ``--db``/``--config``:
    the command gets the filter they describe as ``where`` (parsed before it runs)."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _FILTER_NAMES}
        return func(where=session_filter(**given), **kwargs)

    options = [
        click.option(
            "--level",
            multiple=True,
            metavar="LEVEL",
            help="low, medium, high or pending (repeatable, or comma-separated).",
        ),
        click.option("--signal", metavar="CODE", help="Sessions whose verdict has this signal."),
        click.option(
            "--ip",
            metavar="ADDRESS|CIDR",
            help="HTTP client address, or any address the session revealed, in it.",
        ),
        click.option("--provider", metavar="NAME|ASN", help="Provider name or AS64500."),
        click.option(
            "--since", metavar="WHEN", help="Created at or after: ISO 8601, epoch, or 24h/7d ago."
        ),
        click.option(
            "--until", metavar="WHEN", help="Created before: ISO 8601, epoch, or 24h/7d ago."
        ),
        click.option("--ua", metavar="FAMILY", help="Claimed browser family (e.g. Firefox)."),
    ]
    wrapped: Callable[..., Any] = store_options(command)
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


async def pages(
    store: SessionStore, where: SessionFilter, *, limit: int | None, page: int | None = None
) -> AsyncIterator[StoredSession]:
    """The sessions ``where`` matches, newest first, read one page (``EXPORT_PAGE``) at a
    time."""
    page = EXPORT_PAGE if page is None else page
    cursor: str | None = None
    given = 0
    while limit is None or given < limit:
        size = page if limit is None else min(page, limit - given)
        result = await store.query_sessions(where, limit=size, cursor=cursor)
        for s in result.sessions:
            yield s
            given += 1
        cursor = result.next_cursor
        if cursor is None or not result.sessions:
            return


async def count_matching(store: SessionStore, where: SessionFilter) -> int:
    """How many sessions ``where`` matches (read page by page)."""
    return sum([1 async for _ in pages(store, where, limit=None)])


def summary(stored: StoredSession) -> dict[str, Any]:
    """A session in a listing (the operator API's fields, times also in ISO 8601)."""
    ev = stored.evidence
    verdict = stored.verdict
    return {
        "id": ev.session_id,
        "created_at": ev.created_at,
        "created": iso_utc(ev.created_at),
        "expires_at": stored.expires_at,
        "client_ip": str(ev.http.client_ip),
        "reported": ev.report is not None,
        "level": session_level(stored),
        "score": None if verdict is None else verdict.score,
        "signals": [] if verdict is None else [s.code for s in verdict.signals],
    }


def _styled(level: str) -> str:
    return f"[{_LEVEL_STYLE.get(level, '')}]{level}[/]"


@click.group()
def sessions() -> None:
    """List, show, export and delete the stored sessions."""


@sessions.command("list")
@filter_options
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIST),
    default=50,
    show_default=True,
    help="Most sessions shown (newest first).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of session summaries.")
def list_command(
    where: SessionFilter, db: str | None, config: str | None, limit: int, as_json: bool
) -> None:
    """The newest sessions matching the filters: id, created, level, score, client IP,
    top signals (weighted first). --json prints one JSON array of summaries."""
    settings = load_store_settings(config, db)

    async def work(store: SessionStore) -> list[StoredSession]:
        return [s async for s in pages(store, where, limit=limit)]

    found = with_store(settings, work)
    if as_json:
        emit_json([summary(s) for s in found])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(found)} session(s), newest first", title_justify="left")
    for column in ("id", "created", "level", "score", "client IP", "top signals"):
        table.add_column(column, overflow="fold", no_wrap=column in ("id", "level", "score"))
    for s in found:
        v = s.verdict
        top = [] if v is None else sorted(v.signals, key=lambda x: -x.weight)[:3]
        signals = ", ".join(x.code + (f" ({x.weight})" if x.weight else "") for x in top)
        table.add_row(
            s.evidence.session_id,
            iso_utc(s.evidence.created_at) or "",
            _styled(session_level(s)),
            "-" if v is None else str(v.score),
            str(s.evidence.http.client_ip),
            signals or "-",
        )
    Console().print(table)


@sessions.command("show")
@click.argument("session_id", metavar="ID")
@store_options
@click.option("--json", "as_json", is_flag=True, help="The session JSON (as the API serves it).")
def show_command(session_id: str, db: str | None, config: str | None, as_json: bool) -> None:
    """One session: its verdict with each signal's reason and evidence, the candidates,
    the IP intelligence. --json prints the session JSON document. Exit 1 if absent."""
    from icewatch.web.render import stored_document, stored_fingerprint

    if not 1 <= len(session_id) <= 128 or not session_id.isprintable():
        fail("ID: not a session id")
    settings = load_store_settings(config, db)

    async def work(store: SessionStore) -> dict[str, Any] | None:
        stored = await store.get_session(session_id)
        if stored is None:
            return None
        correlation, fingerprint = stored_fingerprint(stored.evidence)
        population = None if fingerprint is None else await store.fingerprint_stats(fingerprint)
        return stored_document(stored.evidence, stored.verdict, population, correlation)

    document = with_store(settings, work)
    if document is None:
        fail(f"no session {session_id}", EXIT_PROBLEM)
    if as_json:
        emit_json(document)
        return
    _render(document)


def _render(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    verdict = doc.get("verdict")
    console.print(f"[bold]session[/] {doc['id']}")
    http = doc.get("http") or {}
    console.print(
        f"created {doc.get('created_at')}  reported {doc.get('reported_at') or '-'}  "
        f"client {http.get('client_ip')}  peer {http.get('peer_ip')}"
    )
    if http.get("user_agent"):
        console.print(f"user agent: {http['user_agent']}", markup=False)
    if verdict is None:
        console.print("verdict: [dim]pending[/] (the page has not reported)")
    else:
        console.print(f"verdict: {_styled(verdict['level'])} score {verdict['score']}")
        table = Table(title="signals", title_justify="left")
        for column in ("code", "weight", "reason", "evidence"):
            table.add_column(column, overflow="fold")
        for s in verdict.get("signals") or []:
            table.add_row(
                s.get("code", ""),
                str(s.get("weight", "")),
                s.get("summary", ""),
                json.dumps(s.get("evidence") or {}, ensure_ascii=False),
            )
        console.print(table)
    candidates = doc.get("candidates") or []
    if candidates:
        table = Table(title="candidates", title_justify="left")
        for column in ("ms", "type", "protocol", "address", "port", "category", "seen by server"):
            table.add_column(column, overflow="fold")
        for c in candidates:
            table.add_row(
                "" if c.get("ms") is None else f"{c['ms']:.0f}",
                str(c.get("type") or ""),
                str(c.get("protocol") or ""),
                str(c.get("address") or ""),
                str(c.get("port") or ""),
                str(c.get("address_category") or ""),
                {True: "yes", False: "no", None: ""}.get(c.get("seen_by_server"), ""),
            )
        console.print(table)
    lookups = (doc.get("intel") or {}).get("lookups") or []
    if lookups:
        table = Table(title="IP intelligence", title_justify="left")
        for column in ("address", "seen as", "listed by", "ASN", "organisation"):
            table.add_column(column, overflow="fold")
        for x in lookups:
            hits = ", ".join(
                f"{h.get('provider')} ({h.get('kind')}; {h.get('provenance', {}).get('source')})"
                for h in x.get("hits") or []
            )
            table.add_row(
                str(x.get("ip")),
                ", ".join(x.get("seen_as") or []),
                hits or "-",
                "-" if x.get("asn") is None else f"AS{x['asn']}",
                str(x.get("org") or "-"),
            )
        console.print(table)


@sessions.command("delete")
@click.argument("session_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@store_options
def delete_command(session_id: str, yes: bool, db: str | None, config: str | None) -> None:
    """Delete one session and everything stored about it (its evidence, observations,
    verdict, its share of the fingerprint statistics). Exit 1 if there is no such
    session; without --yes it asks first (exit 2 when there is no terminal to ask)."""
    if not 1 <= len(session_id) <= 128 or not session_id.isprintable():
        fail("ID: not a session id")
    settings = load_store_settings(config, db)
    question = f"Delete session {session_id}?"
    if not confirmed(question, yes=yes, refusal="confirm with --yes (no terminal to ask)"):
        return

    async def work(store: SessionStore) -> bool:
        return await store.delete_session(session_id)

    if not with_store(settings, work):
        fail(f"no session {session_id}", EXIT_PROBLEM)
    click.echo(f"Deleted session {session_id}.")


@sessions.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="csv: the dashboard's columns; jsonl: {evidence, verdict, fingerprint} per line.",
)
@filter_options
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    default="-",
    help="Write to FILE (a progress bar on stderr) instead of standard output.",
)
def export_command(
    fmt: str, where: SessionFilter, db: str | None, config: str | None, output: str
) -> None:
    """Every session matching the filters, newest first, as CSV (the dashboard export's
    columns) or JSON Lines (records icewatch analyze reads back), read page by page."""
    settings = load_store_settings(config, db)
    to_file = output != "-"
    try:
        fh: IO[str] = (
            open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
            if to_file
            else sys.stdout
        )
    except OSError as exc:
        fail(f"-o: cannot write {output}: {exc.strerror or exc}")

    async def work(store: SessionStore) -> int:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        progress = Progress(
            TextColumn("exporting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not to_file,
            transient=True,
        )
        task = progress.add_task("export", total=None)
        writer = csv.writer(fh) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(CSV_COLUMNS)
        written = 0
        with progress:
            async for s in pages(store, where, limit=None):
                if writer is not None:
                    writer.writerow(csv_row(s))
                else:
                    fh.write(json.dumps(jsonl_record(s), ensure_ascii=False) + "\n")
                written += 1
                progress.advance(task)
        return written

    try:
        written = with_store(settings, work)
    finally:
        if to_file:
            fh.close()
        else:
            fh.flush()
    if to_file:
        click.echo(f"{written} session(s) written to {output}", err=True)
