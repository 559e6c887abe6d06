"""``icewatch sdp`` commands."""

from __future__ import annotations

import click


@click.group()
def sdp() -> None:
    """(not yet implemented)"""
