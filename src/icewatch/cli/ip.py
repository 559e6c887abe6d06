"""``icewatch ip`` commands: classify addresses against the special-purpose registries."""

from __future__ import annotations

from collections.abc import Sequence

import click

from icewatch.cli._output import emit_json, fail_input
from icewatch.core.addr import ParsedIP, parse_ip
from icewatch.core.errors import AddressParseError
from icewatch.core.netclass import Classification, classify_ip

__all__ = ["ip"]

_HEADERS = ("ADDRESS", "CATEGORY", "GLOBAL", "REGISTRY", "TAGS", "NOTES")


@click.group()
def ip() -> None:
    """Inspect IP addresses."""


@ip.command()
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per address.")
def classify(addresses: tuple[str, ...], as_json: bool) -> None:
    """Classify each ADDR: category (IANA special-purpose registries) and hints.

    Every address is checked before anything is printed: one malformed address
    exits with status 2 and one line on stderr naming it.
    """
    parsed: list[ParsedIP] = []
    for text in addresses:
        try:
            parsed.append(parse_ip(text))
        except AddressParseError as err:
            fail_input(_bad_address(text, err))
    results = [classify_ip(p) for p in parsed]
    if as_json:
        emit_json([c.as_dict() for c in results])
        return
    rows = [_table_row(text, c) for text, c in zip(addresses, results, strict=True)]
    for line in _aligned([_HEADERS, *rows]):
        click.echo(line)


def _bad_address(text: str, err: AddressParseError) -> str:
    """One line naming the argument, whatever the parser's reason says."""
    reason = err.reason.replace(f": {text!r}", "")
    return f"address {text!r}: {reason}"


def _table_row(text: str, c: Classification) -> tuple[str, ...]:
    notes: list[str] = []
    if c.mapped_from is not None:
        notes.append(f"IPv4-mapped: classified as {c.address}")
    if c.embedded_ipv4 is not None:
        e = c.embedded_ipv4
        note = f"{e.mechanism} IPv4 {e.address}"
        if e.server is not None:
            note += f" (server {e.server}, port {e.port})"
        notes.append(note)
    registry = "-" if c.row is None else f"{c.row.prefix} {c.row.name} ({c.row.rfc})"
    return (
        text,
        str(c.category),
        "yes" if c.globally_reachable else "no",
        registry,
        ",".join(c.tags) or "-",
        "; ".join(notes) or "-",
    )


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
