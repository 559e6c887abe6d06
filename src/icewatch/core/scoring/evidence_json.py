"""Small helpers that turn correlation values into the JSON a signal's evidence carries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import AddressSighting, ReportedEntry
from icewatch.core.document import finite, iso_utc
from icewatch.core.evidence import Observation
from icewatch.core.scoring.rule import MAX_LISTED

__all__ = [
    "address_json",
    "candidate_json",
    "endpoint_text",
    "family_label",
    "finite",
    "listed",
    "observation_json",
    "short",
]

_T = TypeVar("_T")


def family_label(family: int) -> str:
    return f"IPv{family}"


def endpoint_text(ip: IPAddress, port: int) -> str:
    """``203.0.113.7:54066`` / ``[2001:db8::1]:54066``."""
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def short(text: str, limit: int = 96) -> str:
    """Text for a summary sentence: one line, bounded."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def listed(items: Sequence[_T]) -> list[_T]:
    return list(items[:MAX_LISTED])


def observation_json(o: Observation) -> dict[str, Any]:
    return {
        "source": o.source.value,
        "kind": o.kind.value,
        "ip": str(o.ip),
        "port": o.port,
        "transport": o.transport,
        "family": f"ipv{o.ip.version}",
        "at": iso_utc(o.at),
    }


def candidate_json(e: ReportedEntry) -> dict[str, Any]:
    c = e.candidate
    return {
        "raw": e.reported.candidate,
        "ms": finite(e.reported.ms),
        "type": c.type.value,
        "address": str(c.address),
        "port": c.port,
        "protocol": c.transport.value,
    }


def address_json(s: AddressSighting) -> dict[str, Any]:
    return {
        "ip": str(s.ip),
        "family": f"ipv{s.family}",
        "category": s.category.value,
        "where": list(s.where),
        "ports": listed(s.ports),
    }
