"""``ip.datacenter``, ``ip.vpn``, ``ip.tor``, ``ip.relay_service``, ``ip.crawler``: what
IP-intelligence data says about the session's addresses, with provenance.

The intel adapter's enricher looked every address up and stored the answers in the
evidence (``SessionEvidence.intel``); these rules only read them, so a verdict stays a
pure function of stored evidence.

Which addresses count. The HTTP client address (after trusted proxies), every address
the server observed (packets cannot be forged) and every address the page reported. A
socket peer that is a *trusted proxy* (``seen_as`` only ``http_peer``) never counts:
icewatch behind a reverse proxy in a cloud would otherwise flag every visitor.

One class per address. An address often sits in several lists (a VPN exit is in a
hosting network; iCloud Private Relay egresses from CDN networks; a Tor exit is usually
hosted), and counting each would weigh one fact several times. Each address is given
the most specific class its hits name, in this order: ``relay_service`` (the operator of
the relay publishes its egress list), ``tor`` (the Tor Project's own list), ``vpn``,
``crawler``, then ``datacenter`` (cloud, hosting, CDN). Only that class's rule fires for
it; the evidence keeps every hit.

Allow-lists win. An address an operator ``allow`` list covers raises nothing; a rule
that fires for another address names the allowed ones (``allowed[]``, with the list and
prefix), and the session JSON's ``intel`` section shows every lookup.
"""

from __future__ import annotations

from typing import Any

from icewatch.core.correlate import Correlation
from icewatch.core.evidence import IntelLookup
from icewatch.core.intel.model import IntelHit, Kind
from icewatch.core.scoring.evidence_json import listed
from icewatch.core.scoring.rule import Finding

__all__ = [
    "CLASS_ORDER",
    "address_class",
    "ip_crawler",
    "ip_datacenter",
    "ip_relay_service",
    "ip_tor",
    "ip_vpn",
]

#: The classes, most specific first, and the kinds each is made of.
CLASS_ORDER: tuple[tuple[str, frozenset[Kind]], ...] = (
    ("relay_service", frozenset({Kind.RELAY_SERVICE})),
    ("tor", frozenset({Kind.TOR})),
    ("vpn", frozenset({Kind.VPN})),
    ("crawler", frozenset({Kind.CRAWLER})),
    ("datacenter", frozenset({Kind.CLOUD, Kind.HOSTING, Kind.CDN})),
)
_KINDS = dict(CLASS_ORDER)
#: How each place an address was seen reads in a sentence.
_SEEN = {"http": "HTTP client", "observed": "WebRTC (observed)", "reported": "reported"}
#: What counts: everything but a trusted proxy's own address.
_COUNTED = frozenset({"http", "observed", "reported"})


def address_class(lookup: IntelLookup) -> str | None:
    """The class of one looked-up address (``None``: no listed kind, or not counted).
    An allowed address still has a class: the rules report it as allowed."""
    if not _COUNTED.intersection(lookup.seen_as):
        return None
    kinds = lookup.result.kinds()
    for name, members in CLASS_ORDER:
        if kinds & members:
            return name
    return None


def _where(c: Correlation, lookup: IntelLookup) -> list[str]:
    where: list[str] = []
    if "http" in lookup.seen_as:
        where.append("http")
    for s in (*c.observed, *c.reported_public, *c.reported_local):
        if s.ip == lookup.ip:
            where.extend(w for w in s.where if w not in where)
    return where


def _hit_json(h: IntelHit) -> dict[str, Any]:
    return h.as_dict()


def _address_json(c: Correlation, lookup: IntelLookup, kinds: frozenset[Kind]) -> dict[str, Any]:
    r = lookup.result
    return {
        "ip": str(lookup.ip),
        "family": f"ipv{lookup.ip.version}",
        "seen_as": [s for s in lookup.seen_as if s in _COUNTED],
        "where": _where(c, lookup),
        "hits": [_hit_json(h) for h in r.hits if h.kind in kinds],
        "other_hits": [_hit_json(h) for h in r.hits if h.kind not in kinds],
        "asn": r.asn,
        "org": r.org,
    }


def _allowed_json(lookup: IntelLookup) -> dict[str, Any]:
    return {
        "ip": str(lookup.ip),
        "seen_as": [s for s in lookup.seen_as if s in _COUNTED],
        "lists": [h.provenance.as_dict() for h in lookup.result.hits_of(Kind.ALLOW)],
    }


def _rank(lookup: IntelLookup) -> int:
    """HTTP first, then observed, then reported-only."""
    for i, label in enumerate(("http", "observed", "reported")):
        if label in lookup.seen_as:
            return i
    return 3


def _provenance_text(h: IntelHit) -> str:
    p = h.provenance
    via = f", AS{p.asn}" if p.asn is not None else ""
    return f"{p.source} {p.version}, {p.prefix}{via}".replace("  ", " ")


def _find(c: Correlation, cls: str, noun: str) -> Finding | None:
    evidence = c.evidence
    if evidence is None or not evidence.intel.lookups:
        return None
    kinds = _KINDS[cls]
    listed_lookups = [x for x in evidence.intel.lookups if address_class(x) == cls]
    firing = sorted((x for x in listed_lookups if not x.result.allowed), key=_rank)
    if not firing:
        return None
    allowed = [x for x in listed_lookups if x.result.allowed]
    first = firing[0]
    hit = next(h for h in first.result.hits if h.kind in kinds)
    seen = next((_SEEN[s] for s in ("http", "observed", "reported") if s in first.seen_as), "")
    more = f" ({len(firing) - 1} more such address(es) in the evidence)" if len(firing) > 1 else ""
    summary = (
        f"The {seen} address {first.ip} is {noun}: {hit.provider} ({_provenance_text(hit)}){more}."
    )
    return Finding(
        summary,
        {
            "addresses": listed([_address_json(c, x, kinds) for x in firing]),
            "count": len(firing),
            "allowed": listed([_allowed_json(x) for x in allowed]),
            "data": evidence.intel.data,
        },
    )


def ip_datacenter(c: Correlation) -> Finding | None:
    """An address of the session is in a cloud, hosting or CDN network."""
    return _find(c, "datacenter", "in a cloud, hosting or CDN network")


def ip_vpn(c: Correlation) -> Finding | None:
    """An address of the session is a known commercial VPN exit."""
    return _find(c, "vpn", "a VPN exit")


def ip_tor(c: Correlation) -> Finding | None:
    """An address of the session is a Tor exit relay."""
    return _find(c, "tor", "a Tor exit relay")


def ip_relay_service(c: Correlation) -> Finding | None:
    """An address of the session is a privacy relay's egress (iCloud Private Relay)."""
    return _find(c, "relay_service", "a privacy relay's egress address")


def ip_crawler(c: Correlation) -> Finding | None:
    """An address of the session belongs to a declared crawler (Googlebot…)."""
    return _find(c, "crawler", "a declared crawler's address")
