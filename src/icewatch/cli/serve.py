"""``icewatch serve`` and ``icewatch config check``: flags generated from the settings table.

Every row of :data:`icewatch.service.settings.SETTINGS` with a flag becomes an option
here; its ``--help`` line names the environment variable, the config key and the
default, so ``--help``, the environment, the config file and docs/configuration.md
cannot drift apart. Bad settings exit 2 with one line; start-up failures (port in use,
unwritable database) exit 1 with one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from icewatch.service.errors import EXIT_CONFIG
from icewatch.service.settings import SETTINGS, Setting, Settings, SettingsError, load_settings
from icewatch.service.types import Boolean, KeyValueList

__all__ = ["config", "serve"]

F = TypeVar("F", bound=Callable[..., Any])


def _help(s: Setting) -> str:
    where = []
    if s.env:
        where.append(f"env {s.env}")
    if s.key:
        where.append(f"config key {s.key}")
    where.append(f"default: {s.show_default()}")
    return f"{s.help.replace('`', '')} [{'; '.join(where)}]"


def setting_options(func: F) -> F:
    """Decorate a command with one option per flagged setting (default ``None``: unset)."""
    for s in reversed(SETTINGS):
        if s.flag is None:
            continue
        if isinstance(s.type, Boolean):
            negative = "--no-" + s.flag.removeprefix("--")
            option = click.option(f"{s.flag}/{negative}", s.name, default=None, help=_help(s))
        elif isinstance(s.type, KeyValueList):  # repeatable: --list a=1 --list b=2
            option = click.option(
                s.flag, s.name, multiple=True, metavar=s.type.label, help=_help(s) + " (repeatable)"
            )
        else:
            option = click.option(s.flag, s.name, default=None, metavar=s.type.label, help=_help(s))
        func = option(func)
    return func


def _as_text(values: dict[str, Any]) -> dict[str, str | None]:
    """Click values as the text the settings loader parses (``None``: not given)."""
    out: dict[str, str | None] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, tuple):  # a repeatable option: () when not given
            out[name] = "\n".join(value) if value else None
        else:
            out[name] = value
    return out


def _load(values: dict[str, Any]) -> Settings:
    try:
        return load_settings(cli=_as_text(values), env=os.environ)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@click.command(context_settings={"max_content_width": 100})
@setting_options
def serve(**values: Any) -> None:
    """Run the service: the leak-test page, the collector and the API over HTTP, and the
    STUN/TURN listener on UDP and TCP, in one process.

    Every option has an ICEWATCH_* environment variable and a config-file key
    (--config FILE, TOML); precedence: option > environment > config file > default.
    See docs/configuration.md. Exit codes: 0 after a graceful stop (SIGINT/SIGTERM);
    1 when it cannot start (port in use, database not writable); 2 for bad settings.
    """
    settings = _load(values)
    from icewatch.service import run

    sys.exit(run(settings))


@click.group()
def config() -> None:
    """Inspect the settings icewatch serve would run with."""


@config.command("check")
@setting_options
def check(**values: Any) -> None:
    """Validate the settings (options, ICEWATCH_* variables, config file) and show each
    effective value with where it came from; secrets are never shown. Exit 0 when
    valid, 2 (with one line naming the culprit) when not. Binds nothing."""
    settings = _load(values)
    rows = settings.effective()
    width = max(len(name) for name, _, _ in rows)
    vwidth = min(40, max(len(value) for _, value, _ in rows))
    for name, value, source in rows:
        click.echo(f"{name:<{width}}  {value:<{vwidth}}  {source}")
