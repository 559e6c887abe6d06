"""Shared helpers for the STUN tests: the RFC 5769 vectors and the browser captures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data"
RFC5769: dict[str, dict[str, Any]] = json.loads(
    (DATA / "stun" / "rfc5769.json").read_text(encoding="utf-8")
)["vectors"]
CAPTURES = sorted((DATA / "captures").glob("*.json"))


def vector_bytes(name: str) -> bytes:
    return bytes.fromhex(RFC5769[name]["hex"])
