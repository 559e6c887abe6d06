"""The engine: score arithmetic, levels, weights, and verdicts on real captures."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.core.scoring.capture_evidence import CAPTURES, evidence, load, with_candidates

from icewatch.core.correlate import correlate
from icewatch.core.evidence import PageReport, StunKind, WebRtcStatus
from icewatch.core.scoring import (
    HIGH_FROM,
    MEDIUM_FROM,
    RULES,
    RULES_BY_CODE,
    SignalCode,
    combine,
    evaluate,
    level_for,
    score,
    signal_catalog,
    validate_weights,
)
from icewatch.core.verdict import Level, Verdict, verdict_from_dict


def codes(verdict: Verdict) -> list[str]:
    return [s.code for s in verdict.signals]


# --- arithmetic -------------------------------------------------------------------------------


def test_combine() -> None:
    assert combine([]) == 0
    assert combine([0, 0]) == 0
    assert combine([50]) == 50
    assert combine([50, 50]) == 75
    assert combine([65, 50]) == 83  # 82.5 rounds half up
    assert combine([15, 10]) == 24  # 23.5 rounds half up
    assert combine([100, 10]) == 100
    assert combine([-5, 250]) == 100  # clamped


@given(st.lists(st.integers(-50, 200), max_size=30))
def test_combine_is_bounded_and_monotone(weights: list[int]) -> None:
    total = combine(weights)
    assert 0 <= total <= 100
    assert combine([*weights, 10]) >= total
    assert total >= max([0, *(min(100, w) for w in weights)])


def test_levels() -> None:
    assert level_for(0) is Level.LOW
    assert level_for(MEDIUM_FROM - 1) is Level.LOW
    assert level_for(MEDIUM_FROM) is Level.MEDIUM
    assert level_for(HIGH_FROM - 1) is Level.MEDIUM
    assert level_for(HIGH_FROM) is Level.HIGH
    assert level_for(100) is Level.HIGH


# --- weights ----------------------------------------------------------------------------------


def test_default_weights() -> None:
    table = validate_weights(None)
    assert table == {r.code: r.weight for r in RULES}
    assert table[SignalCode.IP_WEBRTC_HTTP_MISMATCH] >= MEDIUM_FROM


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"no.such_code": 5}, "unknown signal code"),
        ({"ip.webrtc_http_mismatch": 101}, "not an integer in 0..100"),
        ({"ip.webrtc_http_mismatch": -1}, "not an integer in 0..100"),
        ({"ip.webrtc_http_mismatch": True}, "not an integer in 0..100"),
        ({"ip.webrtc_http_mismatch": 5.5}, "not an integer in 0..100"),
        ({"net.mdns": 10}, "informational"),
    ],
)
def test_bad_weights_are_refused(weights: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_weights(weights)


def test_weights_override_the_defaults() -> None:
    c = correlate(evidence("chromium-156-nat", http_ip="10.77.1.3"))
    assert score(c, {"ip.webrtc_http_mismatch": 80}).score == 80
    assert score(c, {"ip.webrtc_http_mismatch": 80}).level is Level.HIGH
    muted = score(c, {"ip.webrtc_http_mismatch": 0})
    assert muted.level is Level.LOW
    assert "ip.webrtc_http_mismatch" in codes(muted)  # still reported, with weight 0
    assert validate_weights({"net.mdns": 0})[SignalCode.NET_MDNS] == 0


# --- verdicts on the real captures ------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_an_ordinary_browser_without_proxy_is_low(path: object) -> None:
    _, verdict = evaluate(evidence(str(path)))
    assert verdict.level is Level.LOW
    assert verdict.score == 0
    assert all(s.weight == 0 for s in verdict.signals)
    assert verdict.signals  # mDNS or local addresses: always something informational


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_behind_a_proxy_is_at_least_medium(path: object) -> None:
    doc = load(str(path))
    _, verdict = evaluate(evidence(doc, http_ip="10.77.1.3"))
    assert codes(verdict)[0] == "ip.webrtc_http_mismatch"
    assert "candidate.spoofed" not in codes(verdict)
    assert verdict.level in (Level.MEDIUM, Level.HIGH)


def test_proxy_and_rewritten_candidate_is_high() -> None:
    doc = load("chromium-156-nat")
    raw = [c["candidate"] for c in doc["candidates"] if c.get("candidate")]
    raw = [r.replace(" 10.77.1.254 ", " 10.77.1.3 ") for r in raw]  # claim the proxy's address
    ev = evidence(doc, http_ip="10.77.1.3", report=with_candidates(doc, raw))
    _, verdict = evaluate(ev)
    assert codes(verdict)[:2] == ["ip.webrtc_http_mismatch", "candidate.spoofed"]
    assert verdict.level is Level.HIGH
    assert verdict.score == combine(
        [RULES_BY_CODE[SignalCode.IP_WEBRTC_HTTP_MISMATCH].weight,
         RULES_BY_CODE[SignalCode.CANDIDATE_SPOOFED].weight]
    )  # fmt: skip


def test_policy_blocked_udp_behind_a_proxy_stays_low() -> None:
    # disable_non_proxied_udp: no candidates, no UDP. A privacy setting, not a lie.
    doc = load("chromium-156-nat")
    report = replace(with_candidates(doc, []), sdp=None)
    _, verdict = evaluate(evidence(doc, http_ip="10.77.1.3", report=report, drop=tuple(StunKind)))
    assert codes(verdict) == ["webrtc.no_candidates", "webrtc.udp_blocked"]
    assert verdict.level is Level.LOW


def test_webrtc_missing_is_low_alone() -> None:
    doc = load("firefox-153-default")
    ev = replace(evidence(doc), report=PageReport(webrtc=WebRtcStatus.MISSING), observations=())
    _, verdict = evaluate(ev)
    assert codes(verdict) == ["webrtc.unavailable"]
    assert verdict.level is Level.LOW


def test_signals_follow_table_order_and_round_trip() -> None:
    doc = load("chromium-156-nomdns")
    raw = [c["candidate"] for c in doc["candidates"] if c.get("candidate")] + ["garbage"]
    _, verdict = evaluate(evidence(doc, http_ip="10.77.1.3", report=with_candidates(doc, raw)))
    order = [r.code.value for r in RULES]
    got = codes(verdict)
    assert got == sorted(got, key=order.index)
    assert verdict_from_dict(verdict.as_dict()) == verdict


def test_signal_catalog() -> None:
    catalog = signal_catalog()
    assert [c["code"] for c in catalog] == [r.code.value for r in RULES]
    assert all(c["title"] and c["description"] for c in catalog)
