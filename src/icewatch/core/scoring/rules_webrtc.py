"""``webrtc.*``: whether the WebRTC API worked and reached the server at all."""

from __future__ import annotations

from icewatch.core.correlate import Correlation
from icewatch.core.evidence import WebRtcStatus
from icewatch.core.forensics import claimed_browser
from icewatch.core.scoring.evidence_json import finite, listed, observation_json, short
from icewatch.core.scoring.rule import Finding

__all__ = ["webrtc_no_candidates", "webrtc_udp_blocked", "webrtc_unavailable"]


def _gathering(c: Correlation) -> str:
    report = c.report
    if report is None:
        return ""
    parts: list[str] = []
    if report.ended_by:
        parts.append(f"ended by {short(report.ended_by, 24)}")
    gathering = finite(report.gathering_ms)
    if gathering is not None:
        parts.append(f"after {gathering:.0f} ms")
    return f" ({' '.join(parts)})" if parts else ""


def webrtc_unavailable(c: Correlation) -> Finding | None:
    """The collector found no ``RTCPeerConnection``, or it threw."""
    report = c.report
    if report is None or report.webrtc is WebRtcStatus.OK:
        return None
    claimed = claimed_browser(report.user_agent)
    if report.webrtc is WebRtcStatus.MISSING:
        summary = (
            "The page reported that RTCPeerConnection is missing: WebRTC is disabled or "
            "removed in this browser."
        )
        if claimed is not None and claimed.ships_webrtc:
            summary = summary[:-1] + (
                f", although the {claimed.name.capitalize()} {claimed.major} its user agent "
                f"claims always has it."
            )
    else:
        detail = f": {short(report.error, 160)}" if report.error else ""
        summary = f"Creating an RTCPeerConnection threw{detail}."
    return Finding(
        summary,
        {
            "webrtc": report.webrtc.value,
            "error": report.error,
            "user_agent": report.user_agent,
            "claimed_browser": None if claimed is None else claimed.as_dict(),
        },
    )


def webrtc_no_candidates(c: Correlation) -> Finding | None:
    """The API works, but no candidate at all came out of gathering."""
    report = c.report
    if report is None or report.webrtc is not WebRtcStatus.OK or c.any_candidate:
        return None
    return Finding(
        f"WebRTC is available but gathering produced no ICE candidate at all{_gathering(c)}.",
        {
            "ended_by": report.ended_by,
            "gathering_ms": finite(report.gathering_ms),
            "end_of_candidates": c.end_of_candidates,
            "candidate_errors": len(report.candidate_errors),
        },
    )


def webrtc_udp_blocked(c: Correlation) -> Finding | None:
    """The API works, but no UDP packet of this session reached the STUN/TURN server."""
    report = c.report
    if report is None or report.webrtc is not WebRtcStatus.OK or c.udp_observed:
        return None
    tcp = [o for o in c.observations if o.transport.lower() != "udp"]
    also = ""
    if tcp:
        also = f"; only TCP traffic arrived, from {tcp[0].ip}"
    return Finding(
        f"WebRTC is available but no UDP packet from this session reached the STUN/TURN "
        f"server{also}{_gathering(c)}.",
        {
            "observations": listed([observation_json(o) for o in c.observations]),
            "ended_by": report.ended_by,
            "gathering_ms": finite(report.gathering_ms),
            "candidate_errors": len(report.candidate_errors),
        },
    )
