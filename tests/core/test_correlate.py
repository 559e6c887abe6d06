"""correlate: endpoints, Binding attribution, and the joined view of one session.

Built from the real browser captures (tests/data/captures/) and hand-made variations
of them: a page that rewrites, invents or hides candidates; lost packets; other
sessions' traffic in the pool.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from tests.core.scoring.capture_evidence import (
    BASE,
    CAPTURES,
    SESSION,
    evidence,
    load,
    observations,
    page_report,
    with_candidates,
)

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import (
    LATE_GRACE_S,
    Attribution,
    attribute_bindings,
    attribution_of,
    correlate,
    normalize_ip,
    reported_endpoints,
)
from icewatch.core.evidence import (
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.netclass import Category


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def obs(
    addr: str,
    port: int,
    at: float = BASE,
    *,
    session: str | None = None,
    source: ObservationSource = ObservationSource.STUN,
    kind: StunKind = StunKind.BINDING,
    transport: str = "udp",
) -> Observation:
    return Observation(
        source=source,
        kind=kind,
        ip=ip(addr),
        port=port,
        transport=transport,
        at=at,
        transaction_id="00" * 12,
        session_id=session,
    )


def turn(addr: str, port: int, at: float = BASE, session: str = SESSION) -> Observation:
    return obs(
        addr,
        port,
        at,
        session=session,
        source=ObservationSource.TURN,
        kind=StunKind.ALLOCATE_AUTHENTICATED,
    )


def bare_evidence(
    report: PageReport | None,
    observed: tuple[Observation, ...] = (),
    http_ip: str = "10.77.1.2",
    reported_at: float | None = BASE + 0.2,
) -> SessionEvidence:
    h = HttpSighting(peer_ip=ip(http_ip), client_ip=ip(http_ip), at=BASE)
    return SessionEvidence(
        session_id=SESSION,
        created_at=BASE,
        http=h,
        report=report,
        report_http=None if report is None else h,
        reported_at=reported_at if report is not None else None,
        observations=observed,
    )


SRFLX = "candidate:1 1 udp 1677729535 {addr} {port} typ srflx raddr 0.0.0.0 rport 0 generation 0"
HOST_MDNS = (
    "candidate:2 1 udp 2113937151 ef79e8da-b0a1-438c-af0c-7cb2dc123d3c.local {port} typ host "
    "generation 0"
)


# --- reported_endpoints -------------------------------------------------------------------


def test_reported_endpoints_of_chromium_default_are_the_srflx_pairs() -> None:
    report = page_report(load("chromium-156-default"))
    assert reported_endpoints(report) == {(ip("10.77.1.2"), 54066), (ip("fd77:1::2"), 46215)}


def test_reported_endpoints_include_raw_host_candidates() -> None:
    # Firefox with obfuscation off reports no srflx: the host endpoints stand in for it.
    report = page_report(load("firefox-153-noobfuscate"))
    assert reported_endpoints(report) == {
        (ip("10.77.1.2"), 56286),
        (ip("fd77:1::2"), 40395),
        (ip("10.77.1.2"), 9),
        (ip("fd77:1::2"), 9),
    }


def test_reported_endpoints_skip_malformed_mdns_relay_and_unmap_v4() -> None:
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(
            ReportedCandidate("candidate:garbage"),
            ReportedCandidate(HOST_MDNS.format(port=5000)),
            ReportedCandidate(""),
            ReportedCandidate(SRFLX.format(addr="::ffff:192.0.2.7", port=4000)),
            ReportedCandidate(
                "candidate:3 1 udp 33562623 198.51.100.9 6000 typ relay raddr 0.0.0.0 rport 0"
            ),
        ),
    )
    assert reported_endpoints(report) == {(ip("192.0.2.7"), 4000)}


# --- attribute_bindings --------------------------------------------------------------------


def test_attribute_bindings_rules() -> None:
    t0 = BASE
    pool = [
        obs("10.0.0.9", 1111, t0 + 0.05),  # matches a reported endpoint
        turn("10.0.0.1", 2222, t0 + 0.03),  # the session's own TURN
        obs("10.0.0.1", 2222, t0 + 0.01),  # Binding from the TURN source
        obs("10.0.0.7", 3333, t0 + 0.02),  # unrelated visitor
        turn("10.0.0.8", 4444, t0 + 0.02, session="someoneElse"),
        obs("10.0.0.8", 4444, t0 + 0.02),  # from the other session's TURN source
        obs("10.0.0.9", 1111, t0 + 5.0),  # endpoint matches, but after the window
        obs("10.0.0.9", 1111, t0 - 1.0, session="someoneElse"),  # other session
    ]
    got = attribute_bindings(SESSION, pool, [(ip("10.0.0.9"), 1111)], t0, t0 + 1.0)
    assert [(str(o.ip), o.port, o.session_id) for o in got] == [
        ("10.0.0.1", 2222, None),
        ("10.0.0.1", 2222, SESSION),
        ("10.0.0.9", 1111, None),
    ]
    # Oldest first, and the input is not modified.
    assert [o.at for o in got] == sorted(o.at for o in got)


def test_attribute_bindings_turn_source_outside_window_does_not_count() -> None:
    pool = [turn("10.0.0.1", 2222, BASE - 10), obs("10.0.0.1", 2222, BASE + 0.1)]
    assert attribute_bindings(SESSION, pool, (), BASE, BASE + 1) == ()


def test_attribute_bindings_matches_v4_mapped_endpoints() -> None:
    pool = [obs("192.0.2.7", 4000)]
    got = attribute_bindings(SESSION, pool, [(ip("::ffff:192.0.2.7"), 4000)], BASE, BASE + 1)
    assert len(got) == 1


def test_attribution_of() -> None:
    credentialed = {(ip("10.0.0.1"), 2222)}
    assert attribution_of(turn("10.0.0.1", 2222), credentialed) is Attribution.CREDENTIAL
    assert attribution_of(obs("10.0.0.1", 2222), credentialed) is Attribution.TURN_SOURCE
    assert attribution_of(obs("10.0.0.9", 2222), credentialed) is Attribution.CANDIDATE


# --- correlate on the captures ---------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_captures_correlate_cleanly(path: object) -> None:
    doc = load(str(path))
    c = correlate(evidence(doc))
    public_v4 = ip(doc["network"]["client_public_v4"])
    assert c.webrtc is WebRtcStatus.OK
    assert c.malformed == ()
    assert c.sdp is not None
    assert c.sdp_error is None
    assert c.findings == ()
    assert c.udp_observed
    assert c.ignored_observations == 0
    # Both families reached the server; IPv4 over STUN and TURN.
    v4 = c.observed_in_family(4)
    assert [s.ip for s in v4] == [public_v4]
    assert v4[0].where == ("stun", "turn")
    assert v4[0].transports == ("udp",)
    assert len(c.observed_in_family(6)) == 1
    assert [o.session_id for o in c.turn_observations] == [None, SESSION]
    assert c.http_ips == (public_v4,)
    # Every srflx the page reported was seen by the server.
    srflx = [e for e in c.candidates if e.candidate.type.value == "srflx"]
    assert list(c.matched) == srflx
    # Firefox sends the empty end-of-candidates string and a=end-of-candidates.
    assert c.end_of_candidates is (doc["browser"] == "firefox")


def test_chromium_default_hides_hosts_behind_mdns() -> None:
    c = correlate(evidence("chromium-156-default"))
    assert c.mdns_names == (
        "ef79e8da-b0a1-438c-af0c-7cb2dc123d3c.local",
        "8e04a655-84ca-4a01-b4ca-966421b3578b.local",
    )
    assert c.reported_local == ()  # raddr 0.0.0.0 / :: is no address
    assert [str(s.ip) for s in c.reported_public] == ["10.77.1.2", "fd77:1::2"]
    assert c.reported_public[0].where == ("srflx",)
    assert c.reported_public[0].category is Category.PRIVATE
    assert c.reported_public[1].category is Category.UNIQUE_LOCAL
    assert len(c.sdp_candidates) == 4


def test_nomdns_lists_local_addresses_with_roles() -> None:
    c = correlate(evidence("chromium-156-nomdns"))
    assert c.mdns_names == ()
    local = {str(s.ip): s.where for s in c.reported_local}
    assert local == {"10.77.1.2": ("host", "raddr"), "fd77:1::2": ("host", "raddr")}


def test_firefox_noobfuscate_missing_srflx_is_not_hidden() -> None:
    c = correlate(evidence("firefox-153-noobfuscate"))
    assert [e for e in c.candidates if e.candidate.type.value == "srflx"] == []
    assert c.findings == ()
    assert c.matched == ()


# --- disagreements ---------------------------------------------------------------------------


def test_rewritten_srflx_address_is_unseen_and_rewritten() -> None:
    doc = load("chromium-156-default")
    lines = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
    lines[0] = lines[0].replace(" 10.77.1.2 54066 ", " 198.51.100.7 54066 ")
    c = correlate(evidence(doc, report=with_candidates(doc, lines)))
    kinds = sorted(f.kind for f in c.findings)
    assert kinds == ["rewritten", "unseen"]
    rewritten = next(f for f in c.findings if f.kind == "rewritten")
    assert rewritten.observation is not None
    assert str(rewritten.observation.ip) == "10.77.1.2"
    assert rewritten.reported is not None
    assert str(rewritten.reported.ip) == "198.51.100.7"


def test_invented_srflx_is_unseen() -> None:
    doc = load("firefox-153-default")
    lines = [c["candidate"] for c in doc["candidates"] if "candidate" in c]
    lines.insert(0, SRFLX.format(addr="203.0.113.50", port=40000))
    c = correlate(evidence(doc, report=with_candidates(doc, lines)))
    assert [f.kind for f in c.findings] == ["unseen"]
    assert c.findings[0].reported is not None
    assert str(c.findings[0].reported.ip) == "203.0.113.50"


def test_srflx_claimed_while_the_server_saw_nothing_is_unseen() -> None:
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(ReportedCandidate(SRFLX.format(addr="10.1.1.1", port=5)),),
    )
    c = correlate(bare_evidence(report))
    assert [f.kind for f in c.findings] == ["unseen"]
    assert not c.udp_observed


def test_hidden_srflx_is_found_through_the_turn_source() -> None:
    # A page that drops its srflx candidates: the Binding is still attributed through
    # the session's TURN request from the same socket.
    doc = load("chromium-156-nat")
    lines = [
        c["candidate"]
        for c in doc["candidates"]
        if c.get("candidate") and " typ srflx " not in c["candidate"]
    ]
    report = with_candidates(doc, lines, sdp_line=lambda x: None if " srflx " in x else x)
    c = correlate(evidence(doc, report=report))
    assert [f.kind for f in c.findings] == ["hidden"]
    found = c.findings[0].observation
    assert found is not None
    assert (str(found.ip), found.port, found.kind) == ("10.77.1.254", 37880, StunKind.BINDING)


@pytest.mark.parametrize(
    "report",
    [
        PageReport(webrtc=WebRtcStatus.OK, ended_by="deadline"),
        PageReport(webrtc=WebRtcStatus.OK, ended_by="error"),
        PageReport(webrtc=WebRtcStatus.ERROR, error="InvalidStateError"),
    ],
    ids=["deadline", "ended-by-error", "webrtc-error"],
)
def test_hidden_is_forgiven_for_late_packets_when_the_page_stopped_early(
    report: PageReport,
) -> None:
    reported_at = BASE + 2.0
    late = reported_at - LATE_GRACE_S / 2
    early = reported_at - LATE_GRACE_S * 1.5
    for at, expected in ((late, []), (early, ["hidden"])):
        pool = (obs("10.0.0.1", 2222, at), turn("10.0.0.1", 2222, at))
        c = correlate(bare_evidence(report, pool, reported_at=reported_at))
        assert [f.kind for f in c.findings] == expected
    # A page that reported on time gets no grace.
    complete = replace(report, webrtc=WebRtcStatus.OK, ended_by="complete")
    pool = (obs("10.0.0.1", 2222, late), turn("10.0.0.1", 2222, late))
    ev = bare_evidence(complete, pool, reported_at=reported_at)
    assert [f.kind for f in correlate(ev).findings] == ["hidden"]


def test_turn_only_traffic_is_not_hidden() -> None:
    # Relay-only modes send TURN without reporting any srflx: nothing to hide.
    report = PageReport(webrtc=WebRtcStatus.OK)
    c = correlate(bare_evidence(report, (turn("10.0.0.1", 2222),)))
    assert c.findings == ()


def test_tcp_sources_never_count_as_endpoints() -> None:
    report = PageReport(webrtc=WebRtcStatus.OK)
    pool = (
        obs("10.77.1.3", 41000, transport="tcp"),
        replace(turn("10.77.1.3", 41000), transport="tcp"),
    )
    c = correlate(bare_evidence(report, pool, http_ip="10.77.1.3"))
    assert c.findings == ()
    assert not c.udp_observed
    assert [s.transports for s in c.observed] == [("tcp",)]


def test_missing_webrtc_with_session_traffic_is_denied() -> None:
    report = PageReport(webrtc=WebRtcStatus.MISSING)
    c = correlate(bare_evidence(report, (turn("10.0.0.1", 2222),)))
    assert [f.kind for f in c.findings] == ["denied"]


def test_mdns_host_hiding_is_not_a_disagreement() -> None:
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(
            ReportedCandidate(HOST_MDNS.format(port=2222)),
            ReportedCandidate(SRFLX.format(addr="10.0.0.1", port=2222)),
        ),
    )
    pool = (obs("10.0.0.1", 2222), turn("10.0.0.1", 2222))
    assert correlate(bare_evidence(report, pool)).findings == ()


# --- malformed input, SDP, HTTP ---------------------------------------------------------------


def test_malformed_lines_from_report_and_sdp_are_kept() -> None:
    sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=candidate:1 1 udp x\r\n"
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(
            ReportedCandidate("candidate:1 1 udp 1 10.0.0.1 99999 typ host", ms=3.5),
            ReportedCandidate("x" * 5000),
        ),
        sdp=sdp,
    )
    c = correlate(bare_evidence(report))
    assert [(m.where, m.field) for m in c.malformed] == [
        ("report", "port"),
        ("report", "line"),
        ("sdp", "connection-address"),
    ]
    assert c.malformed[0].ms == 3.5
    assert len(c.malformed[1].raw) == 512
    assert c.malformed[2].sdp_line == 3
    assert c.any_candidate


def test_unparseable_sdp_is_recorded_not_raised() -> None:
    c = correlate(bare_evidence(PageReport(webrtc=WebRtcStatus.OK, sdp="hello")))
    assert c.sdp is None
    assert c.sdp_error is not None
    assert c.sdp_error[0] == "v"


def test_foreign_observations_are_ignored_and_v4_mapped_http_normalized() -> None:
    ev = bare_evidence(
        PageReport(webrtc=WebRtcStatus.OK),
        (turn("10.0.0.1", 2222), turn("10.0.0.5", 1, session="other")),
        http_ip="::ffff:10.0.0.1",
    )
    c = correlate(ev)
    assert c.ignored_observations == 1
    assert c.http_ips == (ip("10.0.0.1"),)
    assert [str(s.ip) for s in c.observed] == ["10.0.0.1"]


def test_report_request_address_is_kept_beside_the_creating_one() -> None:
    ev = bare_evidence(PageReport(webrtc=WebRtcStatus.OK))
    other = HttpSighting(peer_ip=ip("2001:db8::5"), client_ip=ip("2001:db8::5"), at=BASE + 1)
    c = correlate(replace(ev, report_http=other))
    assert c.http_ips == (ip("10.77.1.2"), ip("2001:db8::5"))
    assert c.http_in_family(6) == (ip("2001:db8::5"),)


def test_no_report_yet() -> None:
    c = correlate(bare_evidence(None, (turn("10.0.0.1", 2222),)))
    assert c.webrtc is None
    assert c.report is None
    assert c.candidates == ()
    assert c.findings == ()
    assert c.udp_observed


def test_normalize_ip() -> None:
    assert normalize_ip(ip("::ffff:1.2.3.4")) == ip("1.2.3.4")
    assert normalize_ip(ip("2001:db8::1")) == ip("2001:db8::1")


def test_observation_pool_of_a_capture_holds_every_request() -> None:
    doc = load("chromium-156-default")
    pool = observations(doc)
    assert [(o.source.value, o.kind.value) for o in pool] == [
        ("stun", "binding"),
        ("stun", "binding"),
        ("turn", "allocate"),
        ("turn", "allocate-authenticated"),
    ]
    assert pool[-1].username == doc["turn"]["username"]


def test_reported_endpoints_include_the_sdp_candidates() -> None:
    doc = load("chromium-156-default")
    events_only = with_candidates(doc, [])
    assert reported_endpoints(events_only) == {
        (ip("10.77.1.2"), 54066),
        (ip("fd77:1::2"), 46215),
    }
    assert reported_endpoints(replace(events_only, sdp="garbage")) == frozenset()


def test_sdp_rewritten_while_events_are_intact() -> None:
    doc = load("chromium-156-nat")
    lines = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
    report = with_candidates(
        doc, lines, sdp_line=lambda x: x.replace(" 10.77.1.254 ", " 198.51.100.8 ")
    )
    c = correlate(evidence(doc, report=report))
    assert [(f.kind, f.where) for f in c.findings] == [("unseen", "sdp"), ("rewritten", "sdp")]


def test_srflx_missing_from_events_but_in_the_sdp_is_not_hidden() -> None:
    # A page that stopped reading events early still carries the SDP's copies.
    doc = load("firefox-153-nat")
    lines = [c.get("candidate", "") for c in doc["candidates"]]
    report = with_candidates(doc, [x for x in lines if x and " srflx " not in x])
    c = correlate(evidence(doc, report=report))
    assert c.findings == ()
    assert len(c.observed) == 2  # the IPv6 Binding is attributed through the SDP's srflx
