"""``ip.*``: what the server saw of the session versus the HTTP connection."""

from __future__ import annotations

import ipaddress

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import AddressSighting, Correlation
from icewatch.core.document import iso_utc
from icewatch.core.scoring.evidence_json import address_json, family_label, listed
from icewatch.core.scoring.rule import Finding

__all__ = ["ip_webrtc_http_mismatch", "same_ipv6_64"]


def same_ipv6_64(a: IPAddress, b: IPAddress) -> bool:
    """Two IPv6 addresses in one /64: one host's SLAAC/temporary addresses, not two paths."""
    if a.version != 6 or b.version != 6:
        return False
    return ipaddress.IPv6Network(f"{a}/64", strict=False) == ipaddress.IPv6Network(
        f"{b}/64", strict=False
    )


def ip_webrtc_http_mismatch(c: Correlation) -> Finding | None:
    """A server-observed address differs from the HTTP client address of its family.

    Only packets that reached icewatch's own socket count (a page cannot forge them),
    whatever their category: "public" here means "what the server saw", so a lab or an
    intranet where everything is private behaves like the Internet. HTTP over IPv6 with
    WebRTC over IPv4 (or the reverse) compares nothing: dual stack is not a proxy. IPv6
    addresses in the same /64 are one host (privacy addresses rotate within it).
    """
    rows: list[tuple[AddressSighting, tuple[IPAddress, ...]]] = []
    for family in (4, 6):
        http = c.http_in_family(family)
        if not http:
            continue
        for seen in c.observed_in_family(family):
            if seen.ip in http or any(same_ipv6_64(seen.ip, h) for h in http):
                continue
            rows.append((seen, http))
    if not rows:
        return None
    seen, http = rows[0]
    sources = ", ".join(s.upper() for s in seen.where)
    more = f" ({len(rows) - 1} more such address(es) in the evidence)" if len(rows) > 1 else ""
    summary = (
        f"The server received this session's WebRTC traffic ({sources}) from {seen.ip}, "
        f"but the page was loaded over HTTP from {http[0]} ({family_label(seen.family)}): "
        f"the HTTP connection goes through a proxy or VPN that WebRTC bypasses{more}."
    )
    return Finding(
        summary,
        {
            "http_client_ips": [str(ip) for ip in c.http_ips],
            "mismatches": listed(
                [
                    {
                        "family": f"ipv{s.family}",
                        "http_client_ips": [str(ip) for ip in h],
                        "observed": address_json(s)
                        | {"transports": list(s.transports), "first_at": iso_utc(s.first_at)},
                    }
                    for s, h in rows
                ]
            ),
            "count": len(rows),
        },
    )
