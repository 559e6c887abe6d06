"""Operator lists: ``icewatch serve --list KIND=PATH`` and ``lists = [...]`` in the config.

Each file is a plain list, one CIDR prefix or address a line, ``#`` comments, IPv4 and
IPv6 mixed (the core's :func:`~icewatch.core.intel.parse_cidr_list` reads it). ``KIND``
says what the listed networks are:

=================  =======================  ==========================================
KIND               core kind                raises
=================  =======================  ==========================================
``datacenter``     ``hosting``              ``ip.datacenter``
``vpn``            ``vpn``                  ``ip.vpn``
``tor``            ``tor``                  ``ip.tor``
``relay_service``  ``relay_service``        ``ip.relay_service``
``allow``          ``allow``                nothing: an allowed address raises no
                                            ``ip.*`` signal, whatever else lists it
=================  =======================  ==========================================

Each list becomes its own source, named ``list:KIND:FILE`` (``list:allow:office.txt``),
versioned by the file's modification time, so a hit says which list and which line's
network matched. A missing, unreadable, oversized or malformed file is a
:class:`ListError` naming the file and line: the server refuses to start on it rather
than run without the operator's allow-list.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from icewatch.core.intel import IntelParseError, Kind, ParsedSource, parse_cidr_list

__all__ = ["LIST_KINDS", "MAX_LIST_BYTES", "ListError", "ListSpec", "load_lists", "parse_specs"]

LIST_KINDS: dict[str, Kind] = {
    "datacenter": Kind.HOSTING,
    "vpn": Kind.VPN,
    "tor": Kind.TOR,
    "relay_service": Kind.RELAY_SERVICE,
    "allow": Kind.ALLOW,
}
#: Largest list file read (a full Tor exit list is ~30 KB; X4BNet's datacenter list ~700 KB).
MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_LISTS = 64


class ListError(ValueError):
    """An operator list cannot be used; ``str()`` names the file (and line)."""


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One ``KIND=PATH`` entry."""

    kind: str
    path: Path

    @property
    def text(self) -> str:
        return f"{self.kind}={self.path}"


def parse_specs(entries: Sequence[str]) -> tuple[ListSpec, ...]:
    """``KIND=PATH`` texts (the ``lists`` setting) as specs; raise :class:`ListError`."""
    if len(entries) > MAX_LISTS:
        raise ListError(f"more than {MAX_LISTS} lists")
    specs = []
    for entry in entries:
        kind, sep, path = entry.partition("=")
        kind = kind.strip().lower()
        if not sep or kind not in LIST_KINDS or not path.strip():
            kinds = ", ".join(LIST_KINDS)
            raise ListError(f"list {entry!r}: expected KIND=PATH, KIND among {kinds}")
        specs.append(ListSpec(kind, Path(path.strip()).expanduser()))
    return tuple(specs)


def _version(mtime: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))


def _read(path: Path) -> tuple[str, float]:
    try:
        with path.open("rb") as fh:
            mtime = os.fstat(fh.fileno()).st_mtime
            data = fh.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise ListError(f"list {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_LIST_BYTES:
        raise ListError(f"list {path}: larger than {MAX_LIST_BYTES} bytes")
    try:
        return data.decode("utf-8"), mtime
    except UnicodeDecodeError as exc:
        raise ListError(f"list {path}: not UTF-8 text (byte {exc.start})") from None


def load_lists(specs: Sequence[ListSpec]) -> tuple[ParsedSource, ...]:
    """Read and parse every list; raise :class:`ListError` at the first bad one."""
    out: list[ParsedSource] = []
    names: set[str] = set()
    for spec in specs:
        text, mtime = _read(spec.path)
        name = f"list:{spec.kind}:{spec.path.name}"
        n = 2
        while name in names:  # two lists of one kind with the same file name
            name = f"list:{spec.kind}:{spec.path.name}#{n}"
            n += 1
        names.add(name)
        try:
            source = parse_cidr_list(
                text,
                source=name,
                kind=LIST_KINDS[spec.kind],
                provider=f"operator {spec.kind} list",
                version=_version(mtime),
                licence="operator-supplied",
                url=str(spec.path),
            )
        except IntelParseError as exc:
            line = f" line {exc.line}:" if exc.line is not None else ""
            raise ListError(f"list {spec.path}:{line} {exc.reason}") from None
        out.append(source)
    return tuple(out)
