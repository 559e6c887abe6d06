"""Evidence → session JSON: the core's scoring and document, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from icewatch.core.document import session_document
from icewatch.core.evidence import SessionEvidence
from icewatch.core.scoring import evaluate
from icewatch.core.verdict import Verdict

__all__ = ["scored_document", "stored_document"]


def scored_document(
    evidence: SessionEvidence, weights: Mapping[str, int] | None = None
) -> tuple[dict[str, Any], Verdict]:
    """Correlate, score and render a freshly reported session: (session JSON, verdict)."""
    correlation, verdict = evaluate(evidence, weights)
    return session_document(evidence, verdict, correlation), verdict


def stored_document(evidence: SessionEvidence, verdict: Verdict | None) -> dict[str, Any]:
    """The session JSON of a stored session, with the verdict it was answered with
    (``null`` before the report), so it reads back the same even after rules change."""
    return session_document(evidence, verdict)
