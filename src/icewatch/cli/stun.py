"""``icewatch stun`` commands."""

from __future__ import annotations

import click


@click.group()
def stun() -> None:
    """(not yet implemented)"""
