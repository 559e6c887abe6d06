"""``net.*``: informational facts about the visitor's network (weight 0)."""

from __future__ import annotations

from icewatch.core.correlate import AddressSighting, Correlation
from icewatch.core.netclass import Category, classify_ip
from icewatch.core.scoring.evidence_json import address_json, listed
from icewatch.core.scoring.rule import Finding

__all__ = ["net_cgnat", "net_ipv6_exposed", "net_local_ip_exposed", "net_mdns"]

#: Categories of a raw IP that only make sense inside the visitor's own network.
_LOCAL = frozenset(
    {
        Category.PRIVATE,
        Category.CGNAT,
        Category.LINK_LOCAL,
        Category.UNIQUE_LOCAL,
        Category.LOOPBACK,
    }
)
#: IPv6 categories that reach the Internet (Teredo and 6to4 carry a public IPv4).
_GLOBAL_V6 = frozenset({Category.PUBLIC, Category.TEREDO, Category.SIX_TO_FOUR})


def _addresses(items: list[AddressSighting]) -> str:
    text = ", ".join(str(s.ip) for s in items[:3])
    return text + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def net_local_ip_exposed(c: Correlation) -> Finding | None:
    """A raw private/local address in a host candidate or a related address."""
    local = [s for s in c.reported_local if s.category in _LOCAL]
    if not local:
        return None
    return Finding(
        f"The page's candidates show the device's local address(es) {_addresses(local)} "
        f"instead of mDNS names.",
        {"addresses": listed([address_json(s) for s in local]), "count": len(local)},
    )


def net_mdns(c: Correlation) -> Finding | None:
    """Host candidates hidden behind ``<uuid>.local`` names (the browser's default)."""
    if not c.mdns_names:
        return None
    n = len(c.mdns_names)
    return Finding(
        f"The browser hid {n} local address(es) behind mDNS names "
        f"({', '.join(c.mdns_names[:2])}{', …' if n > 2 else ''}).",
        {"names": listed(c.mdns_names), "count": n},
    )


def net_ipv6_exposed(c: Correlation) -> Finding | None:
    """A global IPv6 address in the candidates or among the server's observations."""
    rows: list[tuple[AddressSighting, str]] = []
    for s in c.observed:
        if s.family == 6 and s.category in _GLOBAL_V6:
            rows.append((s, "server"))
    known = {s.ip for s, _ in rows}
    for s in (*c.reported_public, *c.reported_local):
        if s.family == 6 and s.category in _GLOBAL_V6 and s.ip not in known:
            rows.append((s, "page"))
            known.add(s.ip)
    if not rows:
        return None
    http_v6 = bool(c.http_in_family(6))
    over = "over IPv6 too" if http_v6 else "over IPv4 only"
    return Finding(
        f"WebRTC exposes the global IPv6 address(es) {_addresses([s for s, _ in rows])} "
        f"(the page itself was loaded {over}).",
        {
            "addresses": listed([address_json(s) | {"seen_by": by} for s, by in rows]),
            "count": len(rows),
            "http_over_ipv6": http_v6,
        },
    )


def net_cgnat(c: Correlation) -> Finding | None:
    """A 100.64.0.0/10 (RFC 6598) address anywhere: carrier-grade NAT or an overlay VPN."""
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for label, sightings in (
        ("server", c.observed),
        ("page", (*c.reported_public, *c.reported_local)),
    ):
        for s in sightings:
            if s.category is Category.CGNAT and str(s.ip) not in seen:
                seen.add(str(s.ip))
                rows.append(address_json(s) | {"seen_by": label})
    for ip in c.http_ips:
        if str(ip) not in seen and classify_ip(str(ip)).category is Category.CGNAT:
            seen.add(str(ip))
            rows.append({"ip": str(ip), "family": f"ipv{ip.version}", "seen_by": "http"})
    if not rows:
        return None
    return Finding(
        f"A carrier-grade NAT / shared address (100.64.0.0/10) was seen: "
        f"{', '.join(str(r['ip']) for r in rows[:3])}.",
        {"addresses": listed(rows), "count": len(rows)},
    )
