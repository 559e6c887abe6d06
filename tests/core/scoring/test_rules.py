"""Every rule, firing and not firing, on real captures and hand-made evidence."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from typing import Any

import pytest
from tests.core.scoring.capture_evidence import (
    BASE,
    CAPTURES,
    SESSION,
    evidence,
    load,
    page_report,
    with_candidates,
)

from icewatch.core.correlate import Correlation, correlate
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
from icewatch.core.scoring import (
    RULES,
    SignalCode,
    candidate_malformed,
    candidate_spoofed,
    ip_webrtc_http_mismatch,
    net_cgnat,
    net_ipv6_exposed,
    net_local_ip_exposed,
    net_mdns,
    webrtc_no_candidates,
    webrtc_udp_blocked,
    webrtc_unavailable,
)
from icewatch.core.scoring.rule import MAX_LISTED, Finding


def o(
    addr: str,
    port: int,
    *,
    source: ObservationSource = ObservationSource.TURN,
    transport: str = "udp",
    session: str | None = SESSION,
    kind: StunKind | None = None,
) -> Observation:
    if kind is None:
        kind = (
            StunKind.BINDING
            if source is ObservationSource.STUN
            else StunKind.ALLOCATE_AUTHENTICATED
        )
    return Observation(
        source=source,
        kind=kind,
        ip=ipaddress.ip_address(addr),
        port=port,
        transport=transport,
        at=BASE + 0.05,
        transaction_id="ab" * 12,
        session_id=session if source is ObservationSource.TURN else None,
    )


def make(
    report: PageReport | None,
    observed: tuple[Observation, ...] = (),
    http_ip: str = "203.0.113.10",
    report_ip: str | None = None,
) -> Correlation:
    h = HttpSighting(
        peer_ip=ipaddress.ip_address(http_ip), client_ip=ipaddress.ip_address(http_ip), at=BASE
    )
    rh = (
        h
        if report_ip is None
        else replace(
            h, peer_ip=ipaddress.ip_address(report_ip), client_ip=ipaddress.ip_address(report_ip)
        )
    )
    return correlate(
        SessionEvidence(
            session_id=SESSION,
            created_at=BASE,
            http=h,
            report=report,
            report_http=rh,
            reported_at=BASE + 0.5,
            observations=observed,
        )
    )


def lines(*candidates: str, **kw: Any) -> PageReport:
    return PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=tuple(ReportedCandidate(c, ms=float(i)) for i, c in enumerate(candidates)),
        **kw,
    )


def srflx(addr: str, port: int) -> str:
    return f"candidate:1 1 udp 1677729535 {addr} {port} typ srflx raddr 0.0.0.0 rport 0"


def host(addr: str, port: int, *, raddr: str | None = None) -> str:
    rel = f" raddr {raddr} rport 0" if raddr else ""
    return f"candidate:2 1 udp 2113937151 {addr} {port} typ host{rel}"


def json_ok(f: Finding | None) -> Finding:
    assert f is not None
    json.dumps(dict(f.evidence), allow_nan=False)
    assert f.summary.endswith((".", ".)"))
    assert "\n" not in f.summary
    return f


# --- the captures: an ordinary browser fires only informational rules -------------------------

INFORMATIONAL = {r.code.value for r in RULES if r.informational}


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_captures_fire_informational_rules_only(path: object) -> None:
    c = correlate(evidence(str(path)))
    fired = {r.code.value for r in RULES if r.check(c) is not None}
    assert fired <= INFORMATIONAL, fired
    scenario = load(str(path))["scenario"]
    expected = {"net.local_ip_exposed"} if scenario in {"nomdns", "noobfuscate"} else {"net.mdns"}
    assert fired == expected


# --- ip.webrtc_http_mismatch ------------------------------------------------------------------


def test_mismatch_fires_behind_an_http_proxy() -> None:
    c = correlate(evidence("chromium-156-nat", http_ip="10.77.1.3"))
    f = json_ok(ip_webrtc_http_mismatch(c))
    assert "10.77.1.254" in f.summary
    assert "10.77.1.3" in f.summary
    assert "(STUN, TURN)" in f.summary
    row = f.evidence["mismatches"][0]
    assert row["family"] == "ipv4"
    assert row["observed"]["ip"] == "10.77.1.254"
    assert row["observed"]["where"] == ["stun", "turn"]
    assert f.evidence["count"] == 1  # IPv6 is not compared: HTTP came over IPv4 only


def test_mismatch_fires_for_firefox_behind_a_proxy_too() -> None:
    c = correlate(evidence("firefox-153-nat", http_ip="10.77.1.3"))
    assert json_ok(ip_webrtc_http_mismatch(c)).evidence["mismatches"][0]["observed"]["ip"] == (
        "10.77.1.254"
    )


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_no_mismatch_without_proxy(path: object) -> None:
    assert ip_webrtc_http_mismatch(correlate(evidence(str(path)))) is None


def test_dual_stack_is_not_a_mismatch() -> None:
    # HTTP over IPv6, WebRTC over IPv4 only: nothing of the same family to compare.
    c = make(lines(srflx("198.51.100.7", 5000)), (o("198.51.100.7", 5000),), http_ip="2001:db8::7")
    assert ip_webrtc_http_mismatch(c) is None
    # The report over IPv4 from the same address as the observation: still no mismatch.
    c = make(
        lines(srflx("198.51.100.7", 5000)),
        (o("198.51.100.7", 5000),),
        http_ip="2001:db8::7",
        report_ip="198.51.100.7",
    )
    assert ip_webrtc_http_mismatch(c) is None


def test_ipv6_mismatch_and_same_64_tolerance() -> None:
    same64 = make(lines(), (o("2a00:1450:4001:80b::1", 5000),), http_ip="2a00:1450:4001:80b::99")
    assert ip_webrtc_http_mismatch(same64) is None
    other = make(lines(), (o("2a00:1450:4001:80c::1", 5000),), http_ip="2a00:1450:4001:80b::99")
    f = json_ok(ip_webrtc_http_mismatch(other))
    assert f.evidence["mismatches"][0]["family"] == "ipv6"
    assert "IPv6" in f.summary


def test_mismatch_counts_only_what_the_server_saw() -> None:
    # The page claims another public address, but the server saw the HTTP address:
    # that is a spoofed candidate, not a proxy.
    c = make(lines(srflx("198.51.100.99", 5000)), (o("203.0.113.10", 5000),))
    assert ip_webrtc_http_mismatch(c) is None
    assert candidate_spoofed(c) is not None


def test_mismatch_over_tcp_through_the_proxy_is_none() -> None:
    # disable_non_proxied_udp with a proxy: TURN over TCP arrives from the proxy.
    c = make(lines(), (o("10.77.1.3", 41000, transport="tcp"),), http_ip="10.77.1.3")
    assert ip_webrtc_http_mismatch(c) is None


def test_mismatch_regardless_of_category() -> None:
    # A private or CGNAT observed address differs from a public HTTP address: still the
    # server's own observation, still a mismatch (documented).
    c = make(lines(), (o("100.64.3.4", 5000),), http_ip="203.0.113.10")
    assert json_ok(ip_webrtc_http_mismatch(c)).evidence["mismatches"][0]["observed"][
        "category"
    ] == ("cgnat")


# --- candidate.spoofed ------------------------------------------------------------------------


def test_spoofed_rewritten_address() -> None:
    doc = load("chromium-156-default")
    raw = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
    raw[0] = raw[0].replace(" 10.77.1.2 ", " 198.51.100.7 ")
    c = correlate(evidence(doc, report=with_candidates(doc, raw)))
    f = json_ok(candidate_spoofed(c))
    assert "198.51.100.7:54066" in f.summary
    assert "10.77.1.2" in f.summary
    assert "rewritten" in f.summary
    kinds = [x["kind"] for x in f.evidence["findings"]]
    assert kinds[:2] == ["rewritten", "unseen"]
    # The event was rewritten, the SDP was not: the report disagrees with itself too.
    assert set(kinds[2:]) == {"not_in_sdp", "not_in_events"}
    assert "10.77.1.2:54066" in f.evidence["observed_endpoints"]


def test_spoofed_invented_srflx() -> None:
    doc = load("chromium-156-nat")
    raw = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
    raw.append(srflx("203.0.113.77", 61000))
    c = correlate(evidence(doc, report=with_candidates(doc, raw)))
    f = json_ok(candidate_spoofed(c))
    assert "203.0.113.77:61000" in f.summary
    assert f.evidence["findings"][0]["reported"]["address"] == "203.0.113.77"


def test_spoofed_srflx_with_no_traffic_at_all() -> None:
    f = json_ok(candidate_spoofed(make(lines(srflx("198.51.100.7", 5000)))))
    assert "no STUN or TURN packet" in f.summary


def test_spoofed_hidden_srflx() -> None:
    doc = load("firefox-153-nat")
    raw = [c.get("candidate", "") for c in doc["candidates"]]
    kept = [r for r in raw if r and "typ srflx" not in r]
    report = with_candidates(doc, kept, sdp_line=lambda x: None if " srflx " in x else x)
    c = correlate(evidence(doc, report=report))
    f = json_ok(candidate_spoofed(c))
    # The SDP's c= line still names the srflx the script removed.
    assert [x["kind"] for x in f.evidence["findings"]] == ["hidden", "sdp_connection"]
    assert "10.77.1.254:34948" in f.summary
    assert "hidden" in f.summary


def test_spoofed_denied_webrtc() -> None:
    c = make(PageReport(webrtc=WebRtcStatus.MISSING), (o("203.0.113.10", 5000),))
    f = json_ok(candidate_spoofed(c))
    assert "WebRTC is missing" in f.summary


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_not_spoofed_on_real_browsers_even_behind_a_proxy(path: object) -> None:
    assert candidate_spoofed(correlate(evidence(str(path), http_ip="10.77.1.3"))) is None


def test_firefox_noobfuscate_without_srflx_is_not_spoofed() -> None:
    c = correlate(evidence("firefox-153-noobfuscate"))
    assert candidate_spoofed(c) is None


def test_mdns_only_hosts_with_srflx_are_not_spoofed() -> None:
    c = make(
        lines(
            host("ef79e8da-b0a1-438c-af0c-7cb2dc123d3c.local", 5000), srflx("203.0.113.10", 5000)
        ),
        (o("203.0.113.10", 5000, source=ObservationSource.STUN), o("203.0.113.10", 5000)),
    )
    assert candidate_spoofed(c) is None


def test_spoofed_evidence_is_bounded() -> None:
    many = [srflx("198.51.100.7", 1000 + i) for i in range(MAX_LISTED + 15)]
    f = json_ok(candidate_spoofed(make(lines(*many))))
    assert f.evidence["count"] == MAX_LISTED + 15
    assert len(f.evidence["findings"]) == MAX_LISTED
    assert f"({MAX_LISTED + 14} more" in f.summary


# --- candidate.malformed ----------------------------------------------------------------------


def test_malformed_fires_with_line_field_and_reason() -> None:
    c = make(lines("candidate:1 1 udp 1 10.0.0.1 99999 typ host", srflx("203.0.113.10", 5)))
    f = json_ok(candidate_malformed(c))
    assert f.evidence["count"] == 1
    line = f.evidence["lines"][0]
    assert line["field"] == "port"
    assert line["where"] == "report"
    assert "99999" in line["raw"]
    assert "fails at port" in f.summary
    assert f.summary.startswith("1 candidate line the page reported does not parse")


def test_malformed_in_sdp_and_garbage() -> None:
    sdp = "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=candidate:zz\r\n"
    c = make(lines("\x00\x01garbage", "a" * 3000, sdp=sdp))
    f = json_ok(candidate_malformed(c))
    assert f.evidence["count"] == 3
    assert [x["where"] for x in f.evidence["lines"]] == ["report", "report", "sdp"]
    assert f.evidence["lines"][2]["sdp_line"] == 3


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_real_candidates_are_not_malformed(path: object) -> None:
    assert candidate_malformed(correlate(evidence(str(path)))) is None


# --- webrtc.* ---------------------------------------------------------------------------------


def test_unavailable_missing_and_error() -> None:
    f = json_ok(webrtc_unavailable(make(PageReport(webrtc=WebRtcStatus.MISSING))))
    assert f.evidence["webrtc"] == "missing"
    report = PageReport(webrtc=WebRtcStatus.ERROR, error="NotSupportedError: nope\nstack")
    f = json_ok(webrtc_unavailable(make(report)))
    assert "NotSupportedError: nope stack" in f.summary
    assert f.evidence["error"] == "NotSupportedError: nope\nstack"
    assert webrtc_unavailable(make(lines())) is None
    assert webrtc_unavailable(make(None)) is None


def test_no_candidates() -> None:
    f = json_ok(webrtc_no_candidates(make(lines(ended_by="deadline", gathering_ms=1500.0))))
    assert "ended by deadline after 1500 ms" in f.summary
    assert webrtc_no_candidates(make(lines(srflx("203.0.113.10", 5)))) is None
    # A malformed line is still a reported candidate.
    assert webrtc_no_candidates(make(lines("garbage"))) is None
    # The end-of-candidates string alone is no candidate.
    assert webrtc_no_candidates(make(lines(""))) is not None
    assert webrtc_no_candidates(make(PageReport(webrtc=WebRtcStatus.MISSING))) is None
    assert webrtc_no_candidates(make(None)) is None


def test_udp_blocked() -> None:
    f = json_ok(webrtc_udp_blocked(make(lines())))
    assert "no UDP packet" in f.summary
    tcp = make(lines(), (o("10.77.1.3", 41000, transport="tcp"),), http_ip="10.77.1.3")
    f = json_ok(webrtc_udp_blocked(tcp))
    assert "only TCP traffic arrived, from 10.77.1.3" in f.summary
    assert f.evidence["observations"][0]["transport"] == "tcp"
    assert webrtc_udp_blocked(make(lines(), (o("203.0.113.10", 5),))) is None
    assert webrtc_udp_blocked(make(PageReport(webrtc=WebRtcStatus.ERROR))) is None


def test_udp_blocked_when_packets_were_lost() -> None:
    c = correlate(evidence("chromium-156-default", drop=tuple(StunKind)))
    assert webrtc_udp_blocked(c) is not None
    # ... and the srflx the page reported now has nothing behind it.
    assert candidate_spoofed(c) is not None


# --- informational ----------------------------------------------------------------------------


def test_local_ip_exposed() -> None:
    f = json_ok(net_local_ip_exposed(correlate(evidence("chromium-156-nomdns"))))
    assert "10.77.1.2" in f.summary
    assert {a["ip"] for a in f.evidence["addresses"]} == {"10.77.1.2", "fd77:1::2"}
    assert f.evidence["addresses"][0]["where"] == ["host", "raddr"]
    # raddr of a srflx behind mDNS hosting: only the raddr leaks.
    c = make(lines(f"{srflx('203.0.113.10', 5)}".replace("raddr 0.0.0.0", "raddr 192.168.1.20")))
    assert json_ok(net_local_ip_exposed(c)).evidence["addresses"][0]["where"] == ["raddr"]
    # A public host address is not a local one.
    assert net_local_ip_exposed(make(lines(host("203.0.113.10", 5)))) is None
    assert net_local_ip_exposed(correlate(evidence("chromium-156-default"))) is None


def test_mdns() -> None:
    f = json_ok(net_mdns(correlate(evidence("firefox-153-default"))))
    assert f.evidence["count"] == 2  # the UDP and TCP host candidates share two names
    assert ".local" in f.summary
    assert net_mdns(correlate(evidence("firefox-153-noobfuscate"))) is None


def test_ipv6_exposed() -> None:
    # Sandbox addresses are ULA: not global.
    assert net_ipv6_exposed(correlate(evidence("chromium-156-default"))) is None
    c = make(
        lines(srflx("2a00:1450:4001:80b::1", 5000)),
        (o("2a00:1450:4001:80b::1", 5000, source=ObservationSource.STUN),),
    )
    f = json_ok(net_ipv6_exposed(c))
    assert f.evidence["addresses"][0]["seen_by"] == "server"
    assert f.evidence["count"] == 1
    assert f.evidence["http_over_ipv6"] is False
    assert "over IPv4 only" in f.summary
    page_only = make(lines(host("2a00:1450:4001:80b::2", 5000)), http_ip="2a00:1450:4001:80b::9")
    f = json_ok(net_ipv6_exposed(page_only))
    assert f.evidence["addresses"][0]["seen_by"] == "page"
    assert f.evidence["http_over_ipv6"] is True
    teredo = make(lines(host("2001:0:4136:e378:8000:63bf:3fff:fdd2", 5000)))
    assert json_ok(net_ipv6_exposed(teredo)).evidence["addresses"][0]["category"] == "teredo"


def test_cgnat() -> None:
    assert net_cgnat(correlate(evidence("chromium-156-nat"))) is None
    c = make(lines(host("100.72.1.2", 5000)), (o("100.64.0.9", 5),), http_ip="100.100.1.1")
    f = json_ok(net_cgnat(c))
    assert [(a["ip"], a["seen_by"]) for a in f.evidence["addresses"]] == [
        ("100.64.0.9", "server"),
        ("100.72.1.2", "page"),
        ("100.100.1.1", "http"),
    ]


def test_every_rule_is_silent_without_any_evidence() -> None:
    c = make(None)
    assert [r.code for r in RULES if r.check(c) is not None] == []


def test_rule_functions_are_named_after_their_codes() -> None:
    for rule in RULES:
        assert rule.check.__name__ == rule.code.value.replace(".", "_")
    assert {r.code for r in RULES} == set(SignalCode)
    assert len(RULES) == len(SignalCode)
    assert all((r.weight == 0) == r.informational for r in RULES)


def test_capture_report_helper_matches_capture() -> None:
    doc = load("firefox-153-default")
    report = page_report(doc)
    assert report.ended_by == "complete"
    assert report.candidates[-1].candidate == ""
