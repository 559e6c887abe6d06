"""conn.failed, conn.rtt_mismatch and net.webrtc_proxied: real captures and hand-made cases."""

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
)

from icewatch.core.correlate import Correlation, correlate
from icewatch.core.document import session_document
from icewatch.core.evidence import (
    ConnectionReport,
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
    session_evidence_from_dict,
)
from icewatch.core.scoring import RULES, SignalCode, evaluate
from icewatch.core.scoring.rule import Finding
from icewatch.core.scoring.rules_conn import (
    RTT_MIN_EXTRA_MS,
    RTT_MIN_RATIO,
    conn_failed,
    conn_rtt_mismatch,
    net_webrtc_proxied,
)
from icewatch.core.scoring.rules_ip import ip_webrtc_http_mismatch
from icewatch.core.scoring.table import RULES_BY_CODE
from icewatch.core.verdict import Verdict

CONN_CODES = {SignalCode.CONN_FAILED.value, SignalCode.CONN_RTT_MISMATCH.value}


def ice(
    addr: str = "10.77.1.2",
    port: int = 50000,
    *,
    rtts: tuple[float, ...] = (),
    kind: StunKind = StunKind.ICE_NOMINATED,
) -> Observation:
    return Observation(
        source=ObservationSource.ICE,
        kind=kind,
        ip=ipaddress.ip_address(addr),
        port=port,
        transport="udp",
        at=BASE + 0.3,
        transaction_id="",
        session_id=SESSION,
        rtt_ms=rtts,
    )


def turn_tcp(addr: str, port: int = 41000) -> Observation:
    return Observation(
        source=ObservationSource.TURN,
        kind=StunKind.ALLOCATE_AUTHENTICATED,
        ip=ipaddress.ip_address(addr),
        port=port,
        transport="tcp",
        at=BASE + 0.05,
        transaction_id="ab" * 12,
        session_id=SESSION,
    )


def with_conn(name: str, **kw: Any) -> PageReport:
    """The capture's report with a test-connection report (and maybe HTTP RTTs)."""
    http = kw.pop("http_rtts_ms", ())
    return replace(page_report(load(name)), connection=ConnectionReport(**kw), http_rtts_ms=http)


def ev_of(
    name: str,
    report: PageReport | None = None,
    extra: tuple[Observation, ...] = (),
    **kw: Any,
) -> SessionEvidence:
    """The capture's evidence; ``extra`` (the peer's ICE observations, which name the
    session) is added as the store would return it."""
    ev = evidence(name, report=report, **kw)
    return replace(ev, observations=ev.observations + extra)


def corr(
    name: str,
    report: PageReport | None = None,
    extra: tuple[Observation, ...] = (),
    **kw: Any,
) -> Correlation:
    return correlate(ev_of(name, report, extra, **kw))


def verdict_of(ev: SessionEvidence) -> Verdict:
    return evaluate(ev)[1]


def json_ok(f: Finding | None) -> Finding:
    assert f is not None
    json.dumps(dict(f.evidence), allow_nan=False)
    assert f.summary.endswith(".")
    assert "\n" not in f.summary
    return f


def make(
    report: PageReport, observed: tuple[Observation, ...] = (), http_ip: str = "10.77.1.3"
) -> Correlation:
    h = HttpSighting(
        peer_ip=ipaddress.ip_address(http_ip), client_ip=ipaddress.ip_address(http_ip), at=BASE
    )
    return correlate(
        SessionEvidence(
            session_id=SESSION,
            created_at=BASE,
            http=h,
            report=report,
            report_http=h,
            reported_at=BASE + 0.5,
            observations=observed,
        )
    )


# --- the rule table --------------------------------------------------------------------------


def test_rows_and_weights() -> None:
    assert RULES_BY_CODE[SignalCode.CONN_FAILED].weight == 25
    assert RULES_BY_CODE[SignalCode.CONN_RTT_MISMATCH].weight == 20
    proxied = RULES_BY_CODE[SignalCode.NET_WEBRTC_PROXIED]
    assert proxied.informational
    assert proxied.weight == 0
    assert [r.code for r in RULES][-3:] == [
        SignalCode.CONN_FAILED,
        SignalCode.CONN_RTT_MISMATCH,
        SignalCode.NET_WEBRTC_PROXIED,
    ]


# --- false-positive guard: the real captures ---------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_captures_without_a_connection_report_fire_nothing(path: Any) -> None:
    # The captures predate the test connection: `connection` is None. Missing data is no
    # failure (an old collector, or a server with the test connection off).
    c = corr(str(path))
    assert c.report is not None
    assert c.report.connection is None
    assert conn_failed(c) is None
    assert conn_rtt_mismatch(c) is None
    assert net_webrtc_proxied(c) is None
    verdict = verdict_of(evidence(str(path)))
    assert not {s.code for s in verdict.signals} & (CONN_CODES | {"net.webrtc_proxied"})


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_captures_with_a_working_connection_fire_nothing(path: Any) -> None:
    doc = load(str(path))
    client = doc["network"]["client_public_v4"]
    report = with_conn(
        str(path),
        attempted=True,
        state="connected",
        answer_ms=210.0,
        open_ms=260.0,
        rtts_ms=(1.1, 0.9, 1.0),
        http_rtts_ms=(2.4, 1.8, 2.0),
    )
    nominated = ice(client, 50000, rtts=(0.8, 0.7, 0.9))
    c = corr(str(path), report, (nominated,))
    assert any(o.source is ObservationSource.ICE for o in c.observations)
    assert conn_failed(c) is None
    assert conn_rtt_mismatch(c) is None
    assert net_webrtc_proxied(c) is None
    verdict = verdict_of(ev_of(str(path), report, (nominated,)))
    weighted = [s.code for s in verdict.signals if s.weight > 0]
    assert weighted == []
    assert verdict.level.value == "low"


# --- conn.failed -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["failed", "timeout"])
def test_failed_connection_fires_with_what_was_tried(state: str) -> None:
    report = with_conn(
        "chromium-156-default", attempted=True, state=state, answer_ms=180.0, error="ICE failed"
    )
    f = json_ok(conn_failed(corr("chromium-156-default", report)))
    assert state in f.summary
    assert "offer sent, answer received, no data channel" in f.summary
    conn = f.evidence["connection"]
    assert conn["offer_sent"]
    assert conn["answer_received"]
    assert not conn["channel_opened"]
    assert conn["error"] == "ICE failed"
    assert f.evidence["ice_observations"] == []
    assert f.evidence["udp_observed"] is True
    assert len(f.evidence["candidates"]) == 4  # mDNS host and srflx, IPv4 and IPv6


def test_failed_without_an_answer() -> None:
    report = with_conn("firefox-153-nat", attempted=True, state="timeout")
    f = json_ok(conn_failed(corr("firefox-153-nat", report)))
    assert "offer sent, no answer" in f.summary


def test_refusing_to_try_is_suspicious() -> None:
    report = with_conn("chromium-156-default", attempted=False, state="refused")
    f = json_ok(conn_failed(corr("chromium-156-default", report)))
    assert "refused to send its offer" in f.summary


def test_skipped_without_any_reason_fires() -> None:
    report = with_conn("chromium-156-default", attempted=False, state="skipped")
    f = json_ok(conn_failed(corr("chromium-156-default", report)))
    assert "skipped" in f.summary


def test_skipped_because_the_server_turned_it_off_does_not_fire() -> None:
    # What the collector sends when session creation says test_connection: false.
    report = with_conn(
        "chromium-156-default", attempted=False, state="skipped", error="test_connection disabled"
    )
    assert conn_failed(corr("chromium-156-default", report)) is None


@pytest.mark.parametrize(
    "server_error", ["peer_busy", "test_connection_disabled", "peer_timeout", "session_expired"]
)
def test_server_side_refusals_do_not_fire(server_error: str) -> None:
    report = with_conn(
        "chromium-156-default", attempted=True, state="refused", server_error=server_error
    )
    assert conn_failed(corr("chromium-156-default", report)) is None


def test_a_bad_offer_fires_with_the_server_error() -> None:
    report = with_conn(
        "chromium-156-default", attempted=True, state="refused", server_error="bad_offer"
    )
    f = json_ok(conn_failed(corr("chromium-156-default", report)))
    assert "server error: bad_offer" in f.summary
    assert f.evidence["connection"]["server_error"] == "bad_offer"


def test_connected_never_fires_even_before_the_peer_reported() -> None:
    # The peer emits its observation after its pings; the report may arrive first.
    report = with_conn("chromium-156-default", attempted=True, state="connected", open_ms=90.0)
    assert conn_failed(corr("chromium-156-default", report)) is None


def test_ice_seen_by_the_peer_means_real_candidates() -> None:
    report = with_conn("chromium-156-default", attempted=True, state="timeout")
    c = corr("chromium-156-default", report, (ice("10.77.1.2", 50123),))
    assert conn_failed(c) is None


def test_no_udp_at_all_is_udp_blocked_not_conn_failed() -> None:
    # disable_non_proxied_udp / proxy-only: no UDP observation; the page cannot connect.
    report = with_conn("chromium-156-default", attempted=True, state="failed")
    c = corr(
        "chromium-156-default",
        report,
        drop=(StunKind.BINDING, StunKind.ALLOCATE, StunKind.ALLOCATE_AUTHENTICATED),
    )
    assert not c.udp_observed
    assert conn_failed(c) is None


def test_no_usable_candidate_does_not_fire() -> None:
    report = replace(
        with_conn("chromium-156-default", attempted=True, state="failed"),
        candidates=(ReportedCandidate(""),),
        sdp=None,
    )
    assert conn_failed(corr("chromium-156-default", report)) is None


def test_unknown_state_and_missing_api_do_not_fire() -> None:
    report = with_conn("chromium-156-default", attempted=True, state="exploded")
    assert conn_failed(corr("chromium-156-default", report)) is None
    missing = replace(report, webrtc=WebRtcStatus.MISSING)
    assert conn_failed(corr("chromium-156-default", missing)) is None


def test_conn_failed_weighs_but_alone_stays_low() -> None:
    report = with_conn("firefox-153-default", attempted=True, state="failed")
    verdict = verdict_of(evidence("firefox-153-default", report=report))
    weighted = {s.code: s.weight for s in verdict.signals if s.weight > 0}
    assert weighted == {"conn.failed": 25}
    assert verdict.level.value == "low"


# --- conn.rtt_mismatch -----------------------------------------------------------------------


def rtt_case(
    server: tuple[float, ...] = (),
    page: tuple[float, ...] = (),
    http: tuple[float, ...] = (),
) -> Correlation:
    report = with_conn(
        "chromium-156-nat", attempted=True, state="connected", rtts_ms=page, http_rtts_ms=http
    )
    extra = (ice("10.77.1.254", 50999, rtts=server),) if server or page else ()
    return corr("chromium-156-nat", report, extra)


def test_rtt_mismatch_fires_on_a_150ms_detour() -> None:
    # The sandbox: direct ~1 ms, the proxy path +150 ms (netem).
    f = json_ok(
        conn_rtt_mismatch(
            rtt_case(server=(0.9, 0.8, 1.2), page=(1.5, 1.4), http=(152.0, 151.1, 158.3))
        )
    )
    ev = f.evidence
    assert ev["webrtc_rtt_ms"]["measured_by"] == "server"
    assert ev["webrtc_rtt_ms"]["min"] == 0.8
    assert ev["webrtc_rtt_ms"]["median"] == 0.9
    assert ev["http_rtt_ms"] == {
        "samples": [152.0, 151.1, 158.3],
        "count": 3,
        "min": 151.1,
        "median": 152.0,
        "measured_by": "page",
    }
    assert ev["difference_ms"] == {"min": 150.3, "median": 151.1}
    assert ev["thresholds"]["min_extra_ms"] == RTT_MIN_EXTRA_MS
    assert ev["thresholds"]["min_ratio"] == RTT_MIN_RATIO
    assert "152 ms" in f.summary
    assert "server-measured" in f.summary


def test_rtt_mismatch_falls_back_to_the_page_measurement() -> None:
    f = json_ok(
        conn_rtt_mismatch(rtt_case(server=(1.0,), page=(2.0, 1.0, 3.0), http=(170.0, 165.0)))
    )
    assert f.evidence["webrtc_rtt_ms"]["measured_by"] == "page"
    assert f.evidence["webrtc_rtt_ms"]["median"] == 2.0


def test_rtt_without_a_detour_does_not_fire() -> None:
    assert conn_rtt_mismatch(rtt_case(server=(0.9, 0.8), http=(2.0, 1.6, 9.0))) is None


def test_rtt_needs_two_samples_each() -> None:
    assert conn_rtt_mismatch(rtt_case(server=(1.0, 1.0), http=(200.0,))) is None
    assert conn_rtt_mismatch(rtt_case(page=(1.0,), http=(200.0, 210.0))) is None
    assert conn_rtt_mismatch(rtt_case(http=(200.0, 210.0))) is None


def test_rtt_jitter_spike_is_not_a_detour() -> None:
    # One slow fetch (connection set-up, a GC pause) does not move the minimum.
    assert conn_rtt_mismatch(rtt_case(server=(1.0, 1.2), http=(180.0, 2.0, 2.5))) is None
    # One lucky fast fetch keeps the median high but the minimum low: not judged.
    assert conn_rtt_mismatch(rtt_case(server=(1.0, 1.2), http=(90.0, 95.0, 1.5))) is None


def test_rtt_thresholds_boundaries() -> None:
    # Exactly 60 ms more and more than 2.5x: fires.
    assert conn_rtt_mismatch(rtt_case(server=(10.0, 10.0), http=(70.0, 70.0))) is not None
    # 59.9 ms more: does not.
    assert conn_rtt_mismatch(rtt_case(server=(10.0, 10.0), http=(69.9, 69.9))) is None
    # Far away on both paths: 200 ms WebRTC, 300 ms HTTP is 100 ms more but only 1.5x.
    assert conn_rtt_mismatch(rtt_case(server=(200.0, 205.0), http=(300.0, 310.0))) is None


def test_rtt_junk_samples_are_ignored() -> None:
    nan, inf = float("nan"), float("inf")
    c = rtt_case(server=(nan, -1.0, inf, 1.0, 1.0), http=(nan, 1e9, 150.0, 151.0))
    f = json_ok(conn_rtt_mismatch(c))
    assert f.evidence["webrtc_rtt_ms"]["samples"] == [1.0, 1.0]
    assert f.evidence["http_rtt_ms"]["samples"] == [150.0, 151.0]
    many = rtt_case(server=(1.0,) * 10_000, http=(150.0,) * 10_000)
    f = json_ok(conn_rtt_mismatch(many))
    assert f.evidence["http_rtt_ms"]["count"] == 64


def test_rtt_mismatch_weighs_moderately() -> None:
    report = with_conn(
        "chromium-156-nat",
        attempted=True,
        state="connected",
        rtts_ms=(1.0, 1.1),
        http_rtts_ms=(151.0, 152.0),
    )
    verdict = verdict_of(evidence("chromium-156-nat", report=report))
    weighted = {s.code: s.weight for s in verdict.signals if s.weight > 0}
    assert weighted == {"conn.rtt_mismatch": 20}


# --- net.webrtc_proxied: disable_non_proxied_udp through a proxy ----------------------------


def test_tcp_turn_from_the_proxy_is_proxied_not_a_leak() -> None:
    # As in the e2e scenario: no candidates with UDP, TURN over TCP arrives from the
    # proxy 10.77.1.3, which is also the HTTP client address.
    c = make(PageReport(webrtc=WebRtcStatus.OK, ended_by="complete"), (turn_tcp("10.77.1.3"),))
    f = json_ok(net_webrtc_proxied(c))
    assert f.summary.startswith("WebRTC went through your proxy: no leak.")
    assert f.evidence["http_client_ips"] == ["10.77.1.3"]
    assert f.evidence["observations"][0]["transport"] == "tcp"
    assert ip_webrtc_http_mismatch(c) is None
    assert conn_failed(c) is None


def test_proxied_needs_the_http_address_and_no_udp() -> None:
    report = PageReport(webrtc=WebRtcStatus.OK)
    # TCP from another address than HTTP: not "through the proxy".
    assert net_webrtc_proxied(make(report, (turn_tcp("10.77.1.9"),))) is None
    # A UDP ICE check too: the test connection went around the proxy.
    assert net_webrtc_proxied(make(report, (turn_tcp("10.77.1.3"), ice("10.77.1.2")))) is None
    # Nothing at all: nothing to say.
    assert net_webrtc_proxied(make(report, ())) is None


def test_proxied_session_verdict() -> None:
    c_report = PageReport(webrtc=WebRtcStatus.OK, ended_by="complete")
    h = HttpSighting(
        peer_ip=ipaddress.ip_address("10.77.1.3"),
        client_ip=ipaddress.ip_address("10.77.1.3"),
        at=BASE,
    )
    ev = SessionEvidence(
        session_id=SESSION,
        created_at=BASE,
        http=h,
        report=c_report,
        report_http=h,
        reported_at=BASE + 0.5,
        observations=(turn_tcp("10.77.1.3"),),
    )
    codes = {s.code: s.weight for s in verdict_of(ev).signals}
    assert codes.get("net.webrtc_proxied") == 0
    assert "ip.webrtc_http_mismatch" not in codes


# --- stored evidence round trip and the session JSON ----------------------------------------


def test_connection_evidence_round_trips_and_rescores_the_same() -> None:
    report = with_conn(
        "chromium-156-nat",
        attempted=True,
        state="connected",
        answer_ms=200.0,
        open_ms=250.0,
        rtts_ms=(1.0, 1.1),
        http_rtts_ms=(151.0, 152.0),
    )
    ev = ev_of("chromium-156-nat", report, (ice("10.77.1.254"),))
    back = session_evidence_from_dict(json.loads(json.dumps(ev.as_dict())))
    assert verdict_of(back) == verdict_of(ev)
    doc = session_document(back, verdict_of(back))
    conn = doc["connection"]
    assert conn["state"] == "connected"
    assert conn["open_ms"] == 250.0
    assert conn["nominated"]["ip"] == "10.77.1.254"
    assert conn["page_rtt_ms"]["median"] == 1.05
    assert conn["http_rtt_ms"]["min"] == 151.0
    assert doc["policy"]["policy"] == "default"
    json.dumps(doc, allow_nan=False)


def test_session_json_without_connection() -> None:
    doc = session_document(evidence("firefox-153-default"), None)
    conn = doc["connection"]
    assert conn["state"] is None
    assert conn["nominated"] is None
    assert conn["ice_addresses"] == []
    assert conn["server_rtt_ms"] == {"samples": [], "count": 0, "min": None, "median": None}
