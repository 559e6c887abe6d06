"""``candidate.*``: the candidates the page reported, checked against the server's view."""

from __future__ import annotations

from typing import Any

from icewatch.core.correlate import Correlation, EndpointFinding
from icewatch.core.scoring.evidence_json import (
    candidate_json,
    endpoint_text,
    finite,
    listed,
    observation_json,
    short,
)
from icewatch.core.scoring.rule import Finding

__all__ = ["candidate_malformed", "candidate_spoofed"]

#: Which disagreement the summary sentence tells first (the most telling one).
_ORDER = {"rewritten": 0, "hidden": 1, "denied": 2, "unseen": 3}


def _finding_json(f: EndpointFinding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "where": f.where,
        "reported": None if f.reported is None else candidate_json(f.reported),
        "observed": None if f.observation is None else observation_json(f.observation),
    }


def _sentence(f: EndpointFinding, c: Correlation) -> str:
    obs = f.observation
    rep = f.reported
    if f.kind == "rewritten" and rep is not None and rep.ip is not None and obs is not None:
        return (
            f"The page reported its public address as "
            f"{endpoint_text(rep.ip, rep.candidate.port)} "
            f"but the server saw that port from {obs.ip}: the candidate's address was "
            f"rewritten."
        )
    if f.kind == "hidden" and obs is not None:
        return (
            f"The server received this session's STUN Binding request from "
            f"{endpoint_text(obs.ip, obs.port)}, but the page reported no candidate with "
            f"that address and port: it was hidden."
        )
    if f.kind == "denied" and obs is not None:
        return (
            f"The page reported that WebRTC is missing, but the server received this "
            f"session's {obs.source.value.upper()} traffic from "
            f"{endpoint_text(obs.ip, obs.port)}."
        )
    if rep is not None and rep.ip is not None:
        claimed = endpoint_text(rep.ip, rep.candidate.port)
        if c.observations:
            first = c.observations[0]
            return (
                f"The page reported the srflx candidate {claimed}, but no packet of this "
                f"session came from it; the server saw the session from "
                f"{endpoint_text(first.ip, first.port)}."
            )
        return (
            f"The page reported the srflx candidate {claimed}, but the server received no "
            f"STUN or TURN packet from this session at all: the candidate was invented."
        )
    return "What the page reported disagrees with what the server observed."


def candidate_spoofed(c: Correlation) -> Finding | None:
    """The page's candidates disagree with the packets of this session (see
    :class:`~icewatch.core.correlate.EndpointFinding` for the kinds)."""
    if not c.findings:
        return None
    ordered = sorted(c.findings, key=lambda f: _ORDER.get(f.kind, 9))
    summary = _sentence(ordered[0], c)
    if len(ordered) > 1:
        summary += f" ({len(ordered) - 1} more disagreement(s) in the evidence.)"
    observed = sorted({endpoint_text(o.ip, o.port) for o in c.observations})
    return Finding(
        summary,
        {
            "findings": listed([_finding_json(f) for f in ordered]),
            "count": len(ordered),
            "observed_endpoints": listed(observed),
            "reported_srflx": listed(
                [
                    candidate_json(e)
                    for e in c.candidates
                    if e.candidate.type.value == "srflx" and e.ip is not None
                ]
            ),
        },
    )


def candidate_malformed(c: Correlation) -> Finding | None:
    """Reported candidate lines (events or SDP) that do not parse. Browsers never send
    them; a script that rewrites candidates, or a broken one, does."""
    if not c.malformed:
        return None
    first = c.malformed[0]
    where = "an icecandidate event" if first.where == "report" else "the SDP"
    count = len(c.malformed)
    lead = "1 candidate line" if count == 1 else f"{count} candidate lines"
    summary = (
        f"{lead} the page reported do not parse; the first ({where}) "
        f"{short(repr(first.raw), 80)} fails at {first.field}: {short(first.reason, 80)}."
    )
    if count == 1:
        summary = summary.replace("do not parse", "does not parse", 1)
    return Finding(
        summary,
        {
            "count": count,
            "lines": listed(
                [
                    {
                        "raw": m.raw,
                        "field": m.field,
                        "reason": m.reason,
                        "where": m.where,
                        "ms": finite(m.ms),
                        "sdp_line": m.sdp_line,
                    }
                    for m in c.malformed
                ]
            ),
        },
    )
