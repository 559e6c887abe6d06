"""Shared output helpers for the CLI: JSON for programs, plain text for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import click

from icewatch.core.errors import ParseError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_INPUT = 2


def emit_json(value: Mapping[str, Any] | Sequence[Any]) -> None:
    """Print a JSON document (stable key order as built, UTF-8, one trailing newline)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def fail_input(err: ParseError | str) -> NoReturn:
    """Report malformed input on one stderr line and exit with status 2."""
    message = str(err)
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def read_text_arg(value: str, *, limit: int) -> str:
    """Read ``value`` as text, or standard input when it is ``-``, at most ``limit`` bytes."""
    if value != "-":
        return value
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        fail_input(f"input: longer than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail_input(f"input: not UTF-8 ({exc.reason} at byte {exc.start})")


def read_file_arg(path: str, *, limit: int) -> str:
    """Read a file (or standard input for ``-``) as UTF-8 text, at most ``limit`` bytes."""
    if path == "-":
        return read_text_arg("-", limit=limit)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        fail_input(f"input: cannot read {path}: {exc.strerror}")
    if len(data) > limit:
        fail_input(f"input: {path} is longer than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail_input(f"input: {path} is not UTF-8 ({exc.reason} at byte {exc.start})")
