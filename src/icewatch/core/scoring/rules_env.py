"""Environment consistency: the claimed client held against what its WebRTC stack and
network show.

* ``candidate.shape_mismatch`` — the dialect of the candidates and SDP
  (:mod:`icewatch.core.dialect`) contradicts the engine the user agent or the client
  hints claim (Chromium that says it is Firefox, Firefox that says it is Chrome);
* ``env.ua_network_mismatch`` — the claimed device and platform against the network
  evidence: mDNS host names from a claimed Chromium on Android (which has no mDNS
  responder), a claimed Windows/macOS desktop whose only adapter is cellular, a claimed
  phone whose only adapter is wired;
* ``net.vpn_interface`` — a VPN adapter in libwebrtc's ``network-cost`` (+1 on the
  underlying type's cost) or a local address in a range VPN clients use by default.

The claim comes from ``SessionEvidence.client`` (filled by the web adapter's user-agent
enricher); without it the first two rules stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from icewatch.core.client import APPLE_OSES, ClientClaim, DeviceType, Engine
from icewatch.core.correlate import AddressSighting, Correlation
from icewatch.core.dialect import Dialect, DialectFeature, DialectResult, dialect_of
from icewatch.core.ice import Candidate
from icewatch.core.ice.priority import network_adapter_from_cost
from icewatch.core.netclass import TAG_TABLE, Category, Tag, classify_ip
from icewatch.core.scoring.evidence_json import listed, short
from icewatch.core.scoring.rule import Finding

__all__ = [
    "VPN_TAGS",
    "AdapterSighting",
    "adapters_of",
    "candidate_shape_mismatch",
    "env_ua_network_mismatch",
    "net_vpn_interface",
]

_ENGINE_LABEL: Final = {
    Engine.BLINK: "a Chromium-based (Blink) browser",
    Engine.GECKO: "a Gecko browser (Firefox's engine)",
    Engine.WEBKIT: "a WebKit browser (Safari's engine)",
}
_DIALECT_LABEL: Final = {
    Dialect.LIBWEBRTC: "the libwebrtc way (Chromium, Edge, Opera, Brave, Safari)",
    Dialect.FIREFOX: "the Firefox way (nICEr)",
}
#: Overlay/VPN tags specific enough to report: the "very_low" ones (100.64.0.0/10,
#: 10.64.0.0/10) are the carriers' and everybody's private ranges too.
VPN_TAGS: Final = frozenset(
    info.tag
    for info in TAG_TABLE
    if info.weight_hint != "very_low"
    and info.tag
    in {
        Tag.TAILSCALE,
        Tag.POSSIBLE_ZEROTIER,
        Tag.OPENVPN_DEFAULT,
        Tag.POSSIBLE_CLOUDFLARE_WARP,
        Tag.CLOUDFLARE_WARP,
        Tag.MULLVAD,
    }
)
#: Desktop platforms where a cellular-only adapter is out of place. Linux is left out
#: (Chrome and Firefox for Android send a Linux desktop UA in "desktop site" mode),
#: Chrome OS too (Chromebooks with LTE modems), and macOS only for non-Safari claims
#: (iPadOS Safari sends a macOS UA by default, and iPads have cellular models).
_CELLULAR_ODD_DESKTOPS: Final = frozenset({"Windows", "Mac OS X", "macOS"})
#: Addresses that carriers use for their subscribers (context for the adapter findings).
_CARRIER_TAGS: Final = frozenset({Tag.NAT64_WELL_KNOWN, Tag.DS_LITE})


# --- candidate.shape_mismatch -------------------------------------------------------------


def _claimed_engines(claim: ClientClaim) -> list[tuple[str, Engine]]:
    out: list[tuple[str, Engine]] = []
    # WebKit outside Apple's platforms (WebKitGTK, WPE) ships another WebRTC stack.
    if claim.engine is not Engine.UNKNOWN and (
        claim.engine is not Engine.WEBKIT or claim.os in APPLE_OSES
    ):
        out.append(("user_agent", claim.engine))
    if claim.hints_engine is Engine.BLINK:
        out.append(("client_hints", Engine.BLINK))
    return out


def _features_json(features: tuple[DialectFeature, ...]) -> list[dict[str, Any]]:
    return listed([f.as_dict() for f in features])


def _claim_json(claim: ClientClaim) -> dict[str, Any]:
    hints = claim.hints
    return {
        "browser": claim.browser,
        "browser_version": claim.browser_version,
        "engine": claim.engine.value,
        "os": claim.os,
        "device": claim.device.value,
        "user_agent": claim.user_agent,
        "hints_brands": [] if hints is None else [list(b) for b in hints.real_brands],
        "hints_platform": None if hints is None else hints.platform,
        "hints_mobile": None if hints is None else hints.mobile,
        "notes": list(claim.notes),
    }


def _shape_sentence(claim: ClientClaim, by: list[tuple[str, Engine]], d: DialectResult) -> str:
    votes = len(d.voting(d.dialect))
    tail = (
        f"its WebRTC candidates and SDP are written {_DIALECT_LABEL[d.dialect]}: "
        f"{votes} features agree (confidence {d.confidence:.2f})."
    )
    sources = {src for src, _ in by}
    if "user_agent" in sources:
        engine = next(e for src, e in by if src == "user_agent")
        lead = f"The user agent claims {claim.label()}, {_ENGINE_LABEL[engine]}"
        if "client_hints" in sources:
            lead += ", and its client hints name Chromium brands"
        return f"{lead}, but {tail}"
    brands = ", ".join(b for b, _ in (claim.hints.real_brands if claim.hints else ())[:3])
    return (
        f"The client hints name Chromium brands ({short(brands, 60)}), which only "
        f"Chromium-based browsers send, but {tail}"
    )


def candidate_shape_mismatch(c: Correlation) -> Finding | None:
    """The WebRTC dialect contradicts the engine the client claims (user agent or hints).

    Silent unless the dialect is confident (:data:`~icewatch.core.dialect.CONFIDENT`) and
    the claim names an engine; libwebrtc output is compatible with Blink and WebKit
    claims, Firefox output with Gecko claims."""
    claim = c.evidence.client if c.evidence is not None else None
    if claim is None or claim.device is DeviceType.BOT:
        return None
    d = dialect_of(c)
    if d is None or not d.confident:
        return None
    contradicting = [
        (src, e) for src, e in _claimed_engines(claim) if e.value not in d.compatible_engines
    ]
    if not contradicting:
        return None
    other = Dialect.FIREFOX if d.dialect is Dialect.LIBWEBRTC else Dialect.LIBWEBRTC
    return Finding(
        _shape_sentence(claim, contradicting, d),
        {
            "claimed": _claim_json(claim),
            "contradicted_by": [src for src, _ in contradicting],
            "dialect": d.dialect.value,
            "confidence": d.confidence,
            "compatible_engines": list(d.compatible_engines),
            "features": _features_json(d.voting(d.dialect)),
            "against": _features_json(d.voting(other)),
        },
    )


# --- env.ua_network_mismatch -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdapterSighting:
    """One ``network-cost`` a candidate carried, read as libwebrtc's adapter type."""

    cost: int
    adapter: str  # network_adapter_from_cost's label ("wifi", "cellular_4g", "any_address"…)
    vpn: bool
    kind: str | None  # "ethernet", "wifi", "cellular", or None: says nothing about the adapter
    candidate: str  # the line, bounded

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost": self.cost,
            "adapter": self.adapter,
            "vpn": self.vpn,
            "kind": self.kind,
            "candidate": self.candidate,
        }


def _kind(adapter: str) -> str | None:
    if adapter == "ethernet_or_loopback":
        return "ethernet"
    if adapter == "wifi":
        return "wifi"
    if adapter.startswith("cellular"):
        return "cellular"
    return None  # unknown (50), any_address (999: no adapter info), unlisted


def _all_candidates(c: Correlation) -> list[Candidate]:
    return [e.candidate for e in c.candidates] + list(c.sdp_candidates)


def adapters_of(c: Correlation) -> tuple[AdapterSighting, ...]:
    """Every distinct ``network-cost`` in the reported candidates (events and SDP)."""
    seen: dict[int, AdapterSighting] = {}
    for cand in _all_candidates(c):
        cost = cand.network_cost
        if cost is None or cost in seen:
            continue
        adapter, vpn = network_adapter_from_cost(cost)
        seen[cost] = AdapterSighting(cost, adapter, vpn, _kind(adapter), (cand.raw or "")[:256])
    return tuple(seen.values())


def _carrier_addresses(c: Correlation) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in (*c.reported_local, *c.reported_public):
        tags = set(classify_ip(str(s.ip)).tags) & _CARRIER_TAGS
        if s.category is Category.CGNAT or tags:
            rows.append(
                {
                    "ip": str(s.ip),
                    "category": s.category.value,
                    "tags": sorted(t.value for t in tags),
                    "where": list(s.where),
                }
            )
    return rows


def env_ua_network_mismatch(c: Correlation) -> Finding | None:
    """The claimed device or platform does not fit the network the browser reports."""
    claim = c.evidence.client if c.evidence is not None else None
    if claim is None or claim.device in (DeviceType.BOT, DeviceType.UNKNOWN):
        return None
    adapters = adapters_of(c)
    kinds = {a.kind for a in adapters if a.kind is not None}
    findings: list[dict[str, Any]] = []
    sentences: list[str] = []
    if claim.os == "Android" and claim.engine is Engine.BLINK and c.mdns_names:
        findings.append(
            {
                "kind": "mdns_on_android",
                "detail": "Chromium on Android has no mDNS responder: it never hides host "
                "addresses behind .local names; desktop Chromium does",
                "mdns_names": listed(list(c.mdns_names)),
            }
        )
        sentences.append(
            f"the user agent claims {claim.label()}, but the candidates hide host addresses "
            f"behind mDNS names ({c.mdns_names[0]}), which Chromium does on desktops only"
        )
    odd_desktop = claim.os in _CELLULAR_ODD_DESKTOPS and not (
        claim.os != "Windows" and claim.engine is Engine.WEBKIT
    )
    if claim.device is DeviceType.DESKTOP and odd_desktop and kinds == {"cellular"}:
        findings.append(
            {
                "kind": "desktop_cellular_only",
                "detail": "a desktop claim whose every adapter with a known type is cellular",
                "adapters": [a.as_dict() for a in adapters if a.kind is not None][:8],
            }
        )
        sentences.append(
            f"the user agent claims {claim.label()}, but every network adapter the browser "
            f"reports is cellular"
        )
    if claim.device is DeviceType.MOBILE and kinds == {"ethernet"}:
        findings.append(
            {
                "kind": "mobile_wired_only",
                "detail": "a phone claim whose every adapter with a known type is wired "
                "(network-cost 0)",
                "adapters": [a.as_dict() for a in adapters if a.kind is not None][:8],
            }
        )
        sentences.append(
            f"the user agent claims {claim.label()}, but its only network adapter is wired Ethernet"
        )
    if not findings:
        return None
    summary = "; ".join(sentences)
    return Finding(
        summary[0].upper() + summary[1:] + ".",
        {
            "claimed": _claim_json(claim),
            "findings": findings,
            "adapters": listed([a.as_dict() for a in adapters]),
            "carrier_addresses": listed(_carrier_addresses(c)),
        },
    )


# --- net.vpn_interface -------------------------------------------------------------------


def _vpn_addresses(c: Correlation) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    groups: tuple[tuple[str, tuple[AddressSighting, ...]], ...] = (
        ("page", (*c.reported_local, *c.reported_public)),
        ("server", c.observed),
    )
    for label, sightings in groups:
        for s in sightings:
            key = str(s.ip)
            tags = sorted(t.value for t in set(classify_ip(key).tags) & VPN_TAGS)
            if tags and key not in seen:
                seen.add(key)
                rows.append(
                    {
                        "ip": key,
                        "category": s.category.value,
                        "tags": tags,
                        "where": list(s.where),
                        "seen_by": label,
                    }
                )
    return rows


def net_vpn_interface(c: Correlation) -> Finding | None:
    """A VPN adapter (libwebrtc's network-cost +1) or an address in a VPN client's range."""
    vpn = [a for a in adapters_of(c) if a.vpn]
    addresses = _vpn_addresses(c)
    if not vpn and not addresses:
        return None
    parts: list[str] = []
    if vpn:
        costs = ", ".join(f"{a.cost} ({a.adapter} + VPN)" for a in vpn[:3])
        parts.append(f"the browser reports a VPN network adapter (network-cost {costs})")
    if addresses:
        first = addresses[0]
        parts.append(
            f"the address {first['ip']} is in a range VPN software uses by default "
            f"({', '.join(first['tags'])})"
        )
    summary = "; ".join(parts)
    return Finding(
        summary[0].upper() + summary[1:] + ".",
        {
            "adapters": [a.as_dict() for a in vpn][:8],
            "addresses": listed(addresses),
            "count": len(vpn) + len(addresses),
        },
    )
