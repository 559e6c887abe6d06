"""The scoring engine: run the rule table over a correlation and combine the signals.

Score. Each firing rule contributes its weight ``w`` (0-100) as an independent piece of
evidence: ``score = 100 · (1 - ∏ (1 - w/100))``, rounded half up. One signal scores its
own weight, two strong signals approach but never pass 100, and a weight-0 signal
changes nothing. The arithmetic is exact (fractions), so a score never depends on
float rounding.

Level. ``high`` from :data:`HIGH_FROM`, ``medium`` from :data:`MEDIUM_FROM`, else
``low``. Informational rules always weigh 0, so they never raise the level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from icewatch.core.correlate import Correlation, correlate
from icewatch.core.evidence import SessionEvidence
from icewatch.core.scoring.codes import SignalCode
from icewatch.core.scoring.table import RULES, RULES_BY_CODE
from icewatch.core.verdict import Level, Signal, Verdict

__all__ = [
    "HIGH_FROM",
    "MEDIUM_FROM",
    "combine",
    "evaluate",
    "level_for",
    "score",
    "validate_weights",
]

#: Lowest score of each level (documented in docs/signals.md).
MEDIUM_FROM = 30
HIGH_FROM = 60


def combine(weights: Iterable[int]) -> int:
    """``100 · (1 - ∏(1 - w/100))`` rounded half up, each ``w`` clamped to 0..100."""
    remaining = Fraction(1)
    for w in weights:
        remaining *= Fraction(100 - min(100, max(0, w)), 100)
    value = (1 - remaining) * 100
    return int(value + Fraction(1, 2))


def level_for(score: int) -> Level:
    if score >= HIGH_FROM:
        return Level.HIGH
    if score >= MEDIUM_FROM:
        return Level.MEDIUM
    return Level.LOW


def validate_weights(weights: Mapping[str, int] | None) -> dict[SignalCode, int]:
    """The weight of every code: defaults overlaid with ``weights`` (operator settings).

    Raise :class:`ValueError` naming the code for an unknown code, a weight that is not
    an integer in 0..100, or a non-zero weight on an informational rule — call it at
    start-up so a bad setting fails there and not on a visitor's request.
    """
    out = {rule.code: rule.weight for rule in RULES}
    for code, weight in (weights or {}).items():
        try:
            key = SignalCode(code)
        except ValueError:
            raise ValueError(f"unknown signal code {code!r}") from None
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ValueError(f"weight of {code}: {weight!r} is not an integer in 0..100")
        if RULES_BY_CODE[key].informational and weight != 0:
            raise ValueError(f"{code} is informational: its weight is always 0")
        out[key] = weight
    return out


def score(correlation: Correlation, weights: Mapping[str, int] | None = None) -> Verdict:
    """Run every rule (table order) and combine the signals that fired into a verdict."""
    table = validate_weights(weights)
    signals: list[Signal] = []
    for rule in RULES:
        finding = rule.check(correlation)
        if finding is None:
            continue
        weight = 0 if rule.informational else table[rule.code]
        signals.append(Signal(rule.code.value, weight, finding.summary, dict(finding.evidence)))
    total = combine(s.weight for s in signals)
    return Verdict(score=total, level=level_for(total), signals=tuple(signals))


def evaluate(
    evidence: SessionEvidence, weights: Mapping[str, int] | None = None
) -> tuple[Correlation, Verdict]:
    """Correlate and score in one call (the web adapter's entry point)."""
    correlation = correlate(evidence)
    return correlation, score(correlation, weights)
