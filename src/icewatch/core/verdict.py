"""Verdicts: signals with a stable code, a weight, a plain-language summary and evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from icewatch.core.errors import ParseError

__all__ = ["Level", "Signal", "Verdict", "signal_from_dict", "verdict_from_dict"]


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


def signal_from_dict(data: Mapping[str, Any]) -> Signal:
    """Read back :meth:`Signal.as_dict`; raise :class:`ParseError`."""
    try:
        evidence = data.get("evidence")
        if evidence is not None and not isinstance(evidence, Mapping):
            raise TypeError("evidence is not an object")
        weight = data["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise TypeError("weight is not a number")
        return Signal(
            code=str(data["code"]),
            weight=int(weight),
            summary=str(data.get("summary", "")),
            evidence=dict(evidence or {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError("verdict", f"unreadable stored signal: {exc}") from None


def verdict_from_dict(data: Mapping[str, Any]) -> Verdict:
    """Read back :meth:`Verdict.as_dict` (missing signals read as none); raise
    :class:`ParseError`."""
    try:
        score = data["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise TypeError("score is not a number")
        signals = data.get("signals") or []
        if not isinstance(signals, list | tuple):
            raise TypeError("signals is not a list")
        return Verdict(
            score=int(score),
            level=Level(data["level"]),
            signals=tuple(signal_from_dict(s) for s in signals),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError("verdict", f"unreadable stored verdict: {exc}") from None
