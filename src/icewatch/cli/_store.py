"""Shared helpers of the commands that work on the session store (``sessions``,
``purge``, ``webhooks``): the ``--db``/``--config`` options, loading the settings as
``icewatch serve`` does, running work on the existing store, asking for confirmation,
and the one-line error exit."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import click

from icewatch.cli._output import EXIT_INPUT, EXIT_PROBLEM
from icewatch.core.errors import IcewatchError
from icewatch.core.ports import SessionStore
from icewatch.service.settings import Settings, SettingsError, load_settings

__all__ = ["confirmed", "fail", "load_store_settings", "now", "store_options", "with_store"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    """Say what went wrong on one stderr line (``error: ...``) and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def now() -> float:
    return datetime.now(UTC).timestamp()


def store_options(func: F) -> F:
    """The ``--db`` and ``--config`` options (as ``icewatch serve`` takes them)."""
    func = click.option("--config", metavar="FILE", default=None, help="TOML config (as serve's).")(
        func
    )
    return click.option(
        "--db", metavar="URL", default=None, help="Session store (as serve's --db)."
    )(func)


def load_store_settings(config: str | None, db: str | None) -> Settings:
    """The settings as ``icewatch serve`` loads them; exit 2 on bad ones."""
    try:
        return load_settings(cli={"config": config, "db": db}, env=os.environ)
    except SettingsError as exc:
        fail(str(exc))


def with_store(settings: Settings, work: Callable[[SessionStore], Awaitable[T]]) -> T:
    """Run ``work`` on the existing store; exit 1 when it cannot be used."""
    from icewatch.service.rescore import open_existing_store

    async def main() -> T:
        store = await open_existing_store(settings.db)
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except IcewatchError as exc:
        fail(str(exc), EXIT_PROBLEM)


def confirmed(question: str, *, yes: bool, refusal: str) -> bool:
    """Whether to go on: ``--yes`` given, or the answer to ``question`` on the terminal
    (a no says "Nothing deleted."); exit 2 with ``refusal`` when there is no terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        fail(refusal)
    if click.confirm(question, err=True):
        return True
    click.echo("Nothing deleted.", err=True)
    return False
