"""``conn.*`` and ``net.webrtc_proxied``: the test connection and the paths it measured.

* ``conn.failed`` — the browser's UDP reached the server (so a connection to the
  server's peer should work), the page claimed candidates, yet the test connection was
  refused or never established, or the server's peer never saw it.
* ``conn.rtt_mismatch`` — the HTTP path is much slower than the WebRTC path (HTTP
  detours through a distant proxy, UDP goes direct).
* ``net.webrtc_proxied`` — WebRTC reached the server only as TURN over TCP from the
  HTTP client's address: the browser honours its proxy (informational, not a leak).

Missing data never fires a rule: a report without a ``connection`` (an older collector,
the captures) or one the server had switched off (``skipped``) says nothing about the
browser.
"""

from __future__ import annotations

import math
from typing import Any, Final

from icewatch.core.correlate import Correlation
from icewatch.core.evidence import ConnectionReport, ObservationSource, StunKind, WebRtcStatus
from icewatch.core.ice import CandidateType, Transport
from icewatch.core.rtt import median, rtt_samples, rtt_stats
from icewatch.core.scoring.evidence_json import candidate_json, listed, observation_json, short
from icewatch.core.scoring.rule import Finding
from icewatch.core.scoring.rules_ip import same_ipv6_64

__all__ = [
    "FAILED_STATES",
    "RTT_MIN_EXTRA_MS",
    "RTT_MIN_RATIO",
    "RTT_MIN_SAMPLES",
    "conn_failed",
    "conn_rtt_mismatch",
    "net_webrtc_proxied",
]

#: Connection states that mean "tried and did not connect".
FAILED_STATES: Final = frozenset({"failed", "timeout", "refused"})
#: Server answers that are the server's doing, not the browser's: ``peer_busy`` (its cap
#: of test connections), ``test_connection_disabled``, ``peer_timeout`` (the server's peer
#: could not answer in time), ``unavailable`` (storage), ``session_expired``.
_SERVER_SIDE: Final = ("busy", "disabled", "unavailable", "peer_timeout", "expired")

#: ``conn.rtt_mismatch`` thresholds. Both must hold, on the minimum *and* the median:
#: the minimum is the least noisy estimate of a path's latency (jitter and scheduling
#: only ever add), the median guards against one lucky sample. 60 ms is far above the
#: jitter of a browser's timers and event loop on a busy machine (a few ms to ~20 ms
#: between fetches and data-channel messages on the same path) and well below a
#: detour through another country or continent (≥ 80 ms); the 2.5x ratio keeps a
#: far-away visitor (WebRTC 200 ms, HTTP 270 ms: a slower TCP path, not a detour) quiet.
RTT_MIN_EXTRA_MS: Final = 60.0
RTT_MIN_RATIO: Final = 2.5
#: Fewer samples than this on either side: no judgement.
RTT_MIN_SAMPLES: Final = 2


def _server_side(text: str | None) -> bool:
    lowered = (text or "").lower()
    return any(word in lowered for word in _SERVER_SIDE)


def _ice_observations(c: Correlation) -> list[Any]:
    return [o for o in c.observations if o.source is ObservationSource.ICE]


def _connection_json(conn: ConnectionReport) -> dict[str, Any]:
    return {
        "attempted": conn.attempted,
        "state": short(conn.state, 24),
        "answer_ms": _finite(conn.answer_ms),
        "open_ms": _finite(conn.open_ms),
        "offer_sent": conn.attempted,
        "answer_received": _finite(conn.answer_ms) is not None,
        "channel_opened": _finite(conn.open_ms) is not None,
        "error": None if conn.error is None else short(conn.error, 160),
        "server_error": None if conn.server_error is None else short(conn.server_error, 64),
    }


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def conn_failed(c: Correlation) -> Finding | None:
    """The page should have connected to the server's peer but did not (or would not)."""
    report = c.report
    if report is None or report.webrtc is not WebRtcStatus.OK or report.connection is None:
        return None
    conn = report.connection
    state = conn.state.lower()
    if state == "skipped" and (conn.attempted or conn.error or conn.server_error):
        # Skipped with a reason: the server turned the test connection off for this
        # session (or a contradictory report): nothing to judge.
        return None
    if _server_side(conn.server_error) or _server_side(conn.error):
        return None  # the server's capacity or configuration, not the browser
    if state not in FAILED_STATES and state not in ("skipped", "connected"):
        return None  # a state this version does not know
    if not c.udp_observed:
        return None  # no UDP at all: webrtc.udp_blocked tells that story
    usable = [
        e
        for e in c.candidates
        if e.candidate.transport is Transport.UDP
        and e.candidate.type in (CandidateType.HOST, CandidateType.SRFLX, CandidateType.PRFLX)
    ]
    if not usable:
        return None  # nothing claimed that should have connected
    if state == "connected":
        # The server's peer records its observation after its own pings, which can land
        # after the page's report: no ICE observation yet is no proof of a lie.
        return None
    ice = _ice_observations(c)
    if ice:
        return None  # the browser's ICE checks reached the server's peer: real candidates
    if state == "skipped":
        why = (
            "the page skipped the test connection without a reason although WebRTC works "
            "and its UDP reached the server"
        )
    elif not conn.attempted:
        why = "the page refused to send its offer for the test connection"
    else:
        steps = ["offer sent"]
        steps.append("answer received" if _finite(conn.answer_ms) is not None else "no answer")
        if _finite(conn.answer_ms) is not None:
            steps.append(
                "data channel opened" if _finite(conn.open_ms) is not None else "no data channel"
            )
        why = f"the test connection ended {short(state, 24)} ({', '.join(steps)})"
    detail = ""
    if conn.server_error:
        detail = f"; server error: {short(conn.server_error, 64)}"
    elif conn.error:
        detail = f"; error: {short(conn.error, 120)}"
    summary = (
        f"The browser's UDP reached the server and the page claimed {len(usable)} "
        f"candidate(s) that should connect, but {why}{detail}."
    )
    return Finding(
        summary,
        {
            "connection": _connection_json(conn),
            "ice_observations": listed([observation_json(o) for o in ice]),
            "candidates": listed([candidate_json(e) for e in usable]),
            "udp_observed": c.udp_observed,
        },
    )


def _webrtc_rtts(c: Correlation) -> tuple[list[float], str]:
    """The WebRTC path's RTTs: the server's data-channel pings, else the page's."""
    for o in c.observations:
        if o.source is ObservationSource.ICE and o.kind is StunKind.ICE_NOMINATED:
            server = rtt_samples(o.rtt_ms)
            if len(server) >= RTT_MIN_SAMPLES:
                return server, "server"
    report = c.report
    if report is not None and report.connection is not None:
        return rtt_samples(report.connection.rtts_ms), "page"
    return [], ""


def conn_rtt_mismatch(c: Correlation) -> Finding | None:
    """The HTTP path is much slower than the direct WebRTC path."""
    report = c.report
    if report is None:
        return None
    webrtc, source = _webrtc_rtts(c)
    http = rtt_samples(report.http_rtts_ms)
    if len(webrtc) < RTT_MIN_SAMPLES or len(http) < RTT_MIN_SAMPLES:
        return None
    w_min, h_min = min(webrtc), min(http)
    w_med, h_med = median(webrtc), median(http)
    if h_min - w_min < RTT_MIN_EXTRA_MS or h_med - w_med < RTT_MIN_EXTRA_MS:
        return None
    if h_min < RTT_MIN_RATIO * w_min or h_med < RTT_MIN_RATIO * w_med:
        return None
    measured = "server-measured" if source == "server" else "page-measured"
    summary = (
        f"HTTP requests take {h_med:.0f} ms round trip (median; fastest {h_min:.0f} ms) "
        f"while the WebRTC path takes {w_med:.0f} ms ({measured}; fastest {w_min:.0f} ms): "
        f"the HTTP connection makes a detour, as through a distant proxy or VPN, that "
        f"WebRTC does not take."
    )
    return Finding(
        summary,
        {
            "webrtc_rtt_ms": rtt_stats(webrtc) | {"measured_by": source},
            "http_rtt_ms": rtt_stats(http) | {"measured_by": "page"},
            "difference_ms": {"min": round(h_min - w_min, 2), "median": round(h_med - w_med, 2)},
            "thresholds": {
                "min_extra_ms": RTT_MIN_EXTRA_MS,
                "min_ratio": RTT_MIN_RATIO,
                "min_samples": RTT_MIN_SAMPLES,
            },
        },
    )


def net_webrtc_proxied(c: Correlation) -> Finding | None:
    """WebRTC reached the server only over TCP, from the HTTP client's address."""
    report = c.report
    if report is None or report.webrtc is not WebRtcStatus.OK or c.udp_observed:
        return None
    if any(o.transport.lower() != "tcp" for o in c.observations):
        return None  # some of it (the test connection, say) went around the proxy
    tcp = list(c.observations)
    if not tcp:
        return None
    http = c.http_ips
    if not all(o.ip in http or any(same_ipv6_64(o.ip, h) for h in http) for o in tcp):
        return None
    summary = (
        f"WebRTC went through your proxy: no leak. The server received this session's "
        f"TURN over TCP from {tcp[0].ip}, the same address your HTTP requests came from, "
        f"and no UDP: the browser keeps WebRTC inside the proxy."
    )
    return Finding(
        summary,
        {
            "http_client_ips": [str(ip) for ip in http],
            "observations": listed([observation_json(o) for o in tcp]),
            "udp_observed": False,
        },
    )
