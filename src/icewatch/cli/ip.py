"""``icewatch ip`` commands."""

from __future__ import annotations

import click


@click.group()
def ip() -> None:
    """(not yet implemented)"""
