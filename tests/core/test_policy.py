"""WebRTC IP-handling policy inference: the real captures and hand-made cases per policy."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from typing import Any

import pytest
from tests.core.scoring.capture_evidence import (
    BASE,
    SESSION,
    evidence,
    load,
    page_report,
    with_candidates,
)

from icewatch.core.client import ClientClaim, Engine
from icewatch.core.correlate import correlate
from icewatch.core.document import session_document
from icewatch.core.evidence import (
    Observation,
    ObservationSource,
    PageReport,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.policy import MEANINGS, PolicyInference, infer_policy

ALL_UDP = (StunKind.BINDING, StunKind.ALLOCATE, StunKind.ALLOCATE_AUTHENTICATED)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"


def infer(ev: SessionEvidence) -> PolicyInference:
    p = infer_policy(correlate(ev))
    assert p is not None
    json.dumps(p.as_dict(), allow_nan=False)
    assert p.meaning.endswith(".")
    assert 0.0 <= p.confidence <= 1.0
    assert p.reasons
    return p


def lines_of(doc: dict[str, Any], *types: str) -> list[str]:
    """The capture's candidate strings of these types (and the end-of-candidates)."""
    out: list[str] = []
    for c in doc["candidates"]:
        if "candidate" not in c:
            continue
        if c["candidate"] == "" or c.get("type") in types:
            out.append(c["candidate"])
    return out


def sdp_keeping(*types: str) -> Any:
    def edit(line: str) -> str | None:
        return line if any(f" typ {t}" in line for t in types) else None

    return edit


def tcp_turn(addr: str) -> Observation:
    return Observation(
        source=ObservationSource.TURN,
        kind=StunKind.ALLOCATE_AUTHENTICATED,
        ip=ipaddress.ip_address(addr),
        port=41000,
        transport="tcp",
        at=BASE + 0.05,
        transaction_id="cd" * 12,
        session_id=SESSION,
    )


def with_tcp(ev: SessionEvidence, addr: str) -> SessionEvidence:
    return replace(ev, observations=(*ev.observations, tcp_turn(addr)))


# --- the real captures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "engine", "policy"),
    [
        ("chromium-156-default", "chromium", "default"),
        ("chromium-156-nat", "chromium", "default"),
        ("chromium-156-nomdns", "chromium", "mdns_off"),
        ("firefox-153-default", "firefox", "default"),
        ("firefox-153-nat", "firefox", "default"),
        ("firefox-153-noobfuscate", "firefox", "obfuscation_off"),
    ],
)
def test_captures(name: str, engine: str, policy: str) -> None:
    p = infer(evidence(name))
    assert (p.engine, p.policy, p.engine_from) == (engine, policy, "dialect")
    assert p.confidence >= 0.6


def test_chromium_default_meaning() -> None:
    p = infer(evidence("chromium-156-default"))
    assert p.meaning == (
        "Your browser hides local addresses behind random names but reveals your public "
        "address to any site."
    )
    assert p.setting is None
    assert p.alternatives == ()


def test_chromium_mdns_off_names_the_look_alike() -> None:
    p = infer(evidence("chromium-156-nomdns"))
    assert p.alternatives == ("default_public_and_private_interfaces",)
    assert p.setting == "--disable-features=WebRtcHideLocalIpsWithMdns"
    assert "10.77.1.2" in p.reasons[0]
    assert "local network address" in p.meaning


def test_firefox_default_and_its_look_alike() -> None:
    p = infer(evidence("firefox-153-default"))
    assert p.alternatives == ("default_address_only",)


def test_firefox_noobfuscate_notes_the_dropped_srflx() -> None:
    p = infer(evidence("firefox-153-noobfuscate"))
    assert p.setting == "media.peerconnection.ice.obfuscate_host_addresses = false"
    assert any("srflx" in r and "Binding" in r for r in p.reasons)


# --- hand-made: one per policy -----------------------------------------------------------------


def test_chromium_public_and_private_interfaces() -> None:
    doc = load("chromium-156-nomdns")
    base = page_report(doc)
    host = next(c.candidate for c in base.candidates if " typ host" in c.candidate)
    extra = host.replace("10.77.1.2", "192.168.77.5")
    report = with_candidates(doc, [c.candidate for c in base.candidates] + [extra])
    p = infer(evidence(doc, report=report))
    assert p.policy == "default_public_and_private_interfaces"
    assert p.alternatives == ("mdns_off",)
    assert "192.168.77.5" in p.reasons[0]


def test_chromium_public_interface_only() -> None:
    doc = load("chromium-156-default")
    report = with_candidates(doc, lines_of(doc, "srflx"), sdp_line=sdp_keeping("srflx"))
    p = infer(evidence(doc, report=report))
    assert (p.engine, p.policy) == ("chromium", "default_public_interface_only")
    assert p.setting == "WebRtcIPHandling = default_public_interface_only"
    assert "no local address" in p.meaning


def test_firefox_no_host() -> None:
    doc = load("firefox-153-default")
    report = with_candidates(doc, lines_of(doc, "srflx"), sdp_line=sdp_keeping("srflx"))
    p = infer(evidence(doc, report=report))
    assert (p.engine, p.policy) == ("firefox", "no_host")
    assert p.setting == "media.peerconnection.ice.no_host = true"


def test_chromium_disable_non_proxied_udp_through_the_proxy() -> None:
    # The e2e scenario: no UDP candidate, no UDP packet, TURN over TCP from the proxy.
    doc = load("chromium-156-default")
    report = with_candidates(doc, [""], sdp_line=sdp_keeping())
    ev = with_tcp(evidence(doc, report=report, drop=ALL_UDP, http_ip="10.77.1.3"), "10.77.1.3")
    p = infer(ev)
    assert (p.engine, p.policy) == ("chromium", "disable_non_proxied_udp")
    assert p.confidence == 0.9
    assert "10.77.1.3 (the HTTP client address)" in p.reasons[0]
    assert "proxy" in p.meaning


def test_chromium_disable_non_proxied_udp_without_a_proxy() -> None:
    doc = load("chromium-156-default")
    report = with_candidates(doc, [""], sdp_line=sdp_keeping())
    p = infer(evidence(doc, report=report, drop=ALL_UDP))
    assert p.policy == "disable_non_proxied_udp"
    assert p.confidence == 0.6
    assert p.alternatives == ("udp_blocked",)


def test_firefox_proxy_only_ended_by_the_deadline() -> None:
    doc = load("firefox-153-default")
    report = replace(
        with_candidates(doc, [], sdp_line=sdp_keeping()),
        ended_by="deadline",
    )
    p = infer(evidence(doc, report=report, drop=ALL_UDP))
    assert (p.engine, p.policy) == ("firefox", "proxy_only")
    assert any("deadline" in r for r in p.reasons)
    assert p.setting is not None
    assert "proxy_only" in p.setting


def test_firefox_relay_only() -> None:
    doc = load("firefox-153-default")
    relay = "candidate:4 1 UDP 8331263 10.77.1.1 50000 typ relay raddr 10.77.1.2 rport 56286"
    report = with_candidates(doc, [relay, ""], sdp_line=sdp_keeping())
    p = infer(evidence(doc, report=report))
    assert (p.engine, p.policy) == ("firefox", "relay_only")
    assert p.setting == "media.peerconnection.ice.relay_only = true"


def test_webrtc_disabled_in_firefox() -> None:
    report = PageReport(webrtc=WebRtcStatus.MISSING, user_agent=FIREFOX_UA)
    p = infer(evidence("firefox-153-default", report=report))
    assert (p.engine, p.policy, p.engine_from) == ("firefox", "webrtc_disabled", "user_agent")
    assert p.setting == "media.peerconnection.enabled = false"
    assert p.confidence <= 0.5  # the engine is only claimed
    assert "turned off" in p.meaning


def test_webrtc_error_is_unknown() -> None:
    report = PageReport(webrtc=WebRtcStatus.ERROR, error="boom", user_agent=FIREFOX_UA)
    p = infer(evidence("firefox-153-default", report=report))
    assert p.policy == "unknown"
    assert p.confidence == 0.0


def test_no_report_no_inference() -> None:
    ev = replace(evidence("chromium-156-default"), report=None)
    assert infer_policy(correlate(ev)) is None


def test_engine_from_the_client_claim_without_dialect() -> None:
    report = PageReport(webrtc=WebRtcStatus.MISSING)
    ev = replace(
        evidence("chromium-156-default", report=report), client=ClientClaim(engine=Engine.GECKO)
    )
    p = infer(ev)
    assert (p.engine, p.engine_from) == ("firefox", "client")


def test_webkit_without_host_candidates_is_its_default() -> None:
    doc = load("chromium-156-default")
    report = with_candidates(doc, lines_of(doc, "srflx"), sdp_line=sdp_keeping("srflx"))
    ev = replace(evidence(doc, report=report), client=ClientClaim(engine=Engine.WEBKIT))
    p = infer(ev)
    assert (p.engine, p.policy) == ("webkit", "default")
    assert "camera or microphone" in p.meaning


def test_unknown_engine_uses_generic_names() -> None:
    report = PageReport(webrtc=WebRtcStatus.MISSING, user_agent="curl/8.0")
    ev = replace(evidence("chromium-156-default", report=report))
    ev = replace(ev, http=replace(ev.http, user_agent="curl/8.0"))
    p = infer(ev)
    assert (p.engine, p.policy) == ("unknown", "webrtc_disabled")


def test_every_policy_has_a_meaning() -> None:
    for (_, policy), text in MEANINGS.items():
        assert text.endswith("."), policy
        assert "\n" not in text


def test_session_json_carries_the_policy() -> None:
    doc = session_document(evidence("chromium-156-nomdns"), None)
    assert doc["policy"]["policy"] == "mdns_off"
    assert doc["policy"]["engine"] == "chromium"
    assert set(doc["policy"]) == {
        "engine",
        "engine_from",
        "policy",
        "confidence",
        "meaning",
        "setting",
        "alternatives",
        "reasons",
    }
