"""``ip.datacenter``, ``ip.vpn``, ``ip.tor``, ``ip.relay_service``, ``ip.crawler`` on
evidence carrying IP-intelligence lookups (as the intel enricher stores them)."""

from __future__ import annotations

import ipaddress
import json

from icewatch.core.evidence import (
    HttpSighting,
    IntelEvidence,
    IntelLookup,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
    session_evidence_from_dict,
)
from icewatch.core.intel import IntelHit, IntelResult, Kind, Provenance
from icewatch.core.scoring import evaluate

ip = ipaddress.ip_address
HTTP = "52.95.110.1"
OBS = "198.51.100.20"


def hit(kind: Kind, source: str = "aws", prefix: str = "52.95.0.0/16", **kw: object) -> IntelHit:
    return IntelHit(
        kind,
        str(kw.get("provider", "Amazon Web Services")),
        None,
        None,
        Provenance.of(source, "2026-08-22", prefix, kw.get("asn")),  # type: ignore[arg-type]
    )


def session(*lookups: IntelLookup, data: str = "compiled 2026-08-22") -> SessionEvidence:
    http = HttpSighting(ip(HTTP), ip(HTTP), 1000.0, user_agent="Mozilla/5.0")
    obs = Observation(
        ObservationSource.STUN, StunKind.BINDING, ip(OBS), 40000, "udp", 1000.5, "ab",
    )  # fmt: skip
    report = PageReport(
        WebRtcStatus.OK,
        candidates=(
            ReportedCandidate(
                f"candidate:1 1 udp 1677729535 {OBS} 40000 typ srflx raddr 0.0.0.0 rport 0"
            ),
        ),
        ended_by="complete",
    )
    return SessionEvidence(
        "s1", 1000.0, http, report=report, reported_at=1001.0, observations=(obs,),
        intel=IntelEvidence(data, lookups),
    )  # fmt: skip


def lookup(addr: str, *hits: IntelHit, seen: tuple[str, ...] = ("http",)) -> IntelLookup:
    return IntelLookup(ip(addr), seen, IntelResult(hits))


def signals(ev: SessionEvidence) -> dict[str, dict[str, object]]:
    _, verdict = evaluate(ev)
    return {s.code: s.as_dict() for s in verdict.signals}


def test_no_hits_no_signal() -> None:
    ev = session(lookup(HTTP), lookup(OBS, seen=("observed", "reported")))
    assert not {c for c in signals(ev) if c.startswith("ip.") and c != "ip.webrtc_http_mismatch"}
    assert not any(c.startswith("ip.d") for c in signals(session()))  # not enriched at all


def test_datacenter_on_the_http_address_with_provenance() -> None:
    ev = session(lookup(HTTP, hit(Kind.CLOUD)))
    sig = signals(ev)["ip.datacenter"]
    assert sig["weight"] == 35
    assert "HTTP client address 52.95.110.1" in str(sig["summary"])
    assert "aws 2026-08-22, 52.95.0.0/16" in str(sig["summary"])
    ev_json = sig["evidence"]
    assert isinstance(ev_json, dict)
    (addr,) = ev_json["addresses"]
    assert addr["seen_as"] == ["http"]
    assert addr["where"] == ["http"]
    assert addr["hits"][0]["provenance"] == {
        "source": "aws", "version": "2026-08-22", "prefix": "52.95.0.0/16"
    }  # fmt: skip
    assert ev_json["data"] == "compiled 2026-08-22"
    json.dumps(sig)


def test_observed_webrtc_address_in_a_datacenter() -> None:
    ev = session(lookup(OBS, hit(Kind.HOSTING, "x4b-datacenter-v4"), seen=("observed", "reported")))
    sig = signals(ev)["ip.datacenter"]
    assert "WebRTC (observed) address 198.51.100.20" in str(sig["summary"])
    addr = sig["evidence"]["addresses"][0]  # type: ignore[index]
    assert addr["where"] == ["stun", "srflx"]


def test_one_class_per_address_most_specific_wins() -> None:
    ev = session(
        lookup(HTTP, hit(Kind.HOSTING, "x4b"), hit(Kind.VPN, "x4b-vpn", provider="Mullvad")),
        lookup(OBS, hit(Kind.CDN, "cloudflare"), hit(Kind.RELAY_SERVICE, "apple"),
               seen=("observed",)),
    )  # fmt: skip
    sig = signals(ev)
    assert "ip.datacenter" not in sig
    assert sig["ip.vpn"]["weight"] == 40
    vpn_addr = sig["ip.vpn"]["evidence"]["addresses"][0]  # type: ignore[index]
    assert [h["kind"] for h in vpn_addr["hits"]] == ["vpn"]
    assert [h["kind"] for h in vpn_addr["other_hits"]] == ["hosting"]
    assert sig["ip.relay_service"]["weight"] == 10


def test_tor_weighs_most_and_crawler_is_informational() -> None:
    ev = session(
        lookup(HTTP, hit(Kind.TOR, "tor-exits", provider="Tor Project")),
        lookup(OBS, hit(Kind.CRAWLER, "googlebot", provider="Googlebot"), hit(Kind.CLOUD),
               seen=("observed",)),
    )  # fmt: skip
    sig = signals(ev)
    assert sig["ip.tor"]["weight"] == 60
    assert sig["ip.crawler"]["weight"] == 0
    assert "ip.datacenter" not in sig


def test_allow_list_wins_and_is_named() -> None:
    allow = hit(
        Kind.ALLOW, "list:allow:office.txt", "52.95.110.0/24", provider="operator allow list"
    )
    ev = session(lookup(HTTP, hit(Kind.CLOUD), allow))
    assert "ip.datacenter" not in signals(ev)
    # another address still fires, and the evidence names the allowed one and its list
    ev = session(
        lookup(HTTP, hit(Kind.CLOUD), allow),
        lookup(OBS, hit(Kind.HOSTING, "x4b"), seen=("observed",)),
    )
    sig = signals(ev)["ip.datacenter"]
    assert sig["evidence"]["count"] == 1  # type: ignore[index]
    (allowed,) = sig["evidence"]["allowed"]  # type: ignore[index]
    assert allowed["ip"] == HTTP
    assert allowed["lists"][0]["source"] == "list:allow:office.txt"


def test_a_trusted_proxy_address_never_counts() -> None:
    ev = session(lookup("203.0.113.5", hit(Kind.CLOUD), seen=("http_peer",)))
    assert "ip.datacenter" not in signals(ev)


def test_asn_list_provenance_in_the_summary() -> None:
    h = hit(Kind.HOSTING, "x4b-datacenter-asn", "198.51.100.0/24", provider="X4BNet", asn=64500)
    ev = session(lookup(OBS, h, seen=("observed",)))
    assert "AS64500" in str(signals(ev)["ip.datacenter"]["summary"])


def test_datacenter_plus_leak_is_high() -> None:
    # HTTP through a VPN exit, WebRTC observed from another address: the classic leak.
    ev = session(lookup(HTTP, hit(Kind.VPN, "x4b-vpn-v4", provider="X4BNet VPN")))
    _, verdict = evaluate(ev)
    codes = {s.code for s in verdict.signals}
    assert {"ip.vpn", "ip.webrtc_http_mismatch"} <= codes
    assert verdict.level.value == "high"


def test_intel_evidence_round_trips_through_the_stored_form() -> None:
    ev = session(
        lookup(HTTP, hit(Kind.CLOUD)),
        IntelLookup(
            ip(OBS),
            ("observed",),
            IntelResult(
                (hit(Kind.TOR, "tor-exits"),),
                64500,
                "Example",
                Provenance.of("iptoasn", "2026-11-01", "198.51.100.0/24"),
            ),
        ),
    )
    back = session_evidence_from_dict(json.loads(json.dumps(ev.as_dict())))
    assert back == ev
    assert back.intel.lookups[1].result.asn == 64500
    older = ev.as_dict()
    del older["intel"]
    assert session_evidence_from_dict(older).intel == IntelEvidence()
