"""Which WebRTC IP-handling policy the browser applies, inferred from the evidence.

Browsers let users and administrators choose how much of the network WebRTC may show.
Each choice leaves a recognisable shape in what the page reports (candidates) and what
icewatch's own STUN/TURN socket receives (packets, which no script can forge):

==================================  ===================================================
Chromium (``WebRtcIPHandling``)     what it looks like
==================================  ===================================================
``default``                         ``<uuid>.local`` host candidates + srflx over UDP
mDNS hiding off                     raw host IPs, one per family (the default route's)
``default_public_and_private_…``    raw host IPs of *every* interface (several per family)
``default_public_interface_only``   no host candidate, only srflx over UDP
``disable_non_proxied_udp``         no UDP at all: TURN over TCP through the proxy, or
                                    nothing
==================================  ===================================================

Firefox: default (mDNS hosts + srflx; ``default_address_only`` looks the same on a
single-interface machine), ``obfuscate_host_addresses=false`` (raw hosts; the srflx is
dropped from the list when it equals the host address, the Binding still arrives),
``no_host`` (only srflx), ``proxy_only`` / ``proxy_only_if_behind_proxy`` (TCP through
the proxy or nothing; gathering may never end, so the collector's deadline ends it),
``relay_only`` (only relay candidates), ``media.peerconnection.enabled=false`` (no
``RTCPeerConnection``).

The engine comes from the candidates' and SDP's dialect (:mod:`icewatch.core.dialect`),
falling back to the parsed user agent (``evidence.client``) and then to the user agent
the page reported. Where two policies give the same shape (mDNS hiding off vs
``default_public_and_private_interfaces`` on a one-interface machine) the result names
the likelier one and lists the other in ``alternatives``, with a lower confidence.

Pure: the input is a :class:`Correlation`; nothing raises on any input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from icewatch.core.addr import IPAddress
from icewatch.core.client import Engine
from icewatch.core.correlate import Correlation, normalize_ip
from icewatch.core.dialect import Dialect, dialect_of
from icewatch.core.evidence import ObservationSource, WebRtcStatus
from icewatch.core.forensics import claimed_browser
from icewatch.core.ice import CandidateType, Transport
from icewatch.core.ice.grammar import AddressKind

__all__ = [
    "CHROMIUM",
    "FIREFOX",
    "MEANINGS",
    "UNKNOWN",
    "WEBKIT",
    "PolicyInference",
    "infer_policy",
]

CHROMIUM: Final = "chromium"  # libwebrtc in Chromium and everything built on it
FIREFOX: Final = "firefox"
WEBKIT: Final = "webkit"
UNKNOWN: Final = "unknown"

#: One plain sentence per (engine, policy) for the leak-test page; ``(None, policy)``
#: is the fallback for any engine.
MEANINGS: Final[dict[tuple[str | None, str], str]] = {
    (None, "default"): (
        "Your browser hides local addresses behind random names but reveals your public "
        "address to any site."
    ),
    (WEBKIT, "default"): (
        "Your browser shows no local address until a site gets camera or microphone "
        "access, but reveals your public address to any site."
    ),
    (None, "mdns_off"): (
        "Your browser shows your local network address and your public address to any site."
    ),
    (None, "obfuscation_off"): (
        "Your browser shows your local network addresses and your public address to any site."
    ),
    (None, "default_public_and_private_interfaces"): (
        "Your browser shows the addresses of all its network interfaces, local and public, "
        "to any site."
    ),
    (None, "default_public_interface_only"): (
        "Your browser shows no local address, but reveals the public address of its "
        "default route to any site."
    ),
    (None, "no_host"): (
        "Your browser shows no local address, but reveals your public address to any site."
    ),
    (None, "relay_only"): (
        "Your browser connects only through relay servers: sites see no local address, "
        "but a site's own relay still sees your public address."
    ),
    (None, "disable_non_proxied_udp"): (
        "Your browser sends WebRTC only through your proxy (or not at all): sites see the "
        "proxy's address, not yours."
    ),
    (None, "proxy_only"): (
        "Your browser sends WebRTC only through your proxy (or not at all): sites see the "
        "proxy's address, not yours."
    ),
    (None, "webrtc_disabled"): (
        "WebRTC is turned off in your browser: no site can learn your addresses through it."
    ),
    (None, "unknown"): ("icewatch could not tell how your browser handles WebRTC addresses."),
}

#: The policy names per engine for the shapes that differ only in what the engine calls them.
_NO_HOST: Final = {FIREFOX: "no_host", WEBKIT: "default"}
_PROXIED: Final = {FIREFOX: "proxy_only"}
_RAW_HOSTS: Final = {FIREFOX: "obfuscation_off"}

_SETTING: Final[dict[tuple[str, str], str]] = {
    (CHROMIUM, "mdns_off"): "--disable-features=WebRtcHideLocalIpsWithMdns",
    (CHROMIUM, "default_public_and_private_interfaces"): (
        "WebRtcIPHandling = default_public_and_private_interfaces"
    ),
    (CHROMIUM, "default_public_interface_only"): (
        "WebRtcIPHandling = default_public_interface_only"
    ),
    (CHROMIUM, "disable_non_proxied_udp"): "WebRtcIPHandling = disable_non_proxied_udp",
    (FIREFOX, "obfuscation_off"): "media.peerconnection.ice.obfuscate_host_addresses = false",
    (FIREFOX, "default"): "(no pref changed; or media.peerconnection.ice.default_address_only)",
    (FIREFOX, "no_host"): "media.peerconnection.ice.no_host = true",
    (FIREFOX, "proxy_only"): (
        "media.peerconnection.ice.proxy_only (or proxy_only_if_behind_proxy) = true"
    ),
    (FIREFOX, "relay_only"): "media.peerconnection.ice.relay_only = true",
    (FIREFOX, "webrtc_disabled"): "media.peerconnection.enabled = false",
}


@dataclass(frozen=True, slots=True)
class PolicyInference:
    """The inferred policy: ``engine`` (``chromium`` | ``firefox`` | ``webkit`` |
    ``unknown``), ``policy`` (the engine's own name where it has one), ``confidence``
    (0 to 1), ``reasons`` (the facts it rests on), ``meaning`` (one plain sentence for the
    leak-test page), ``alternatives`` (policies that look the same), ``setting`` (the
    flag, policy or pref that produces it, when there is one) and ``engine_from`` (where
    the engine came from: ``dialect``, ``client`` or ``user_agent``)."""

    engine: str
    policy: str
    confidence: float
    reasons: tuple[str, ...]
    meaning: str
    alternatives: tuple[str, ...] = ()
    setting: str | None = None
    engine_from: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "engine_from": self.engine_from,
            "policy": self.policy,
            "confidence": self.confidence,
            "meaning": self.meaning,
            "setting": self.setting,
            "alternatives": list(self.alternatives),
            "reasons": list(self.reasons),
        }


def _engine(c: Correlation) -> tuple[str, str]:
    """The engine whose policies apply, and where that came from."""
    dialect = dialect_of(c)
    if dialect is not None and dialect.dialect is Dialect.FIREFOX:
        return FIREFOX, "dialect"
    client = c.evidence.client if c.evidence is not None else None
    if dialect is not None and dialect.dialect is Dialect.LIBWEBRTC:
        # libwebrtc is Chromium's and WebKit's: the claim tells them apart.
        if client is not None and client.engine is Engine.WEBKIT:
            return WEBKIT, "dialect"
        return CHROMIUM, "dialect"
    if client is not None and client.engine is not Engine.UNKNOWN:
        return {Engine.BLINK: CHROMIUM, Engine.GECKO: FIREFOX, Engine.WEBKIT: WEBKIT}[
            client.engine
        ], "client"
    ua = c.report.user_agent if c.report is not None else ""
    claimed = claimed_browser(ua or (c.evidence.http.user_agent if c.evidence else ""))
    if claimed is not None:
        name = {"firefox": FIREFOX, "safari": WEBKIT}.get(claimed.name, CHROMIUM)
        return name, "user_agent"
    return UNKNOWN, ""


def _meaning(engine: str, policy: str) -> str:
    return (
        MEANINGS.get((engine, policy))
        or MEANINGS.get((None, policy))
        or MEANINGS[(None, "unknown")]
    )


def _result(
    engine: str,
    engine_from: str,
    policy: str,
    confidence: float,
    reasons: list[str],
    alternatives: tuple[str, ...] = (),
) -> PolicyInference:
    if engine_from != "dialect":
        # The engine is only claimed: a policy name of the wrong browser is possible.
        confidence = min(confidence, 0.5)
    return PolicyInference(
        engine=engine,
        policy=policy,
        confidence=round(confidence, 2),
        reasons=tuple(reasons),
        meaning=_meaning(engine, policy),
        alternatives=alternatives,
        setting=_SETTING.get((engine, policy)),
        engine_from=engine_from,
    )


def infer_policy(c: Correlation) -> PolicyInference | None:
    """The browser's WebRTC IP-handling policy, or ``None`` before the page reported."""
    report = c.report
    if report is None:
        return None
    engine, engine_from = _engine(c)
    if report.webrtc is WebRtcStatus.MISSING:
        return _result(
            engine,
            engine_from or "user_agent",
            "webrtc_disabled",
            0.9 if engine_from else 0.5,
            ["the page found no RTCPeerConnection"],
        )
    if report.webrtc is not WebRtcStatus.OK:
        return _result(engine, engine_from, "unknown", 0.0, ["creating RTCPeerConnection threw"])

    entries = [e.candidate for e in c.candidates] or list(c.sdp_candidates)
    hosts = [e for e in entries if e.type is CandidateType.HOST]
    udp_hosts = [e for e in hosts if e.transport is Transport.UDP]
    mdns_hosts = [e for e in udp_hosts if e.address_kind is AddressKind.MDNS]
    raw_hosts: dict[int, set[IPAddress]] = {}
    for e in udp_hosts:
        if e.address_kind is AddressKind.IP and not isinstance(e.address, str):
            raw_hosts.setdefault(e.address.ip.version, set()).add(normalize_ip(e.address.ip))
    srflx = [e for e in entries if e.type in (CandidateType.SRFLX, CandidateType.PRFLX)]
    relays = [e for e in entries if e.type is CandidateType.RELAY]
    udp_candidates = [e for e in entries if e.transport is Transport.UDP]
    stun_turn = [o for o in c.observations if o.source is not ObservationSource.ICE]
    udp_seen = any(o.transport.lower() == "udp" for o in stun_turn)
    tcp_seen = [o for o in stun_turn if o.transport.lower() == "tcp"]
    reasons: list[str] = []

    # No UDP anywhere: the proxy-only policies (or UDP blocked before the first hop).
    if not udp_candidates and not udp_seen:
        policy = _PROXIED.get(engine, "disable_non_proxied_udp")
        if tcp_seen:
            proxy = tcp_seen[0].ip
            via = "the HTTP client address" if proxy in c.http_ips else "another address"
            reasons.append(
                f"no UDP candidate and no UDP packet; TURN arrived over TCP from {proxy} ({via})"
            )
            return _result(engine, engine_from, policy, 0.9, reasons)
        reasons.append("no UDP candidate and no UDP packet reached the server")
        if report.ended_by == "deadline":
            reasons.append("gathering never ended (the collector's deadline ended it)")
        return _result(engine, engine_from, policy, 0.6, reasons, ("udp_blocked",))

    if relays and not hosts and not srflx:
        reasons.append(f"only relay candidates ({len(relays)})")
        return _result(engine, engine_from, "relay_only", 0.8, reasons)

    if not hosts:
        policy = _NO_HOST.get(engine, "default_public_interface_only")
        if srflx:
            reasons.append(f"no host candidate; {len(srflx)} server-reflexive candidate(s)")
        else:
            reasons.append("no candidate, but the server received this session's UDP")
        confidence = 0.8 if srflx else 0.5
        return _result(engine, engine_from, policy, confidence, reasons)

    if raw_hosts:
        listed = sorted(str(ip) for ips in raw_hosts.values() for ip in ips)
        reasons.append(f"raw host addresses: {', '.join(listed[:8])}")
        if mdns_hosts:
            reasons.append(f"and {len(mdns_hosts)} mDNS host name(s)")
        if engine in _RAW_HOSTS:
            if udp_seen and not srflx:
                reasons.append(
                    "the srflx equal to the host address was left out, yet its Binding "
                    "reached the server"
                )
            return _result(engine, engine_from, _RAW_HOSTS[engine], 0.8, reasons)
        if any(len(ips) > 1 for ips in raw_hosts.values()):
            reasons.append("several host addresses in one family: every interface is listed")
            return _result(
                engine,
                engine_from,
                "default_public_and_private_interfaces",
                0.7,
                reasons,
                ("mdns_off",),
            )
        reasons.append("one host address per family: the default route's interface")
        return _result(
            engine,
            engine_from,
            "mdns_off",
            0.6,
            reasons,
            ("default_public_and_private_interfaces",),
        )

    if mdns_hosts:
        reasons.append(f"host candidates hidden behind {len(mdns_hosts)} mDNS name(s)")
        if srflx:
            reasons.append(f"{len(srflx)} server-reflexive candidate(s)")
        elif udp_seen:
            reasons.append("the server received this session's Binding request")
        alternatives = ("default_address_only",) if engine == FIREFOX else ()
        return _result(engine, engine_from, "default", 0.8, reasons, alternatives)

    reasons.append("host candidates of an unusual form (neither IP nor mDNS name)")
    return _result(engine, engine_from, "unknown", 0.2, reasons)
