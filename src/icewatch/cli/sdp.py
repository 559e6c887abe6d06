"""``icewatch sdp`` commands: parse a session description."""

from __future__ import annotations

import sys

import click

from icewatch.cli._output import EXIT_PROBLEM, emit_json, fail_input, read_file_arg
from icewatch.core.errors import SdpParseError
from icewatch.core.ice import (
    MAX_SDP_SIZE,
    Candidate,
    LineError,
    SessionDescription,
    format_candidate,
    parse_sdp,
)

__all__ = ["sdp"]


@click.group()
def sdp() -> None:
    """Inspect session descriptions (RFC 8866)."""


@sdp.command()
@click.argument("file", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed description as JSON.")
def parse(file: str, as_json: bool) -> None:
    """Parse the SDP in FILE (``-`` for standard input).

    Exit status: 0 when everything was understood; 1 when the description parsed
    but some lines did not (malformed candidates or other lines, listed in the output);
    2 when it is not a session description at all (one line on stderr).
    """
    text = read_file_arg(file, limit=4 * MAX_SDP_SIZE)
    try:
        desc = parse_sdp(text)
    except SdpParseError as err:
        fail_input(err)
    if as_json:
        emit_json(desc.as_dict())
    else:
        for line in describe_sdp(desc):
            click.echo(line)
    if desc.problems or desc.all_candidate_errors():
        sys.exit(EXIT_PROBLEM)


def describe_sdp(desc: SessionDescription) -> list[str]:
    """A human-readable summary, one section per level."""
    out: list[str] = []
    if desc.origin is not None:
        o = desc.origin
        out.append(f"origin      {o.username} {o.session_id} {o.session_version} {o.address}")
    out += _ice_lines(desc.ice_ufrag, desc.ice_pwd, desc.ice_options, desc.setup, "")
    out += [f"fingerprint {f.hash_function} {f.value}" for f in desc.fingerprints]
    if desc.groups:
        out.append(f"groups      {'; '.join(desc.groups)}")
    out += _candidate_lines(desc.candidates, desc.candidate_errors, "")
    for index, m in enumerate(desc.media):
        out.append(
            f"m[{index}]        {m.media} {m.port} {m.proto} {' '.join(m.formats)}"
            + (f" (mid {m.mid})" if m.mid is not None else "")
        )
        pad = "  "
        if m.connection is not None:
            c = m.connection
            out.append(f"{pad}c=        {c.net_type} {c.addr_type} {c.address}")
        if m.rtcp is not None:
            r = m.rtcp
            where = "" if r.address is None else f" {r.address}"
            out.append(f"{pad}rtcp      {r.port}{where}")
        out += _ice_lines(m.ice_ufrag, m.ice_pwd, m.ice_options, m.setup, pad)
        out += [f"{pad}fingerprint {f.hash_function} {f.value}" for f in m.fingerprints]
        out += _candidate_lines(m.candidates, m.candidate_errors, pad)
        if m.end_of_candidates:
            out.append(f"{pad}end-of-candidates")
        if m.codecs:
            names = [f"{c.payload_type}:{c.name or '?'}" for c in m.codecs]
            out.append(f"{pad}codecs    {' '.join(names)}")
        out += [f"{pad}extmap    {e.id} {e.uri}" for e in m.extmaps]
    out += [f"problem     line {p.line_number}: {p.field}: {p.reason}" for p in desc.problems]
    return out


def _ice_lines(
    ufrag: str | None, pwd: str | None, options: tuple[str, ...], setup: str | None, pad: str
) -> list[str]:
    out: list[str] = []
    if ufrag is not None:
        out.append(f"{pad}ice-ufrag {ufrag}")
    if pwd is not None:
        out.append(f"{pad}ice-pwd   ({len(pwd)} characters)")
    if options:
        out.append(f"{pad}ice-options {' '.join(options)}")
    if setup is not None:
        out.append(f"{pad}setup     {setup}")
    return out


def _candidate_lines(
    candidates: tuple[Candidate, ...], errors: tuple[LineError, ...], pad: str
) -> list[str]:
    out: list[str] = []
    for c in candidates:
        p = c.priority_info
        note = f"{c.type.value}/{c.address_kind.value}/{p.engine_layout.value}"
        if p.engine_layout.value == "libwebrtc":
            note += f"/{p.address_class.value}"
        out.append(f"{pad}candidate [{note}] {format_candidate(c, prefix='')}")
    out += [
        f"{pad}bad candidate line {e.line_number}: {e.field}: {e.reason}: {e.raw}" for e in errors
    ]
    return out
