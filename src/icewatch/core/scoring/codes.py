"""Signal codes: stable API (they appear in the session JSON, the store and the docs)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SignalCode"]


class SignalCode(StrEnum):
    """Every signal icewatch can raise. Never rename one; add new codes instead."""

    IP_WEBRTC_HTTP_MISMATCH = "ip.webrtc_http_mismatch"
    IP_DATACENTER = "ip.datacenter"
    IP_VPN = "ip.vpn"
    IP_TOR = "ip.tor"
    IP_RELAY_SERVICE = "ip.relay_service"
    IP_CRAWLER = "ip.crawler"
    CANDIDATE_SPOOFED = "candidate.spoofed"
    CANDIDATE_MALFORMED = "candidate.malformed"
    WEBRTC_UNAVAILABLE = "webrtc.unavailable"
    WEBRTC_API_TAMPERED = "webrtc.api_tampered"
    WEBRTC_NO_CANDIDATES = "webrtc.no_candidates"
    WEBRTC_UDP_BLOCKED = "webrtc.udp_blocked"
    NET_LOCAL_IP_EXPOSED = "net.local_ip_exposed"
    NET_MDNS = "net.mdns"
    NET_IPV6_EXPOSED = "net.ipv6_exposed"
    NET_CGNAT = "net.cgnat"
    CANDIDATE_SHAPE_MISMATCH = "candidate.shape_mismatch"
    ENV_UA_NETWORK_MISMATCH = "env.ua_network_mismatch"
    NET_VPN_INTERFACE = "net.vpn_interface"
    CONN_FAILED = "conn.failed"
    CONN_RTT_MISMATCH = "conn.rtt_mismatch"
    NET_WEBRTC_PROXIED = "net.webrtc_proxied"
