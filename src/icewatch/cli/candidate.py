"""``icewatch candidate`` commands: parse one ICE candidate line."""

from __future__ import annotations

from typing import Any

import click

from icewatch.cli._output import emit_json, fail_input, read_text_arg
from icewatch.core.errors import CandidateParseError
from icewatch.core.ice import Candidate, EndOfCandidates, parse_ice_line
from icewatch.core.ice.grammar import MAX_LINE_LENGTH

__all__ = ["candidate", "describe_candidate"]


@click.group()
def candidate() -> None:
    """Inspect ICE candidate lines (RFC 8839)."""


@candidate.command()
@click.argument("line", metavar="LINE")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed candidate as JSON.")
def parse(line: str, as_json: bool) -> None:
    """Parse one candidate LINE (``-`` reads it from standard input).

    Accepts ``a=candidate:…``, ``candidate:…`` and the bare form. The empty string is
    the end-of-candidates indication. A malformed line exits with status 2 and one
    line on stderr naming the field.
    """
    text = read_text_arg(line, limit=4 * MAX_LINE_LENGTH)
    if line == "-":
        text = text.removesuffix("\n").removesuffix("\r")
    try:
        result = parse_ice_line(text)
    except CandidateParseError as err:
        fail_input(err)
    if as_json:
        emit_json(result.as_dict())
        return
    for row in describe_candidate(result):
        click.echo(row)


def describe_candidate(result: Candidate | EndOfCandidates) -> list[str]:
    """The human-readable listing: one aligned ``key  value`` row per field."""
    if isinstance(result, EndOfCandidates):
        return ["end-of-candidates  (gathering complete; no candidate)"]
    c = result
    p = c.priority_info
    doc = c.as_dict()
    rows: list[tuple[str, Any]] = [
        ("foundation", c.foundation),
        ("component", c.component),
        ("protocol", _with_raw(c.transport.value, c.transport_raw)),
        ("priority", c.priority),
        (
            "  decoded",
            f"type_pref={p.type_preference} local_pref={p.local_preference} "
            f"component={p.component} layout={p.engine_layout.value}",
        ),
    ]
    if p.engine_layout.value == "libwebrtc":
        relay = "" if p.relay_preference is None else f" relay_pref={p.relay_preference}"
        rows.append(
            (
                "  libwebrtc",
                f"nic_pref={p.nic_preference} addr_pref={p.address_preference} "
                f"({p.address_class.value}){relay}",
            )
        )
    rows += [
        ("address", f"{doc['address']} ({c.address_kind.value})"),
        ("port", c.port),
        ("type", _with_raw(c.type.value, c.type_raw)),
    ]
    if c.related_address is not None:
        rows.append(("raddr", f"{doc['related_address']} ({doc['related_address_kind']})"))
    if c.related_port is not None:
        rows.append(("rport", c.related_port))
    optional = ("tcptype", "generation", "ufrag", "network_id", "network_cost")
    rows += [(key, doc[key]) for key in optional if doc[key] is not None]
    if doc["network_adapter"] is not None:
        vpn = " + VPN" if doc["network_vpn"] else ""
        rows.append(("  adapter", f"{doc['network_adapter']}{vpn}"))
    known = {"tcptype", "generation", "ufrag", "network-id", "network-cost"}
    unknown = [f"{n}={v}" for n, v in c.extensions if n not in known]
    if unknown:
        rows.append(("other extensions", " ".join(unknown)))
    width = max(len(key) for key, _ in rows)
    return [f"{key:<{width}}  {value}" for key, value in rows]


def _with_raw(value: str, raw: str) -> str:
    return value if raw == value else f"{value} (sent as {raw!r})"
