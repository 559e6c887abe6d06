"""The ``icewatch`` command line.

Exit codes (stable, documented in docs/cli.md):

* ``0`` — success;
* ``1`` — the command ran but found a problem (e.g. an integrity check failed);
* ``2`` — bad usage or malformed input (one line on stderr naming the field).
"""

from __future__ import annotations

import click

from icewatch import __version__
from icewatch.cli.analyze import analyze, rescore
from icewatch.cli.candidate import candidate
from icewatch.cli.data import data
from icewatch.cli.ip import ip
from icewatch.cli.purge import purge
from icewatch.cli.sdp import sdp
from icewatch.cli.serve import config, serve
from icewatch.cli.sessions import sessions
from icewatch.cli.stun import stun
from icewatch.cli.webhooks import webhooks

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="icewatch")
def cli() -> None:
    """icewatch: see a visitor's real network through WebRTC, with server-side truth."""


cli.add_command(candidate)
cli.add_command(sdp)
cli.add_command(stun)
cli.add_command(ip)
cli.add_command(serve)
cli.add_command(config)
cli.add_command(data)
cli.add_command(analyze)
cli.add_command(rescore)
cli.add_command(sessions)
cli.add_command(purge)
cli.add_command(webhooks)


@cli.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="icewatch")
