"""Properties: whatever a page reports and whatever arrives, evaluate and the session JSON
never raise, scores stay in 0..100, and the document is strict JSON."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.core.scoring.capture_evidence import BASE, CAPTURES, SESSION, load

from icewatch.core.addr import IPAddress
from icewatch.core.document import session_document
from icewatch.core.evidence import (
    CandidateErrorReport,
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.scoring import evaluate
from icewatch.core.verdict import Level

_DOCS = [load(str(p)) for p in CAPTURES]
REAL_LINES = sorted({c["candidate"] for d in _DOCS for c in d["candidates"] if "candidate" in c})
REAL_SDPS = [d["sdp"] for d in _DOCS]
ADDRESSES = [
    "10.77.1.2",
    "10.77.1.254",
    "10.77.1.3",
    "fd77:1::2",
    "203.0.113.7",
    "100.64.0.1",
    "2a00:1450::1",
    "::ffff:10.77.1.2",
    "0.0.0.0",
    "::",
    "fe80::1",
    "127.0.0.1",
]
PORTS = st.sampled_from([0, 9, 3478, 54066, 37880, 46215, 65535])
FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    tokens = draw(st.sampled_from(REAL_LINES)).split(" ")
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(tokens)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        new = draw(
            st.one_of(
                st.sampled_from(ADDRESSES),
                st.sampled_from(["srflx", "host", "relay", "prflx", "typ", "raddr", "rport"]),
                st.integers(0, 99999).map(str),
                st.text(max_size=12),
            )
        )
        if op == "insert" or not tokens:
            tokens.insert(i, new)
        elif op == "replace":
            tokens[min(i, len(tokens) - 1)] = new
        else:
            del tokens[min(i, len(tokens) - 1)]
    return " ".join(tokens)


CANDIDATE_TEXT = st.one_of(
    st.sampled_from(REAL_LINES), mutated_line(), st.text(max_size=200), st.just("")
)


@st.composite
def sdp_text(draw: st.DrawFn) -> str | None:
    kind = draw(st.sampled_from(["none", "real", "mutated", "random"]))
    if kind == "none":
        return None
    if kind == "random":
        return draw(st.text(max_size=400))
    lines = draw(st.sampled_from(REAL_SDPS)).split("\r\n")
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(lines)))
            lines.insert(
                at,
                draw(
                    st.one_of(
                        CANDIDATE_TEXT.map(lambda s: "a=" + s),
                        st.text(max_size=60),
                        st.just("a=end-of-candidates"),
                    )
                ),
            )
    return "\r\n".join(lines)


@st.composite
def page_reports(draw: st.DrawFn) -> PageReport:
    return PageReport(
        webrtc=draw(st.sampled_from(list(WebRtcStatus))),
        candidates=tuple(
            ReportedCandidate(
                candidate=draw(CANDIDATE_TEXT),
                ms=draw(FLOATS),
                sdp_mid=draw(st.one_of(st.none(), st.text(max_size=4))),
                sdp_mline_index=draw(st.one_of(st.none(), st.integers(-5, 5))),
            )
            for _ in range(draw(st.integers(0, 8)))
        ),
        candidate_errors=tuple(
            CandidateErrorReport(url=draw(st.text(max_size=20)), ms=draw(FLOATS))
            for _ in range(draw(st.integers(0, 2)))
        ),
        sdp=draw(sdp_text()),
        user_agent=draw(st.text(max_size=40)),
        ua_hints=tuple(
            draw(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=3))
        ),
        error=draw(st.one_of(st.none(), st.text(max_size=80))),
        gathering_ms=draw(FLOATS),
        ended_by=draw(
            st.one_of(
                st.none(), st.sampled_from(["complete", "deadline", "error"]), st.text(max_size=8)
            )
        ),
        deadline_ms=draw(FLOATS),
    )


@st.composite
def observation_lists(draw: st.DrawFn) -> tuple[Observation, ...]:
    out: list[Observation] = []
    for _ in range(draw(st.integers(0, 6))):
        source = draw(st.sampled_from(list(ObservationSource)))
        out.append(
            Observation(
                source=source,
                kind=draw(st.sampled_from(list(StunKind))),
                ip=_ip(draw(st.sampled_from(ADDRESSES))),
                port=draw(PORTS),
                transport=draw(st.sampled_from(["udp", "tcp", "UDP", "sctp"])),
                at=BASE + draw(st.floats(-5, 5)),
                transaction_id="00",
                session_id=draw(st.sampled_from([None, SESSION, "another"])),
            )
        )
    return tuple(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    report=st.one_of(st.none(), page_reports()),
    observed=observation_lists(),
    http=st.sampled_from(ADDRESSES),
    report_http=st.one_of(st.none(), st.sampled_from(ADDRESSES)),
    reported_at=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_evaluate_and_document_never_raise(
    report: PageReport | None,
    observed: tuple[Observation, ...],
    http: str,
    report_http: str | None,
    reported_at: float | None,
) -> None:
    h = HttpSighting(peer_ip=_ip(http), client_ip=_ip(http), at=BASE)
    rh = None if report_http is None else HttpSighting(_ip(report_http), _ip(report_http), BASE)
    ev = SessionEvidence(
        session_id=SESSION,
        created_at=BASE,
        http=h,
        report=report,
        report_http=rh,
        reported_at=reported_at,
        observations=observed,
    )
    correlation, verdict = evaluate(ev)
    assert 0 <= verdict.score <= 100
    assert isinstance(verdict.level, Level)
    if all(s.weight == 0 for s in verdict.signals):
        assert verdict.level is Level.LOW
    doc: dict[str, Any] = session_document(ev, verdict, correlation)
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text)["verdict"]["score"] == verdict.score
