"""``webrtc.api_tampered``: the page's WebRTC API is not the browser's own.

Two kinds of evidence, both from the page's report:

* the collector's own checks (``report.tamper.failed``): ``Function.prototype.toString``
  of the API's functions (and of ``toString`` itself), property descriptors, the
  prototype chain, the ``webkitRTCPeerConnection`` alias, the peer connection instance,
  and the same functions seen from a fresh same-origin iframe realm;
* ``getStats()`` local candidates against the ``icecandidate`` events, compared here
  (:func:`~icewatch.core.forensics.stats_discrepancies`): a wrapper that rewrites the
  events rarely rewrites the stats as well.
"""

from __future__ import annotations

from icewatch.core.correlate import Correlation
from icewatch.core.evidence import TamperCheck
from icewatch.core.forensics import stats_discrepancies
from icewatch.core.scoring.evidence_json import finite, listed, short
from icewatch.core.scoring.rule import Finding
from icewatch.core.scoring.rules_candidate import discrepancy_json

__all__ = ["check_sentence", "webrtc_api_tampered"]


def check_sentence(f: TamperCheck) -> str:
    """One failed collector check, in words."""
    group, _, name = f.check.partition(":")
    name = short(name, 48) or "?"
    detail = f" ({short(f.detail, 100)})" if f.detail else ""
    if group == "native":
        return f"the source text of {name} is not native code{detail}"
    if group == "realm" and name == "prototype":
        return f"RTCPeerConnection.prototype differs from a fresh frame's{detail}"
    if group == "realm" and name == "RTCPeerConnection" and "fresh frame" in f.detail:
        return f"RTCPeerConnection was removed from the page but a fresh frame has it{detail}"
    if group == "realm":
        return f"{name} does not look native to a fresh frame's Function.prototype.toString{detail}"
    if group == "descriptor":
        return f"the property {name} is not defined the way the browser defines it{detail}"
    if group == "prototype":
        return f"the prototype chain of RTCPeerConnection is altered{detail}"
    if group == "alias":
        return f"{name} is no longer the same function as RTCPeerConnection{detail}"
    if group == "instance":
        return f"the peer connection object itself was altered{detail}"
    return f"the check {short(f.check, 64)} failed{detail}"


def webrtc_api_tampered(c: Correlation) -> Finding | None:
    """The collector found the WebRTC API wrapped or replaced, or ``getStats()``
    disagrees with the candidate events."""
    report = c.report
    tamper = None if report is None else report.tamper
    if tamper is None:
        return None
    failed = tamper.failed
    stats = stats_discrepancies(c)
    if not failed and not stats:
        return None
    count = len(failed) + len(stats)
    if failed:
        lead = check_sentence(failed[0])
    else:
        d = stats[0]
        if d.kind == "not_in_stats":
            lead = (
                f"the candidate {short(repr(d.line), 90)} of an icecandidate event is not "
                f"among the peer connection's getStats() local candidates ({d.seen})"
            )
        else:
            lead = (
                f"getStats() lists a local candidate no icecandidate event delivered "
                f"({short(d.seen, 90)})"
            )
    summary = f"The page's WebRTC API is not the browser's own: {lead}."
    if count > 1:
        summary += f" ({count - 1} more finding(s) in the evidence.)"
    return Finding(
        summary,
        {
            "failed": listed([f.as_dict() for f in failed]),
            "checks": tamper.checks,
            "stats": listed([discrepancy_json(d) for d in stats]),
            "stats_candidates": len(tamper.stats),
            "stats_error": tamper.stats_error,
            "count": count,
            "collector_ms": finite(tamper.ms),
        },
    )
