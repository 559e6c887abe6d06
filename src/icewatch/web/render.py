"""Evidence → session JSON: the core's scoring and document, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from icewatch.core.correlate import Correlation, correlate
from icewatch.core.document import session_document
from icewatch.core.evidence import SessionEvidence
from icewatch.core.fingerprint import NetworkFingerprint, Population, network_fingerprint
from icewatch.core.scoring import evaluate
from icewatch.core.verdict import Verdict

__all__ = [
    "Scored",
    "score_report",
    "scored_document",
    "stored_document",
    "stored_fingerprint",
]


@dataclass(frozen=True, slots=True)
class Scored:
    """A freshly reported session, scored: what is stored, and what renders it."""

    evidence: SessionEvidence
    correlation: Correlation
    verdict: Verdict
    fingerprint: NetworkFingerprint | None

    def document(self, population: Population | None = None) -> dict[str, Any]:
        return session_document(self.evidence, self.verdict, self.correlation, population)


def score_report(evidence: SessionEvidence, weights: Mapping[str, int] | None = None) -> Scored:
    """Correlate and score a reported session, and compute its network fingerprint."""
    correlation, verdict = evaluate(evidence, weights)
    return Scored(evidence, correlation, verdict, network_fingerprint(correlation))


def scored_document(
    evidence: SessionEvidence, weights: Mapping[str, int] | None = None
) -> tuple[dict[str, Any], Verdict]:
    """Correlate, score and render a freshly reported session: (session JSON, verdict)."""
    scored = score_report(evidence, weights)
    return scored.document(), scored.verdict


def stored_fingerprint(evidence: SessionEvidence) -> tuple[Correlation, NetworkFingerprint | None]:
    """A stored session's correlation and its fingerprint by the current recipe."""
    correlation = correlate(evidence)
    return correlation, network_fingerprint(correlation)


def stored_document(
    evidence: SessionEvidence,
    verdict: Verdict | None,
    population: Population | None = None,
    correlation: Correlation | None = None,
) -> dict[str, Any]:
    """The session JSON of a stored session, with the verdict it was answered with
    (``null`` before the report), so it reads back the same even after rules change;
    ``population`` is the store's current count for its fingerprint."""
    return session_document(evidence, verdict, correlation, population)
