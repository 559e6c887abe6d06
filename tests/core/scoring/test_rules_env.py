"""Environment consistency rules, firing and not, on real captures and hand-made evidence.

The false-positive guard: every real capture with its real user agent (parsed by the
real ``ua-parser`` rules, as the web adapter does) raises no weighted env/shape signal.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from tests.core.scoring.capture_evidence import CAPTURES, evidence, load, with_candidates

from icewatch.core.client import ClientClaim, DeviceType, Engine, ParsedAgent, build_claim
from icewatch.core.correlate import correlate
from icewatch.core.evidence import SessionEvidence
from icewatch.core.scoring import RULES_BY_CODE, SignalCode, evaluate
from icewatch.core.scoring.rule import Finding
from icewatch.core.scoring.rules_env import (
    adapters_of,
    candidate_shape_mismatch,
    env_ua_network_mismatch,
    net_vpn_interface,
)
from icewatch.web.useragent import claim_for

ENV_CODES = {
    SignalCode.CANDIDATE_SHAPE_MISMATCH.value,
    SignalCode.ENV_UA_NETWORK_MISMATCH.value,
    SignalCode.NET_VPN_INTERFACE.value,
}

FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Safari/605.1.15"
)
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME_UA = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_DESKTOP_MODE_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
EPIPHANY_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Safari/605.1.15 Epiphany/605.1.15"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROMIUM_HINTS = (
    ("brands", json.dumps([{"brand": "Chromium", "version": "156"}])),
    ("mobile", "false"),
    ("platform", "Linux"),
)


def claimed(
    ev: SessionEvidence,
    ua: str | None = None,
    ua_hints: tuple[tuple[str, str], ...] | None = None,
) -> SessionEvidence:
    """The evidence with its report's user agent (and hints) replaced, then enriched as
    the web adapter does."""
    if ev.report is not None:
        page = ev.report
        if ua is not None:
            page = replace(page, user_agent=ua)
        if ua_hints is not None:
            page = replace(page, ua_hints=ua_hints)
        ev = replace(ev, report=page)
    return replace(ev, client=claim_for(ev))


def json_ok(finding: Finding | None) -> Finding:
    assert finding is not None
    json.dumps(finding.evidence, allow_nan=False)
    return finding


def with_cost(ev: SessionEvidence, cost: int | None) -> SessionEvidence:
    """Every candidate line (events and SDP) with its network-cost replaced."""
    assert ev.report is not None

    def edit(line: str) -> str:
        head, sep, _ = line.partition(" network-cost ")
        if not sep:
            return line
        return head if cost is None else f"{head} network-cost {cost}"

    doc_lines = [c.candidate for c in ev.report.candidates]
    sdp = ev.report.sdp or ""
    page = replace(
        ev.report,
        candidates=tuple(replace(c, candidate=edit(c.candidate)) for c in ev.report.candidates),
        sdp="\r\n".join(edit(x) for x in sdp.split("\r\n")),
    )
    assert doc_lines
    return replace(ev, report=page)


# -- the false-positive guard -------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_real_captures_with_their_real_user_agent_raise_no_env_signal(path: Any) -> None:
    doc = load(path)
    ev = claimed(evidence(doc))
    assert ev.client is not None
    assert ev.client.engine is (Engine.BLINK if doc["browser"] == "chromium" else Engine.GECKO)
    c = correlate(ev)
    assert candidate_shape_mismatch(c) is None
    assert env_ua_network_mismatch(c) is None
    assert net_vpn_interface(c) is None
    _, verdict = evaluate(ev)
    assert not {s.code for s in verdict.signals} & ENV_CODES


CHROMIUM_CAPTURES = [p for p in CAPTURES if p.stem.startswith("chromium-")]


@pytest.mark.parametrize("path", CHROMIUM_CAPTURES, ids=lambda p: p.stem)
def test_chromium_hints_on_a_real_chromium_are_consistent(path: Any) -> None:
    doc = load(path)
    ev = claimed(evidence(doc), ua_hints=CHROMIUM_HINTS)
    assert ev.client is not None
    assert ev.client.notes == ()
    assert candidate_shape_mismatch(correlate(ev)) is None


# -- candidate.shape_mismatch -------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["chromium-156-default", "chromium-156-nat", "chromium-156-nomdns"]
)
def test_chromium_claiming_firefox_is_a_shape_mismatch(name: str) -> None:
    ev = claimed(evidence(name), FIREFOX_UA)
    f = json_ok(candidate_shape_mismatch(correlate(ev)))
    assert "Firefox 153" in f.summary
    assert "libwebrtc" in f.summary
    assert f.evidence["dialect"] == "libwebrtc"
    assert f.evidence["confidence"] == 1.0
    assert f.evidence["contradicted_by"] == ["user_agent"]
    assert f.evidence["claimed"]["engine"] == "gecko"
    assert f.evidence["against"] == []
    assert {x["name"] for x in f.evidence["features"]} >= {"libwebrtc_extensions", "sdp_origin"}
    _, verdict = evaluate(ev)
    signal = next(s for s in verdict.signals if s.code == "candidate.shape_mismatch")
    assert signal.weight == RULES_BY_CODE[SignalCode.CANDIDATE_SHAPE_MISMATCH].weight
    assert verdict.level.value == "medium"


@pytest.mark.parametrize("ua", [CHROME_UA, SAFARI_UA, IPHONE_UA])
def test_firefox_claiming_chrome_or_safari_is_a_shape_mismatch(ua: str) -> None:
    ev = claimed(evidence("firefox-153-default"), ua)
    f = json_ok(candidate_shape_mismatch(correlate(ev)))
    assert f.evidence["dialect"] == "firefox"
    assert f.evidence["compatible_engines"] == ["gecko"]


def test_client_hints_on_firefox_output_are_a_shape_mismatch() -> None:
    # A Firefox-based anti-detect browser that injects navigator.userAgentData.
    ev = claimed(evidence("firefox-153-nat"), CHROME_UA, ua_hints=CHROMIUM_HINTS)
    f = json_ok(candidate_shape_mismatch(correlate(ev)))
    assert set(f.evidence["contradicted_by"]) == {"user_agent", "client_hints"}
    # Firefox UA + Chromium hints + Firefox output: only the hints are contradicted.
    ev = claimed(evidence("firefox-153-nat"), FIREFOX_UA, ua_hints=CHROMIUM_HINTS)
    f = json_ok(candidate_shape_mismatch(correlate(ev)))
    assert f.evidence["contradicted_by"] == ["client_hints"]
    assert "client hints name Chromium brands" in f.summary


def test_chromium_claiming_firefox_with_its_own_hints_names_both() -> None:
    ev = claimed(evidence("chromium-156-default"), FIREFOX_UA, ua_hints=CHROMIUM_HINTS)
    f = json_ok(candidate_shape_mismatch(correlate(ev)))
    assert f.evidence["contradicted_by"] == ["user_agent"]  # the hints agree with the output
    assert "hints_from_non_chromium" in f.evidence["claimed"]["notes"]


@pytest.mark.parametrize(
    ("name", "ua"),
    [
        ("chromium-156-default", CHROME_UA),
        ("chromium-156-default", SAFARI_UA),  # Safari writes libwebrtc too
        ("chromium-156-default", IPHONE_UA),
        ("chromium-156-default", EPIPHANY_UA),  # WebKitGTK: not Apple's stack, not checked
        ("chromium-156-default", GOOGLEBOT_UA),  # a bot claims no browser
        ("chromium-156-default", "junk"),
        ("chromium-156-default", ""),
        ("firefox-153-default", FIREFOX_UA),
        ("firefox-153-default", EPIPHANY_UA),
        (
            "firefox-153-default",
            "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        ),
    ],
)
def test_no_shape_mismatch_when_the_claim_fits_or_says_nothing(name: str, ua: str) -> None:
    assert candidate_shape_mismatch(correlate(claimed(evidence(name), ua))) is None


def test_no_shape_mismatch_without_a_claim_or_a_confident_dialect() -> None:
    ev = evidence("chromium-156-default")
    assert ev.client is None
    assert candidate_shape_mismatch(correlate(ev)) is None
    # A single srflx line and no SDP: libwebrtc, but not confidently.
    doc = load("chromium-156-default")
    srflx = [c["candidate"] for c in doc["candidates"] if " srflx " in c.get("candidate", "")]
    report = replace(with_candidates(doc, srflx[:1]), sdp=None)
    ev = claimed(evidence(doc, report=report), FIREFOX_UA)
    assert candidate_shape_mismatch(correlate(ev)) is None
    # Chromium's candidates in Firefox's SDP: mixed, so unknown.
    ff = load("firefox-153-default")
    report = replace(page_with(doc), sdp=ff["sdp"])
    ev = claimed(evidence(doc, report=report), FIREFOX_UA)
    assert candidate_shape_mismatch(correlate(ev)) is None


def page_with(doc: dict[str, Any]) -> Any:
    return with_candidates(doc, [c["candidate"] for c in doc["candidates"] if "candidate" in c])


# -- env.ua_network_mismatch --------------------------------------------------------------


def test_android_chromium_with_mdns_names_is_a_desktop_in_disguise() -> None:
    ev = claimed(evidence("chromium-156-default"), ANDROID_CHROME_UA)
    f = json_ok(env_ua_network_mismatch(correlate(ev)))
    assert [x["kind"] for x in f.evidence["findings"]] == ["mdns_on_android"]
    assert f.evidence["findings"][0]["mdns_names"]
    assert "mDNS" in f.summary
    assert f.evidence["claimed"]["os"] == "Android"
    # The same claim without mDNS names (raw host addresses, as Android shows them): fine.
    ev = claimed(evidence("chromium-156-nomdns"), ANDROID_CHROME_UA)
    assert env_ua_network_mismatch(correlate(ev)) is None
    # Firefox for Android is not checked for mDNS.
    ev = claimed(
        evidence("firefox-153-default"),
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
    )
    assert env_ua_network_mismatch(correlate(ev)) is None


@pytest.mark.parametrize("cost", [900, 980, 910, 500, 250, 901])
def test_windows_desktop_whose_only_adapter_is_cellular(cost: int) -> None:
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), cost), CHROME_UA)
    f = json_ok(env_ua_network_mismatch(correlate(ev)))
    assert [x["kind"] for x in f.evidence["findings"]] == ["desktop_cellular_only"]
    assert f.evidence["adapters"][0]["kind"] == "cellular"
    assert "cellular" in f.summary


@pytest.mark.parametrize(
    "ua",
    [
        ANDROID_DESKTOP_MODE_UA,  # Android's "desktop site": a Linux UA
        SAFARI_UA,  # iPadOS Safari sends a macOS UA by default; iPads have LTE
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",  # Chromebooks with LTE
        ANDROID_CHROME_UA,  # a phone on cellular
        IPHONE_UA,
    ],
)
def test_cellular_is_not_odd_for_lookalikes_and_phones(ua: str) -> None:
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), 900), ua)
    assert env_ua_network_mismatch(correlate(ev)) is None


def test_phone_whose_only_adapter_is_wired() -> None:
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), None), ANDROID_CHROME_UA)
    # network-cost absent (0 is not written by libwebrtc): no adapter info, no signal.
    assert env_ua_network_mismatch(correlate(ev)) is None
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), 0), IPHONE_UA)
    f = json_ok(env_ua_network_mismatch(correlate(ev)))
    assert [x["kind"] for x in f.evidence["findings"]] == ["mobile_wired_only"]


@pytest.mark.parametrize(
    ("cost", "ua"),
    [
        (10, ANDROID_CHROME_UA),  # phone on home Wi-Fi
        (10, IPHONE_UA),
        (10, CHROME_UA),  # laptop on Wi-Fi
        (0, CHROME_UA),  # desktop on Ethernet
        (999, ANDROID_CHROME_UA),  # any-address networks: no adapter info
        (999, CHROME_UA),
        (50, IPHONE_UA),  # unknown adapter
        (
            0,
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36",
        ),  # tablet on a dock
    ],
)
def test_ordinary_networks_raise_nothing(cost: int, ua: str) -> None:
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), cost), ua)
    assert env_ua_network_mismatch(correlate(ev)) is None


def test_mixed_adapters_are_not_a_mismatch() -> None:
    ev = claimed(evidence("chromium-156-nomdns"), CHROME_UA)
    assert ev.report is not None
    lines = [c.candidate for c in ev.report.candidates]
    lines[0] = lines[0].replace("network-cost 999", "network-cost 900")
    lines[1] = lines[1].replace("network-cost 999", "network-cost 10")
    report = replace(
        ev.report,
        candidates=tuple(
            replace(c, candidate=x) for c, x in zip(ev.report.candidates, lines, strict=True)
        ),
    )
    c = correlate(replace(ev, report=report))
    assert {a.kind for a in adapters_of(c)} == {"cellular", "wifi", None}
    assert env_ua_network_mismatch(c) is None


def test_no_network_signal_for_bots_unknown_devices_or_no_claim() -> None:
    base = with_cost(evidence("chromium-156-nomdns"), 900)
    for ua in (GOOGLEBOT_UA, "junk"):
        assert env_ua_network_mismatch(correlate(claimed(base, ua))) is None
    assert env_ua_network_mismatch(correlate(base)) is None


def test_carrier_addresses_are_context_not_a_trigger() -> None:
    doc = load("chromium-156-nomdns")
    lines = [
        c["candidate"].replace("10.77.1.2", "100.64.12.7")
        for c in doc["candidates"]
        if "candidate" in c
    ]
    report = with_candidates(doc, lines)
    ev = claimed(evidence(doc, report=report), IPHONE_UA)
    assert env_ua_network_mismatch(correlate(ev)) is None  # a phone behind CGNAT: normal
    ev = claimed(with_cost(evidence(doc, report=report), 0), IPHONE_UA)
    f = json_ok(env_ua_network_mismatch(correlate(ev)))
    assert {a["ip"] for a in f.evidence["carrier_addresses"]} == {"100.64.12.7"}


# -- net.vpn_interface --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "adapter"),
    [(11, "wifi"), (1, "ethernet_or_loopback"), (901, "cellular"), (51, "unknown")],
)
def test_vpn_network_cost(cost: int, adapter: str) -> None:
    ev = claimed(with_cost(evidence("chromium-156-nomdns"), cost), CHROME_UA)
    f = json_ok(net_vpn_interface(correlate(ev)))
    assert f.evidence["adapters"][0]["cost"] == cost
    assert f.evidence["adapters"][0]["adapter"] == adapter
    assert f.evidence["adapters"][0]["vpn"] is True
    assert "VPN" in f.summary


@pytest.mark.parametrize(
    ("address", "tag"),
    [
        ("10.8.0.6", "openvpn_default"),
        ("172.16.0.2", "possible_cloudflare_warp"),
        ("fd7a:115c:a1e0::1234", "tailscale"),
    ],
)
def test_vpn_typical_local_addresses(address: str, tag: str) -> None:
    doc = load("chromium-156-nomdns")
    old = "fd77:1::2" if ":" in address else "10.77.1.2"
    lines = [c["candidate"].replace(old, address) for c in doc["candidates"] if "candidate" in c]
    ev = evidence(doc, report=with_candidates(doc, lines))
    f = json_ok(net_vpn_interface(correlate(ev)))
    assert tag in f.evidence["addresses"][0]["tags"]
    assert f.evidence["addresses"][0]["ip"] == address


def test_broad_ranges_are_not_vpn_evidence() -> None:
    # 10.77.x.x is in 10.64.0.0/10 (Mullvad's pool, and everybody's), 100.64/10 is CGNAT.
    assert net_vpn_interface(correlate(evidence("chromium-156-nomdns"))) is None
    doc = load("chromium-156-nomdns")
    lines = [
        c["candidate"].replace("10.77.1.2", "100.100.1.2")
        for c in doc["candidates"]
        if "candidate" in c
    ]
    assert net_vpn_interface(correlate(evidence(doc, report=with_candidates(doc, lines)))) is None


def test_weights_and_levels() -> None:
    assert RULES_BY_CODE[SignalCode.CANDIDATE_SHAPE_MISMATCH].weight >= 40
    assert RULES_BY_CODE[SignalCode.ENV_UA_NETWORK_MISMATCH].weight < 30  # alone: low
    assert RULES_BY_CODE[SignalCode.NET_VPN_INTERFACE].weight <= 10
    for code in ENV_CODES:
        rule = RULES_BY_CODE[SignalCode(code)]
        assert rule.benign_causes
        assert rule.evidence_fields


def test_built_claims_with_a_hand_parsed_agent() -> None:
    # The pure path, without the adapter's parser.
    claim = build_claim(
        FIREFOX_UA, ParsedAgent(browser="Firefox", browser_version="153.0", os="Linux")
    )
    assert isinstance(claim, ClientClaim)
    assert claim.engine is Engine.GECKO
    assert claim.device is DeviceType.DESKTOP
    ev = replace(evidence("chromium-156-default"), client=claim)
    assert candidate_shape_mismatch(correlate(ev)) is not None
