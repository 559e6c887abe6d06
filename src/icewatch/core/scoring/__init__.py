"""Scoring: one small pure function per signal, a rule table, and the engine.

* :data:`RULES` — the table (code, default weight, title, description, evidence fields,
  benign causes, fixes, check), in the order signals appear in a verdict;
* :func:`score` — correlation → :class:`~icewatch.core.verdict.Verdict`;
* :func:`evaluate` — session evidence → (correlation, verdict), the one-call entry point;
* :func:`validate_weights` — check operator weights at start-up;
* :func:`render_signal_docs` — ``docs/signals.md``.

Each rule function is named after its code (``ip.webrtc_http_mismatch`` →
:func:`ip_webrtc_http_mismatch`) and returns a :class:`Finding` or ``None``.
"""

from __future__ import annotations

from icewatch.core.scoring.codes import SignalCode
from icewatch.core.scoring.docs import render_signal_docs
from icewatch.core.scoring.engine import (
    HIGH_FROM,
    MEDIUM_FROM,
    combine,
    evaluate,
    level_for,
    score,
    validate_weights,
)
from icewatch.core.scoring.rule import MAX_LISTED, Finding, Rule, RuleCheck
from icewatch.core.scoring.rules_candidate import candidate_malformed, candidate_spoofed
from icewatch.core.scoring.rules_forensics import webrtc_api_tampered
from icewatch.core.scoring.rules_ip import ip_webrtc_http_mismatch
from icewatch.core.scoring.rules_net import (
    net_cgnat,
    net_ipv6_exposed,
    net_local_ip_exposed,
    net_mdns,
)
from icewatch.core.scoring.rules_webrtc import (
    webrtc_no_candidates,
    webrtc_udp_blocked,
    webrtc_unavailable,
)
from icewatch.core.scoring.table import RULES, RULES_BY_CODE

__all__ = [
    "HIGH_FROM",
    "MAX_LISTED",
    "MEDIUM_FROM",
    "RULES",
    "RULES_BY_CODE",
    "Finding",
    "Rule",
    "RuleCheck",
    "SignalCode",
    "candidate_malformed",
    "candidate_spoofed",
    "combine",
    "evaluate",
    "ip_webrtc_http_mismatch",
    "level_for",
    "net_cgnat",
    "net_ipv6_exposed",
    "net_local_ip_exposed",
    "net_mdns",
    "render_signal_docs",
    "score",
    "signal_catalog",
    "validate_weights",
    "webrtc_api_tampered",
    "webrtc_no_candidates",
    "webrtc_udp_blocked",
    "webrtc_unavailable",
]


def signal_catalog() -> list[dict[str, object]]:
    """Every rule's documentation as JSON, in table order (for the leak-test page)."""
    return [rule.as_dict() for rule in RULES]
