"""``icewatch data update`` and ``icewatch data status``: the IP-intelligence data.

Both read the same settings as ``icewatch serve`` (``--config FILE``, ``ICEWATCH_*``
variables): ``data_dir``, ``data_sources``, ``data_stale_days`` and ``lists``.
Exit codes: 0 success; 1 a source failed (its previous copy is kept; the others were
updated) or the update could not run; 2 bad usage.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from icewatch.cli._output import EXIT_INPUT, EXIT_OK, EXIT_PROBLEM, emit_json
from icewatch.service.settings import Settings, SettingsError, load_settings

__all__ = ["data"]


def _settings(config: str | None, data_dir: str | None) -> Settings:
    try:
        return load_settings(cli={"config": config, "data_dir": data_dir}, env=os.environ)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)


def _data_dir(settings: Settings) -> Path:
    from icewatch.intel.files import default_data_dir

    path = settings.data_dir if settings.data_dir is not None else default_data_dir()
    return path.resolve()


_config = click.option(
    "--config", metavar="FILE", default=None, help="TOML settings file (as for serve)."
)
_dir = click.option(
    "--data-dir",
    metavar="DIR",
    default=None,
    help="Data directory [env ICEWATCH_DATA_DIR; config key data_dir; default "
    "$XDG_DATA_HOME/icewatch or ~/.local/share/icewatch].",
)


@click.group()
def data() -> None:
    """The IP-intelligence data: update it from the providers, see its state."""


class _Bar:
    """Drives a rich progress bar on stderr from the updater's events."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def started(self, name: str, url: str) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(name, total=None, status="")

    def progress(self, name: str, received: int, total: int | None) -> None:
        task = self.tasks.get(name)
        if task is not None:
            self.bar.update(task, completed=received, total=total)

    def finished(self, outcome: Any) -> None:
        task = self.tasks.get(outcome.name)
        if task is None:
            task = self.tasks[outcome.name] = self.bar.add_task(outcome.name, total=None)
        text = outcome.status + (f": {outcome.detail}" if outcome.status == "failed" else "")
        total = self.bar.tasks[task].completed or 1
        self.bar.update(task, total=total, completed=total, status=text[:70])

    def phase(self, text: str) -> None:
        self.bar.console.print(f"[dim]{text}…[/dim]")


@data.command("update")
@click.option(
    "--source", "only", multiple=True, metavar="NAME",
    help="Fetch only this source (repeatable); the others keep their last good copy.",
)  # fmt: skip
@click.option(
    "--from-file", "from_files", multiple=True, metavar="NAME=PATH",
    help="Use this file for source NAME instead of downloading it (repeatable): for "
    "machines without internet, or files such as an .mmdb ASN database (asn-mmdb).",
)  # fmt: skip
@_dir
@_config
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def update(
    only: tuple[str, ...],
    from_files: tuple[str, ...],
    data_dir: str | None,
    config: str | None,
    as_json: bool,
) -> None:
    """Download every configured source from its official URL (conditional requests),
    verify each, compile them into a new file, verify it, and swap it in atomically. A
    source that fails keeps its previous copy; the exit status is then 1."""
    from icewatch.intel.sources import ALL_SOURCES, select_sources
    from icewatch.intel.update import run_update

    settings = _settings(config, data_dir)
    try:
        enabled = select_sources(settings.data_sources or None)
        files: dict[str, Path] = {}
        for entry in from_files:
            name, sep, path = entry.partition("=")
            if not sep or not path or name not in ALL_SOURCES:
                known = ", ".join(ALL_SOURCES)
                raise ValueError(f"--from-file {entry!r}: expected NAME=PATH, NAME among {known}")
            files[name] = Path(path).expanduser()
        names = {s.name for s in enabled} | set(files)
        for name in only:
            if name not in names:
                raise ValueError(f"--source {name!r} is not an enabled source")
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    target = _data_dir(settings)
    if as_json:
        report = run_update(target, enabled, only=only, from_files=files)
    else:
        with _Bar() as bar:
            report = run_update(target, enabled, only=only, from_files=files, events=bar)
    if as_json:
        emit_json(report.as_dict())
    else:
        for o in report.outcomes:
            if o.status == "failed":
                click.echo(f"error: {o.name}: {o.detail} (previous copy kept)", err=True)
        if report.error:
            click.echo(f"error: {report.error}", err=True)
        elif report.compiled is not None:
            what = "compiled" if report.recompiled else "unchanged"
            click.echo(
                f"{what}: {report.compiled} ({report.compiled_sources} sources, "
                f"{report.compiled_bytes} bytes)"
            )
        counts: dict[str, int] = {}
        for o in report.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    sys.exit(EXIT_OK if report.ok else EXIT_PROBLEM)


@data.command("status")
@_dir
@_config
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(data_dir: str | None, config: str | None, as_json: bool) -> None:
    """Show each source (date, size, records, age, licence), the compiled file, the
    embedded default and which data the server would use; warn about stale data and
    missing ASN data."""
    from icewatch.intel.sources import select_sources
    from icewatch.intel.status import data_status

    settings = _settings(config, data_dir)
    try:
        enabled = select_sources(settings.data_sources or None)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    doc = data_status(
        _data_dir(settings),
        enabled,
        stale_days=settings.data_stale_days,
        lists=settings.lists,
    )
    if as_json:
        emit_json(doc)
        return
    click.echo(f"data directory  {doc['data_dir']}")
    click.echo(f"server uses     {doc['server_uses']}  {doc['server_uses_detail']}")
    emb = doc["embedded"] or {}
    if emb.get("available"):
        click.echo(
            f"embedded        {emb['version']}: {emb['kept']} of {emb['ranges']} ranges "
            f"(excluded: {', '.join(emb['excluded'])})"
        )
        click.echo(f"                licence: {emb['licence']}")
    else:
        click.echo(f"embedded        unavailable: {emb.get('error', '')}")
    comp = doc["compiled"]
    if comp is None:
        click.echo("compiled        none (run `icewatch data update`)")
    elif comp["valid"]:
        click.echo(
            f"compiled        {comp['path']}: {comp['sources']} sources, {comp['bytes']} "
            f"bytes, built {comp['built']}"
        )
    else:
        click.echo(f"compiled        {comp['path']}: UNUSABLE ({comp.get('error')})")
    click.echo(f"ASN data        {'yes' if doc['asn_data'] else 'no'}")
    click.echo("")
    header = f"{'source':<22} {'version':<26} {'records':>9} {'bytes':>10} {'age':>7}  licence"
    click.echo(header)
    for row in doc["sources"]:
        age = "-" if row["age_days"] is None else f"{row['age_days']:.1f}d"
        flag = " STALE" if row["stale"] else ""
        flag += " FAILED" if row["last_error"] else ""
        flag += "" if row["enabled"] else " (disabled)"
        version = str(row["version"] or "-")[:26]
        click.echo(
            f"{row['name']:<22} {version:<26} {row['records'] or 0:>9} {row['bytes']:>10} "
            f"{age:>7}  {row['licence'][:60]}{flag}"
        )
    for item in doc["lists"]:
        detail = item.get("error") or f"{item['records']} networks, {item['version']}"
        click.echo(f"list {item['kind']}={item['path']}: {detail}")
    for warning in doc["warnings"]:
        click.echo(f"warning: {warning}", err=True)
