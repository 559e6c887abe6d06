"""Spoof and tamper forensics: every finding kind, firing and not, on real captures.

The no-false-positive base is every capture in tests/data/captures: what real Chromium
156 and Firefox 153 reported (events, SDP, getStats() local candidates) together with
the packets the server received. Each kind is then provoked by editing one thing, the
way a wrapper script would.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from typing import Any

import pytest
from tests.core.scoring.capture_evidence import BASE, CAPTURES, SESSION, evidence, load

from icewatch.core.correlate import Correlation, correlate
from icewatch.core.errors import ParseError
from icewatch.core.evidence import (
    HttpSighting,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StatsCandidate,
    StunKind,
    TamperCheck,
    TamperReport,
    WebRtcStatus,
    page_report_from_dict,
    session_evidence_from_dict,
)
from icewatch.core.forensics import (
    PREMATURE_TOLERANCE_S,
    candidate_plausibility,
    claimed_browser,
    implausible_candidates,
    spoof_discrepancies,
    stats_discrepancies,
)
from icewatch.core.ice import parse_candidate
from icewatch.core.scoring import (
    RULES_BY_CODE,
    SignalCode,
    candidate_malformed,
    candidate_spoofed,
    webrtc_api_tampered,
    webrtc_unavailable,
)
from icewatch.core.scoring.rule import Finding
from icewatch.core.scoring.rules_forensics import check_sentence

# --- building evidence from a capture ---------------------------------------------------


def stats_of(doc: dict[str, Any]) -> tuple[StatsCandidate, ...]:
    return tuple(
        StatsCandidate(
            address=s.get("address"),
            port=s.get("port"),
            type=s.get("candidateType"),
            protocol=s.get("protocol"),
        )
        for s in doc["stats_local_candidates"]
    )


def faithful(
    name: str | dict[str, Any],
    *,
    report: PageReport | None = None,
    created_at: float = BASE,
    stats: tuple[StatsCandidate, ...] | None = None,
) -> SessionEvidence:
    """A capture as collector 2 would report it, with the most adverse time base: the
    collector started exactly when the session was created, and the peer connection at
    once (so an event's ``ms`` is the smallest a real collector could report)."""
    doc = load(name) if isinstance(name, str) else name
    ev = evidence(doc, report=report)
    assert ev.report is not None
    tamper = TamperReport(checks=31, stats=stats_of(doc) if stats is None else stats, ms=3.0)
    page = replace(ev.report, collector_version="2", tamper=tamper)
    return replace(ev, report=page, created_at=created_at)


def edited(
    doc: dict[str, Any],
    edit: Any,
    *,
    events: bool = True,
    sdp: bool = True,
    **changes: Any,
) -> PageReport:
    """The capture's report with ``edit(line) -> line`` applied to the candidate strings
    of the events and/or the SDP's lines."""
    base = faithful(doc).report
    assert base is not None
    candidates = tuple(
        replace(c, candidate=edit(c.candidate)) if events and c.candidate else c
        for c in base.candidates
    )
    text = base.sdp or ""
    if sdp:
        text = "\r\n".join(edit(line) for line in text.split("\r\n"))
    return replace(base, candidates=candidates, sdp=text, **changes)


def kinds(items: Any) -> list[str]:
    return [d.kind for d in items]


def json_ok(f: Finding | None) -> Finding:
    assert f is not None
    json.dumps(dict(f.evidence), allow_nan=False)
    assert f.summary.endswith((".", ".)"))
    assert "\n" not in f.summary
    return f


PARAMS = pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)


# --- the no-false-positive base: every real capture -------------------------------------


@PARAMS
def test_real_captures_have_no_spoof_discrepancy(path: Any) -> None:
    c = correlate(faithful(str(path)))
    assert spoof_discrepancies(c) == ()
    assert candidate_spoofed(c) is None


@PARAMS
def test_real_captures_have_no_implausible_line(path: Any) -> None:
    c = correlate(faithful(str(path)))
    assert implausible_candidates(c) == ()
    assert candidate_malformed(c) is None
    doc = load(str(path))
    lines = [x["candidate"] for x in doc["candidates"] if x.get("candidate")]
    lines += [x[2:] for x in doc["sdp"].split("\r\n") if x.startswith("a=candidate:")]
    assert lines
    for line in lines:
        assert candidate_plausibility(parse_candidate(line)) == [], line


@PARAMS
def test_real_captures_get_stats_agrees_with_the_events(path: Any) -> None:
    c = correlate(faithful(str(path)))
    assert stats_discrepancies(c) == ()
    assert webrtc_api_tampered(c) is None


@PARAMS
def test_real_captures_behind_a_proxy_still_have_no_forensic_finding(path: Any) -> None:
    ev = faithful(str(path))
    http = HttpSighting(
        peer_ip=ipaddress.ip_address("10.77.1.3"),
        client_ip=ipaddress.ip_address("10.77.1.3"),
        at=ev.created_at,
    )
    c = correlate(replace(ev, http=http, report_http=http))
    assert candidate_spoofed(c) is None
    assert candidate_malformed(c) is None
    assert webrtc_api_tampered(c) is None


# --- candidate.spoofed: rewritten_port ---------------------------------------------------


def test_rewritten_port_names_the_ports_the_server_saw() -> None:
    doc = load("chromium-156-default")
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 54066 ", " 10.77.1.2 54999 "))
    c = correlate(faithful(doc, report=report))
    found = [d for d in spoof_discrepancies(c) if d.kind == "rewritten_port"]
    assert len(found) == 1
    d = found[0]
    assert (d.where, d.field, d.seen) == ("report", "port", "54999")
    assert "54066" in d.expected
    assert d.observation is not None
    assert d.observation.port == 54066
    f = json_ok(candidate_spoofed(c))
    got = [x["kind"] for x in f.evidence["findings"]]
    assert got[:2] == ["rewritten_port", "unseen"]
    # The real endpoint is explained by the rewritten port, not reported as hidden.
    assert "hidden" not in got
    assert "port 54999" in f.summary
    assert "54066" in f.summary


def test_rewritten_port_needs_the_address_to_have_been_seen() -> None:
    doc = load("chromium-156-default")
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 54066 ", " 10.77.1.9 54999 "))
    c = correlate(faithful(doc, report=report))
    assert "rewritten_port" not in kinds(spoof_discrepancies(c))
    assert "unseen" in [f.kind for f in c.findings]


# --- candidate.spoofed: premature ---------------------------------------------------------


def _with_srflx_ms(doc: dict[str, Any], ms: float) -> PageReport:
    base = faithful(doc).report
    assert base is not None
    return replace(
        base,
        candidates=tuple(
            replace(c, ms=ms) if " typ srflx " in c.candidate else c for c in base.candidates
        ),
    )


def test_premature_srflx_before_its_binding_arrived() -> None:
    doc = load("chromium-156-default")
    # The session was created 500 ms before the peer connection; a srflx 5 ms after the
    # collector started cannot answer a Binding that arrived ~530 ms after that.
    ev = faithful(doc, report=_with_srflx_ms(doc, 5.0), created_at=BASE - 0.5)
    found = [d for d in spoof_discrepancies(correlate(ev)) if d.kind == "premature"]
    assert len(found) == 2  # IPv4 and IPv6
    d = found[0]
    assert d.field == "ms"
    assert d.ms == 5.0
    assert d.observation is not None
    assert d.observation.kind is StunKind.BINDING
    assert "too early" in d.seen
    f = json_ok(candidate_spoofed(correlate(ev)))
    assert f.evidence["findings"][0]["kind"] == "premature"
    assert "before the server had even received" in f.summary


def test_premature_tolerance_boundary() -> None:
    doc = load("chromium-156-default")
    binding = min(
        o.at for o in faithful(doc).observations if o.kind is StunKind.BINDING and o.port == 54066
    )
    for margin, fires in (
        (PREMATURE_TOLERANCE_S - 0.01, False),
        (PREMATURE_TOLERANCE_S + 0.01, True),
    ):
        created = BASE - 1.0
        ms = (binding - margin - created) * 1000.0
        report = _with_srflx_ms(doc, ms)
        ev = faithful(
            doc, report=replace(report, candidates=report.candidates[:1]), created_at=created
        )
        got = [d for d in spoof_discrepancies(correlate(ev)) if d.kind == "premature"]
        assert bool(got) is fires, (margin, got)


def test_premature_is_not_judged_for_other_time_bases() -> None:
    doc = load("chromium-156-default")
    ev = faithful(doc, report=_with_srflx_ms(doc, 5.0), created_at=BASE - 0.5)
    assert ev.report is not None
    for version in ("", "capture", "3"):
        other = replace(ev, report=replace(ev.report, collector_version=version))
        assert "premature" not in kinds(spoof_discrepancies(correlate(other)))


def test_real_srflx_after_its_binding_is_not_premature() -> None:
    for name in ("chromium-156-nat", "firefox-153-default", "firefox-153-nat"):
        c = correlate(faithful(name))
        assert "premature" not in kinds(spoof_discrepancies(c)), name


# --- candidate.spoofed: the SDP body against the candidates --------------------------------


def test_sdp_connection_line_names_an_address_no_candidate_has() -> None:
    doc = load("chromium-156-nomdns")  # c=IN IP4 10.77.1.2, m= port 43579 (the host)
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 ", " 10.77.1.3 "))
    c = correlate(faithful(doc, report=report))
    found = [d for d in spoof_discrepancies(c) if d.kind == "sdp_connection"]
    assert len(found) == 1
    d = found[0]
    assert (d.field, d.seen, d.line) == ("c=", "10.77.1.2:43579", "c=IN IP4 10.77.1.2")
    assert d.sdp_line == 9
    f = json_ok(candidate_spoofed(c))
    assert "c=" in f.summary or "rewritten" in f.summary


def test_sdp_connection_port_must_be_a_candidates_port() -> None:
    doc = load("firefox-153-default")  # m=application 39961, c=IN IP4 10.77.1.2
    report = edited(
        doc, lambda x: x.replace("m=application 39961 ", "m=application 40000 "), events=False
    )
    c = correlate(faithful(doc, report=report))
    found = [d for d in spoof_discrepancies(c) if d.kind == "sdp_connection"]
    assert [(d.field, d.seen) for d in found] == [("m= port", "10.77.1.2:40000")]


def test_unspecified_connection_and_rtcp_are_fine() -> None:
    doc = load("chromium-156-default")  # c=IN IP4 0.0.0.0
    report = edited(
        doc,
        lambda x: x + "\r\na=rtcp:9 IN IP4 0.0.0.0" if x.startswith("c=") else x,
        events=False,
    )
    assert spoof_discrepancies(correlate(faithful(doc, report=report))) == ()


def test_sdp_rtcp_names_an_address_no_candidate_has() -> None:
    doc = load("chromium-156-default")
    report = edited(
        doc,
        lambda x: x + "\r\na=rtcp:9 IN IP4 192.0.2.9" if x.startswith("c=") else x,
        events=False,
    )
    found = spoof_discrepancies(correlate(faithful(doc, report=report)))
    assert [(d.kind, d.field, d.seen, d.sdp_line) for d in found] == [
        ("sdp_rtcp", "a=rtcp", "192.0.2.9", 10)
    ]


def test_raddr_names_a_base_no_host_has() -> None:
    doc = load("chromium-156-nomdns")  # srflx raddr 10.77.1.2 rport 43579 = the host
    report = edited(doc, lambda x: x.replace("raddr 10.77.1.2 rport", "raddr 10.77.1.99 rport"))
    c = correlate(faithful(doc, report=report))
    found = [d for d in spoof_discrepancies(c) if d.kind == "raddr"]
    assert len(found) == 1  # the event and its SDP copy are one candidate
    assert found[0].seen == "raddr 10.77.1.99 rport 43579"
    assert found[0].where == "report"


def test_raddr_is_not_judged_without_raw_hosts_or_complete_gathering() -> None:
    doc = load("chromium-156-nomdns")
    # Hosts dropped (a "no host" configuration): the base cannot be checked.
    report = edited(doc, lambda x: x.replace("raddr 10.77.1.2 rport", "raddr 10.77.1.99 rport"))
    no_hosts = replace(
        report,
        candidates=tuple(c for c in report.candidates if " typ host" not in c.candidate),
        sdp="\r\n".join(x for x in (report.sdp or "").split("\r\n") if " typ host" not in x),
    )
    c = correlate(faithful(doc, report=no_hosts))
    assert "raddr" not in kinds(spoof_discrepancies(c))
    stopped = replace(report, ended_by="deadline")
    assert "raddr" not in kinds(spoof_discrepancies(correlate(faithful(doc, report=stopped))))


def test_events_and_sdp_must_hold_the_same_candidates() -> None:
    doc = load("firefox-153-default")
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 39961 ", " 10.77.1.2 39962 "), sdp=False)
    c = correlate(faithful(doc, report=report))
    got = [(d.kind, d.where) for d in spoof_discrepancies(c) if d.kind.startswith("not_in")]
    assert got == [("not_in_sdp", "report"), ("not_in_events", "sdp")]
    d = next(d for d in spoof_discrepancies(c) if d.kind == "not_in_events")
    assert d.sdp_line is not None
    assert "39961" in (d.line or "")
    # A page that stopped at its deadline read the SDP later than its last event: an
    # SDP candidate without an event is possible then, an event without SDP copy is not.
    stopped = replace(report, ended_by="deadline")
    later = kinds(spoof_discrepancies(correlate(faithful(doc, report=stopped))))
    assert "not_in_sdp" in later
    assert "not_in_events" not in later


def test_chromium_sdp_lines_without_ufrag_match_their_events() -> None:
    doc = load("chromium-156-default")
    events = [x["candidate"] for x in doc["candidates"] if x.get("candidate")]
    assert all(" ufrag " in e for e in events)
    assert " ufrag " not in doc["sdp"].split("a=ice-ufrag")[0]
    assert not [
        d for d in spoof_discrepancies(correlate(faithful(doc))) if d.kind.startswith("not_in")
    ]


def test_cut_or_unparsed_sdp_is_not_compared() -> None:
    doc = load("firefox-153-default")
    report = edited(doc, lambda x: x.replace(" 39961 typ", " 39962 typ"), sdp=False)
    cut = replace(report, sdp="not an sdp")
    assert not [
        d
        for d in spoof_discrepancies(correlate(faithful(doc, report=cut)))
        if d.kind.startswith("not_in")
    ]


def test_ufrag_must_be_the_sdps() -> None:
    doc = load("chromium-156-default")
    report = edited(doc, lambda x: x.replace(" ufrag ydtL ", " ufrag AAAA "), sdp=False)
    found = list(spoof_discrepancies(correlate(faithful(doc, report=report))))
    assert {(d.kind, d.field, d.seen) for d in found} == {("ufrag", "ufrag", "AAAA")}
    assert "ydtL" in found[0].expected
    base = faithful(doc).report
    assert base is not None
    other = replace(
        base,
        candidates=tuple(replace(c, username_fragment="zzzz") for c in base.candidates),
    )
    found = list(spoof_discrepancies(correlate(faithful(doc, report=other))))
    assert {(d.kind, d.field) for d in found} == {("ufrag", "usernameFragment")}


def test_spoofed_evidence_for_new_kinds_is_json_and_bounded() -> None:
    doc = load("chromium-156-nomdns")
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 ", " 10.77.1.3 "))
    f = json_ok(candidate_spoofed(correlate(faithful(doc, report=report))))
    for item in f.evidence["findings"]:
        assert item["kind"]
        if item["kind"] not in ("unseen", "rewritten", "hidden", "denied"):
            assert {"field", "expected", "seen", "line", "sdp_line"} <= set(item)


# --- candidate.malformed: plausibility ---------------------------------------------------------


def plaus(line: str) -> list[tuple[str, str]]:
    return [(k, f) for k, f, _, _ in candidate_plausibility(parse_candidate(line))]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # srflx type preference (100) on a host line
        ("candidate:1 1 udp 1677729535 203.0.113.7 5000 typ host",
         [("type_preference", "priority")]),
        # host (126) on a srflx line
        (
            "candidate:1 1 udp 2113937151 203.0.113.7 5000 typ srflx raddr 0.0.0.0 rport 0",
            [("type_preference", "priority")],
        ),
        # RFC 8445's textbook host priority (aioice): local preference 65535
        ("candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host",
         [("local_preference", "priority")]),
        # libwebrtc IPv4 address precedence (30) on a global IPv6 address
        ("candidate:1 1 udp 2113937151 2001:db8::1 5000 typ host",
         [("local_preference", "priority")]),
        # the component byte says component 2
        ("candidate:1 1 udp 2113937150 192.0.2.1 5000 typ host", [("component", "priority")]),
        ("candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host raddr 0.0.0.0 rport 0",
         [("related_address", "raddr")]),
        ("candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx", [("related_address", "raddr")]),
        ("candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx raddr 0.0.0.0",
         [("related_address", "raddr")]),
        ("candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx raddr 0.0.0.0 rport 5000",
         [("related_address", "rport")]),
        ("candidate:1 1 udp 1677729535 203.0.113.7 5000 typ srflx raddr 192.168.1.2 rport 0",
         [("related_address", "rport")]),
    ],
)  # fmt: skip
def test_implausible_lines(line: str, expected: list[tuple[str, str]]) -> None:
    assert plaus(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        # Firefox's IPv6 srflx carries raddr 0.0.0.0 (tests/data/captures)
        "candidate:4 1 UDP 1686052607 fd77:1::2 56199 typ srflx raddr 0.0.0.0 rport 0",
        # NAT64: an IPv4 srflx from an IPv6 base, zeroed or not
        "candidate:1 1 udp 1677729535 198.51.100.7 5000 typ srflx raddr :: rport 0",
        "candidate:1 1 udp 1677729535 198.51.100.7 5000 typ srflx raddr 2001:db8::5 rport 5000",
        # libwebrtc: global IPv6 (40), ULA (50), relay over UDP from the first TURN server
        "candidate:1 1 udp 2113939711 2001:db8::1 5000 typ host generation 0",
        "candidate:1 1 udp 2113942271 fd77:1::2 5000 typ host generation 0",
        "candidate:1 1 udp 41885439 203.0.113.9 5000 typ relay raddr 203.0.113.7 rport 5000",
        # libwebrtc TCP host (90), a second network interface (nic preference 0x7e)
        "candidate:1 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
        "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host generation 0",
        # Firefox: srflx from the second STUN server, TCP active host, relay
        "candidate:2 1 UDP 1686052351 203.0.113.7 5000 typ srflx raddr 0.0.0.0 rport 0",
        "candidate:5 1 TCP 2105458943 192.0.2.1 9 typ host tcptype active",
        "candidate:7 1 UDP 92217343 203.0.113.9 5000 typ relay raddr 203.0.113.7 rport 5000",
        # RTCP component 2
        "candidate:1 2 udp 2113937150 192.0.2.1 5001 typ host",
    ],
)
def test_plausible_lines_of_real_engines(line: str) -> None:
    assert plaus(line) == []


def test_every_plausibility_finding_says_what_was_expected_and_seen() -> None:
    line = "candidate:1 1 udp 1677729535 203.0.113.7 5000 typ host"
    ((_kind, _field, expected, seen),) = candidate_plausibility(parse_candidate(line))
    assert "126" in expected
    assert "host" in expected
    assert seen.startswith("100 ")


def _hand(*lines: str, sdp: str | None = None, ended_by: str = "complete") -> Correlation:
    h = HttpSighting(
        peer_ip=ipaddress.ip_address("203.0.113.10"),
        client_ip=ipaddress.ip_address("203.0.113.10"),
        at=BASE,
    )
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=tuple(ReportedCandidate(x, ms=float(i)) for i, x in enumerate(lines)),
        sdp=sdp,
        ended_by=ended_by,
        collector_version="2",
    )
    return correlate(
        SessionEvidence(
            session_id=SESSION, created_at=BASE, http=h, report=report, reported_at=BASE + 0.5
        )
    )


def test_duplicate_foundation_for_different_host_bases() -> None:
    c = _hand(
        "candidate:7 1 udp 2113937151 192.168.1.2 5000 typ host",
        "candidate:7 1 udp 2113937151 192.168.1.3 5002 typ host",
    )
    found = implausible_candidates(c)
    assert kinds(found) == ["foundation"]
    assert "192.168.1.2" in found[0].expected
    assert "192.168.1.3" in found[0].seen
    c = _hand(
        "candidate:7 1 udp 2113937151 192.168.1.2 5000 typ host",
        "candidate:7 1 tcp 1518280447 192.168.1.2 9 typ host tcptype active",
    )
    assert kinds(implausible_candidates(c)) == ["foundation"]


def test_shared_foundation_where_engines_share_it() -> None:
    # One base, two STUN servers: two srflx of one foundation; RTCP on component 2.
    c = _hand(
        "candidate:7 1 udp 1677729535 203.0.113.7 5000 typ srflx raddr 0.0.0.0 rport 0",
        "candidate:7 1 udp 1677729535 203.0.113.8 5000 typ srflx raddr 0.0.0.0 rport 0",
        "candidate:8 1 udp 2113937151 192.168.1.2 5000 typ host",
        "candidate:8 2 udp 2113937150 192.168.1.2 5001 typ host",
    )
    assert implausible_candidates(c) == ()


def test_malformed_reports_kinds_lines_and_fields() -> None:
    bad = "candidate:1 1 udp 1677729535 203.0.113.7 5000 typ host"
    c = _hand(bad, "candidate:2 1 udp 1677729535 203.0.113.7 5000 typ srflx raddr 0.0.0.0 rport 0")
    f = json_ok(candidate_malformed(c))
    assert f.evidence["count"] == 1
    line = f.evidence["lines"][0]
    assert (line["kind"], line["field"], line["where"], line["raw"]) == (
        "type_preference",
        "priority",
        "report",
        bad,
    )
    assert line["expected"]
    assert line["seen"]
    assert f.summary.startswith("1 candidate line the page reported is not what a browser")
    # With a line that does not parse, that leads; the implausible one is counted.
    c = _hand(bad, "candidate:x 1 udp 1 10.0.0.1 99999 typ host")
    f = json_ok(candidate_malformed(c))
    assert [x["kind"] for x in f.evidence["lines"]] == ["unparseable", "type_preference"]
    assert "does not parse" in f.summary
    assert "1 more line(s) parse" in f.summary


def test_mdns_name_that_is_not_uuid4_is_its_own_kind() -> None:
    c = _hand("candidate:1 1 udp 2113937151 my-laptop.local 5000 typ host")
    f = json_ok(candidate_malformed(c))
    assert f.evidence["lines"][0]["kind"] == "mdns_name"


def test_implausible_sdp_line_has_its_line_number() -> None:
    sdp = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
        "a=candidate:1 1 udp 1677729535 203.0.113.7 5000 typ host\r\n"
    )
    found = implausible_candidates(_hand(sdp=sdp))
    assert [(d.kind, d.where, d.sdp_line) for d in found] == [("type_preference", "sdp", 7)]


# --- webrtc.api_tampered -----------------------------------------------------------------


def _tampered(
    failed: tuple[TamperCheck, ...], stats: tuple[StatsCandidate, ...] | None = None
) -> Correlation:
    doc = load("chromium-156-default")
    ev = faithful(doc, stats=stats)
    assert ev.report is not None
    assert ev.report.tamper is not None
    tamper = replace(ev.report.tamper, failed=failed)
    return correlate(replace(ev, report=replace(ev.report, tamper=tamper)))


def test_api_tampered_fires_on_failed_checks_with_their_words() -> None:
    failed = (
        TamperCheck(
            "native:RTCPeerConnection", "function RTCPeerConnection(c) { return new N(c) }"
        ),
        TamperCheck("prototype:chain", "not EventTarget"),
    )
    f = json_ok(webrtc_api_tampered(_tampered(failed)))
    assert f.evidence["failed"][0]["check"] == "native:RTCPeerConnection"
    assert f.evidence["count"] == 2
    assert f.evidence["checks"] == 31
    assert "RTCPeerConnection is not native code" in f.summary
    assert "(1 more finding(s)" in f.summary
    assert RULES_BY_CODE[SignalCode.WEBRTC_API_TAMPERED].weight > 0


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ("native:createOffer", "source text of createOffer is not native"),
        ("realm:RTCPeerConnection", "fresh frame's Function.prototype.toString"),
        ("realm:prototype", "prototype differs from a fresh frame"),
        ("descriptor:onicecandidate", "property onicecandidate is not defined"),
        ("prototype:constructor", "prototype chain"),
        ("alias:webkitRTCPeerConnection", "webkitRTCPeerConnection is no longer the same"),
        ("instance:own", "peer connection object itself"),
        ("error", "the check error failed"),
    ],
)
def test_every_check_group_has_a_sentence(check: str, words: str) -> None:
    assert words in check_sentence(TamperCheck(check, "x"))


def test_api_deleted_but_present_in_a_fresh_frame() -> None:
    text = check_sentence(
        TamperCheck("realm:RTCPeerConnection", "missing here, present in a fresh frame")
    )
    assert "removed from the page but a fresh frame has it" in text


def test_get_stats_disagreeing_with_rewritten_events() -> None:
    doc = load("chromium-156-default")
    report = edited(doc, lambda x: x.replace(" 10.77.1.2 54066 ", " 10.77.1.3 54066 "))
    c = correlate(faithful(doc, report=report))
    found = stats_discrepancies(c)
    assert [(d.kind, d.where) for d in found] == [
        ("not_in_stats", "report"),
        ("not_in_events", "stats"),
    ]
    assert "10.77.1.3" in found[0].seen
    assert "10.77.1.2" in found[1].seen
    f = json_ok(webrtc_api_tampered(c))
    assert f.evidence["failed"] == []
    assert len(f.evidence["stats"]) == 2
    assert "getStats()" in f.summary
    # A page stopped at its deadline may read stats with candidates gathered later.
    stopped = correlate(faithful(doc, report=replace(report, ended_by="deadline")))
    assert kinds(stats_discrepancies(stopped)) == ["not_in_stats"]


def test_get_stats_quirks_of_real_browsers_are_allowed() -> None:
    # Firefox drops a srflx equal to its host from the events; getStats() may list it.
    doc = load("firefox-153-noobfuscate")
    extra = (StatsCandidate("10.77.1.2", 56286, "srflx", "udp"),)
    c = correlate(faithful(doc, stats=stats_of(doc) + extra))
    assert stats_discrepancies(c) == ()
    # Chromium shows mDNS hosts as "" and lists TCP hosts on port 9.
    doc = load("chromium-156-default")
    assert any(s.address == "" for s in stats_of(doc))
    assert stats_discrepancies(correlate(faithful(doc))) == ()


def test_no_tamper_report_no_signal() -> None:
    ev = faithful("chromium-156-default")
    assert ev.report is not None
    c = correlate(replace(ev, report=replace(ev.report, tamper=None)))
    assert webrtc_api_tampered(c) is None
    assert stats_discrepancies(c) == ()


# --- webrtc.unavailable: the browser the user agent claims -------------------------------------


CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
EDGE = CHROME + " Edg/156.0.0.0"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ua", "name", "major", "ships"),
    [
        (CHROME, "chrome", 156, True),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), "chrome", 156, True),
        (EDGE, "edge", 156, True),
        (FIREFOX, "firefox", 153, True),
        (SAFARI, "safari", 17, True),
        (FIREFOX.replace("Firefox/153.0", "Firefox/40.0"), "firefox", 40, False),
    ],
)
def test_claimed_browser(ua: str, name: str, major: int, ships: bool) -> None:
    got = claimed_browser(ua)
    assert got is not None
    assert (got.name, got.major, got.ships_webrtc) == (name, major, ships)


def test_claimed_browser_unknown() -> None:
    assert claimed_browser("Old/1.0") is None
    assert claimed_browser("") is None


def test_unavailable_names_the_claimed_browser() -> None:
    c = _missing(CHROME)
    f = json_ok(webrtc_unavailable(c))
    assert f.evidence["claimed_browser"] == {"name": "chrome", "major": 156, "ships_webrtc": True}
    assert "Chrome 156 its user agent claims always has it" in f.summary
    f = json_ok(webrtc_unavailable(_missing("Old/1.0")))
    assert f.evidence["claimed_browser"] is None
    assert "always has it" not in f.summary


def _missing(ua: str) -> Correlation:
    h = HttpSighting(
        peer_ip=ipaddress.ip_address("203.0.113.10"),
        client_ip=ipaddress.ip_address("203.0.113.10"),
        at=BASE,
    )
    report = PageReport(webrtc=WebRtcStatus.MISSING, user_agent=ua, collector_version="2")
    return correlate(SessionEvidence(session_id=SESSION, created_at=BASE, http=h, report=report))


# --- the stored form -------------------------------------------------------------------------


def test_tamper_report_round_trips_through_the_stored_form() -> None:
    ev = faithful("firefox-153-default")
    assert ev.report is not None
    tamper = replace(
        ev.report.tamper or TamperReport(),
        failed=(TamperCheck("native:createOffer", "function x() {}"),),
        stats_error="timeout",
    )
    ev = replace(ev, report=replace(ev.report, tamper=tamper))
    data = json.loads(json.dumps(ev.as_dict(), allow_nan=False))
    assert session_evidence_from_dict(data) == ev
    assert data["report"]["tamper"]["failed"] == [
        {"check": "native:createOffer", "detail": "function x() {}"}
    ]


def test_stored_reports_without_tamper_read_back() -> None:
    report = page_report_from_dict({"webrtc": "ok"})
    assert report.tamper is None
    assert page_report_from_dict({"webrtc": "ok", "tamper": {}}).tamper == TamperReport()


@pytest.mark.parametrize(
    "tamper",
    [[], "x", {"checks": "many"}, {"failed": [{"check": 5}]}, {"stats": [{"port": "9"}]}],
)
def test_unreadable_tamper_is_a_parse_error(tamper: Any) -> None:
    with pytest.raises(ParseError):
        page_report_from_dict({"webrtc": "ok", "tamper": tamper})
