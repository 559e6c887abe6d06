"""Verdicts: signals with a stable code, a weight, a plain-language summary and evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Level", "Signal", "Verdict"]


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Signal:
    """One finding. ``code`` is stable API (documented in docs/signals.md); ``weight`` 0
    marks an informational signal that never raises the level; ``evidence`` is JSON."""

    code: str
    weight: int
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "weight": self.weight,
            "summary": self.summary,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Score 0-100, its level, and the signals it was computed from (in rule order)."""

    score: int
    level: Level
    signals: tuple[Signal, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "level": self.level.value,
            "signals": [s.as_dict() for s in self.signals],
        }
