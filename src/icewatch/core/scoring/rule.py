"""The shape of a rule: a pure check and everything people need to understand its signal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from icewatch.core.correlate import Correlation
from icewatch.core.scoring.codes import SignalCode

__all__ = ["MAX_LISTED", "Finding", "Rule", "RuleCheck"]

#: Longest list a signal's evidence carries (the count is always given in full).
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found: one specific sentence and its JSON evidence."""

    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


RuleCheck = Callable[[Correlation], Finding | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of the rule table (``docs/signals.md`` is generated from these).

    ``weight`` is the default (0-100); an ``informational`` rule always weighs 0 and
    never raises the level, whatever weights are configured."""

    code: SignalCode
    weight: int
    title: str
    description: str
    evidence_fields: tuple[tuple[str, str], ...]
    benign_causes: tuple[str, ...]
    fixes: tuple[str, ...]
    check: RuleCheck
    informational: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The rule's documentation as JSON (for the leak-test page and the API)."""
        return {
            "code": self.code.value,
            "weight": self.weight,
            "informational": self.informational,
            "title": self.title,
            "description": self.description,
            "evidence_fields": [{"name": n, "meaning": m} for n, m in self.evidence_fields],
            "benign_causes": list(self.benign_causes),
            "fixes": list(self.fixes),
        }
