"""``icewatch candidate`` commands."""

from __future__ import annotations

import click


@click.group()
def candidate() -> None:
    """(not yet implemented)"""
