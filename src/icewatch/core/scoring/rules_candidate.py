"""``candidate.*``: the candidates the page reported, checked against the server's view."""

from __future__ import annotations

from typing import Any

from icewatch.core.correlate import Correlation, EndpointFinding, normalize_ip
from icewatch.core.forensics import (
    Discrepancy,
    implausible_candidates,
    spoof_discrepancies,
)
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
_ORDER = {
    # what the server saw against what the page claimed
    "rewritten": 0,
    "rewritten_port": 1,
    "hidden": 2,
    "denied": 3,
    "unseen": 4,
    "premature": 5,
    # the report against itself
    "sdp_connection": 6,
    "sdp_rtcp": 7,
    "raddr": 8,
    "not_in_sdp": 9,
    "not_in_events": 10,
    "ufrag": 11,
}

_WHERE_TEXT = {"report": "an icecandidate event", "sdp": "the SDP", "stats": "getStats()"}


def discrepancy_json(d: Discrepancy) -> dict[str, Any]:
    """A :class:`~icewatch.core.forensics.Discrepancy` as signal evidence."""
    return {
        "kind": d.kind,
        "where": d.where,
        "field": d.field,
        "expected": d.expected,
        "seen": d.seen,
        "line": d.line,
        "sdp_line": d.sdp_line,
        "ms": finite(d.ms),
        "observed": None if d.observation is None else observation_json(d.observation),
    }


def _discrepancy_sentence(d: Discrepancy) -> str:
    where = _WHERE_TEXT.get(d.where, d.where)
    line = f" {short(repr(d.line), 90)}" if d.line else ""
    if d.kind == "rewritten_port":
        return (
            f"The page reported a srflx candidate on port {d.seen} ({where}{line}), but "
            f"the server never saw that port: it saw {d.expected.removeprefix('a port ')}; "
            f"the candidate's port was rewritten."
        )
    if d.kind == "premature":
        return (
            f"A srflx candidate reached the page before the server had even received the "
            f"Binding request it answers ({d.seen}; expected {d.expected}): it was "
            f"fabricated."
        )
    if d.kind in ("sdp_connection", "sdp_rtcp"):
        return (
            f"The SDP's {d.field} line names {d.seen}, which none of the candidates has; "
            f"browsers put their default candidate there, so the candidates were "
            f"rewritten (SDP line {d.sdp_line})."
        )
    if d.kind == "raddr":
        return (
            f"A candidate ({where}{line}) names the related address {d.seen}, which no "
            f"host candidate has: its base was rewritten or invented."
        )
    if d.kind == "not_in_sdp":
        return (
            f"An icecandidate event{line} has no copy in the final SDP: the events and "
            f"the SDP were not written by the same browser."
        )
    if d.kind == "not_in_events":
        return (
            f"The final SDP holds a candidate{line} that no icecandidate event delivered: "
            f"the events and the SDP were not written by the same browser."
        )
    if d.kind == "ufrag":
        return (
            f"A candidate ({where}{line}) carries the {d.field} {d.seen!r}, not "
            f"{d.expected}: it was not written by this peer connection."
        )
    return f"The page's report disagrees with itself: {d.field} {d.seen}, expected {d.expected}."


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
    :class:`~icewatch.core.correlate.EndpointFinding` for the kinds), or with the rest of
    its own report (:func:`~icewatch.core.forensics.spoof_discrepancies`)."""
    extra = spoof_discrepancies(c)
    if not c.findings and not extra:
        return None
    # A Binding source explained by a rewritten port is not "hidden" a second time.
    explained = {
        (normalize_ip(d.observation.ip), d.observation.port)
        for d in extra
        if d.kind == "rewritten_port" and d.observation is not None
    }
    endpoint = [
        f
        for f in c.findings
        if not (
            f.kind == "hidden"
            and f.observation is not None
            and (normalize_ip(f.observation.ip), f.observation.port) in explained
        )
    ]
    items: list[tuple[int, EndpointFinding | Discrepancy]] = [
        (_ORDER.get(f.kind, 99), f) for f in endpoint
    ]
    items += [(_ORDER.get(d.kind, 99), d) for d in extra]
    items.sort(key=lambda item: item[0])
    ordered = [item for _, item in items]
    first = ordered[0]
    summary = (
        _sentence(first, c) if isinstance(first, EndpointFinding) else _discrepancy_sentence(first)
    )
    if len(ordered) > 1:
        summary += f" ({len(ordered) - 1} more disagreement(s) in the evidence.)"
    observed = sorted({endpoint_text(o.ip, o.port) for o in c.observations})
    return Finding(
        summary,
        {
            "findings": listed(
                [
                    _finding_json(f) if isinstance(f, EndpointFinding) else discrepancy_json(f)
                    for f in ordered
                ]
            ),
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


def _malformed_kind(reason: str) -> str:
    return "mdns_name" if reason.startswith("mDNS name") else "unparseable"


def candidate_malformed(c: Correlation) -> Finding | None:
    """Reported candidate lines (events or SDP) that do not parse, or that parse but break
    the conventions every browser engine follows (priority layout, related address,
    foundation: :func:`~icewatch.core.forensics.implausible_candidates`). Browsers never
    send them; a script that rewrites candidates, or a broken one, does."""
    implausible = implausible_candidates(c)
    if not c.malformed and not implausible:
        return None
    lines: list[dict[str, Any]] = [
        {
            "kind": _malformed_kind(m.reason),
            "raw": m.raw,
            "field": m.field,
            "reason": m.reason,
            "expected": None,
            "seen": None,
            "where": m.where,
            "ms": finite(m.ms),
            "sdp_line": m.sdp_line,
        }
        for m in c.malformed
    ]
    lines += [
        {
            "kind": d.kind,
            "raw": d.line,
            "field": d.field,
            "reason": f"expected {d.expected}; saw {d.seen}",
            "expected": d.expected,
            "seen": d.seen,
            "where": d.where,
            "ms": finite(d.ms),
            "sdp_line": d.sdp_line,
        }
        for d in implausible
    ]
    count = len(lines)
    if c.malformed:
        first = c.malformed[0]
        where = "an icecandidate event" if first.where == "report" else "the SDP"
        bad = len(c.malformed)
        lead = "1 candidate line" if bad == 1 else f"{bad} candidate lines"
        verb = "does not parse" if bad == 1 else "do not parse"
        summary = (
            f"{lead} the page reported {verb}; the first ({where}) "
            f"{short(repr(first.raw), 80)} fails at {first.field}: {short(first.reason, 80)}."
        )
        if implausible:
            summary += f" ({len(implausible)} more line(s) parse but no browser writes them.)"
    else:
        d = implausible[0]
        where = _WHERE_TEXT.get(d.where, d.where)
        lead = "1 candidate line" if count == 1 else f"{count} candidate lines"
        verb = "is" if count == 1 else "are"
        summary = (
            f"{lead} the page reported {verb} not what a browser writes; the first "
            f"({where}) {short(repr(d.line), 80)} has {d.field} {short(d.seen, 60)} where "
            f"a browser writes {short(d.expected, 160)}."
        )
    return Finding(summary, {"count": count, "lines": listed(lines)})
