"""Evidence values for the store tests: every field set, in both address families."""

from __future__ import annotations

from icewatch.core.addr import IPAddress, parse_ip
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
from icewatch.core.verdict import Level, Signal, Verdict

SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2122260223 192.168.1.20 53000 typ host\r\n"
)


def ip(text: str) -> IPAddress:
    return parse_ip(text).ip


def http(at: float = 1000.0, client: str = "198.51.100.7") -> HttpSighting:
    return HttpSighting(
        peer_ip=ip("127.0.0.1"),
        client_ip=ip(client),
        at=at,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        forwarded_for=("198.51.100.7", "10.0.0.1"),
        host="icewatch.test:8080",
        headers=(("accept-language", "en-GB,en;q=0.9"), ("sec-ch-ua-platform", '"Linux"')),
    )


def report() -> PageReport:
    return PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(
            ReportedCandidate(
                "candidate:1 1 udp 2122260223 192.168.1.20 53000 typ host", 12.5, "0", 0, "abcd"
            ),
            ReportedCandidate(
                "candidate:2 1 udp 1686052607 203.0.113.9 61000 typ srflx "
                "raddr 192.168.1.20 rport 53000",
                48.0,
                "0",
                0,
                "abcd",
            ),
            ReportedCandidate("", 190.0, None, None, None),
        ),
        candidate_errors=(
            CandidateErrorReport(
                "turn:icewatch.test:3478?transport=tcp", "[::]", 0, 701, "x", 80.0
            ),
        ),
        sdp=SDP,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 — ünïcode",
        ua_hints=(("platform", "Linux"), ("mobile", "false")),
        error=None,
        gathering_ms=191.25,
        ended_by="complete",
        deadline_ms=1500.0,
        collector_version="1.0.0",
    )


def observations(session_id: str, at: float = 1000.5) -> tuple[Observation, ...]:
    return (
        Observation(
            source=ObservationSource.STUN,
            kind=StunKind.BINDING,
            ip=ip("203.0.113.9"),
            port=61000,
            transport="udp",
            at=at,
            transaction_id="00112233445566778899aabb",
            local_ip=ip("192.0.2.1"),
            local_port=3478,
        ),
        Observation(
            source=ObservationSource.TURN,
            kind=StunKind.ALLOCATE_AUTHENTICATED,
            ip=ip("2001:db8::9"),
            port=61001,
            transport="tcp",
            at=at + 0.01,
            transaction_id="ffeeddccbbaa998877665544",
            session_id=session_id,
            username=f"1700000000:{session_id}",
            software="Chromium",
            integrity="valid",
            local_ip=ip("2001:db8::1"),
            local_port=3478,
        ),
    )


def verdict() -> Verdict:
    return Verdict(
        score=70,
        level=Level.HIGH,
        signals=(
            Signal(
                "ip.webrtc_http_mismatch",
                60,
                "The browser's network address differs from the HTTP one.",
                {"observed": ["203.0.113.9"], "http": "198.51.100.7", "nested": {"n": [1, 2.5]}},
            ),
            Signal("net.local_ip_exposed", 0, "A local address is visible.", {}),
        ),
    )


def new_session(session_id: str, created_at: float = 1000.0) -> SessionEvidence:
    """A session as created (no report yet)."""
    return SessionEvidence(session_id=session_id, created_at=created_at, http=http(created_at))


def full_session(session_id: str, created_at: float = 1000.0) -> SessionEvidence:
    """A session with its report, report request and observations."""
    return SessionEvidence(
        session_id=session_id,
        created_at=created_at,
        http=http(created_at),
        report=report(),
        report_http=http(created_at + 1.5, client="2001:db8::7"),
        reported_at=created_at + 1.5,
        observations=observations(session_id, created_at + 0.5),
    )
