"""The network fingerprint: a stable hash of a session's network *shape*, and how rare it is.

:func:`network_fingerprint` reads a :class:`~icewatch.core.correlate.Correlation` and
names the parts of the network that stay the same from one visit to the next — the
public prefix, how many local interfaces of which classes, adapter costs, IPv6, the mDNS
policy, the ICE engine, TCP/TURN/UDP — and leaves out everything a browser draws at
random per session (ports, ufrags, foundations, mDNS UUIDs) and every exact address.
The components are kept in order beside the hash, so people see what went in
(docs/fingerprint.md).

The id is ``fp<recipe>:`` followed by :data:`HASH_CHARS` hex digits of SHA-256 over the
components. :data:`RECIPE` is bumped whenever a component is added, removed or computed
differently: ids of different recipes never compare equal, and ``icewatch rescore``
recomputes the stored ones.

:func:`fingerprint_document` renders the ``fingerprint`` section of the session JSON,
with the population statistics a store counted (:class:`Population`): how many stored
sessions share the fingerprint, the share ("1 in N") and the surprisal in bits,
``-log2(count / total)``, for the whole fingerprint and for each component — the
Panopticlick/AmIUnique view, self-hosted.

Pure: nothing here raises on what a page sent.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import AddressSighting, Correlation, normalize_ip
from icewatch.core.dialect import DialectResult, dialect_of
from icewatch.core.ice import (
    AddressClass,
    AddressKind,
    Candidate,
    CandidateType,
    Priority,
    Transport,
)
from icewatch.core.netclass import Category, classify_ip

__all__ = [
    "COMPONENTS",
    "HASH_CHARS",
    "ID_LENGTH",
    "MIN_RELIABLE_POPULATION",
    "RECIPE",
    "NetworkFingerprint",
    "Population",
    "fingerprint_document",
    "is_fingerprint_id",
    "network_fingerprint",
    "one_in",
    "surprisal_bits",
]

#: The recipe version, part of every id (``fp1:``): bump it when the components change.
RECIPE: Final = 1
#: Hex digits of SHA-256 kept in the id (80 bits: no collision in any real population).
HASH_CHARS: Final = 20
PREFIX: Final = f"fp{RECIPE}:"
#: Length of every id of this recipe.
ID_LENGTH: Final = len(PREFIX) + HASH_CHARS
#: Below this many fingerprinted sessions the statistics say little; the JSON says so.
MIN_RELIABLE_POPULATION: Final = 100
#: Public prefix lengths: an IPv4 /24, an IPv6 /48 (a site).
V4_PREFIX: Final = 24
V6_PREFIX: Final = 48
#: Most values listed in one component (the rest is counted: ``+N``).
MAX_LISTED: Final = 4
#: Longest component value (a page cannot make a fingerprint arbitrarily large).
MAX_VALUE: Final = 200

#: Every component, in hash order, with what it says (docs/fingerprint.md, the page).
COMPONENTS: Final[tuple[tuple[str, str], ...]] = (
    (
        "public_v4",
        "IPv4 public network: the address icewatch's STUN/TURN server saw (else the HTTP "
        "client address) cut to its /24, or its AS number when IP intelligence knows it",
    ),
    ("public_v6", "IPv6 public network, the same way: a /48, or its AS number"),
    (
        "http_path",
        "per family, whether the HTTP connection came from the same network as the "
        "WebRTC traffic (`same`), another one (`different`, e.g. a proxy) or no WebRTC "
        "traffic of that family arrived (`unobserved`)",
    ),
    (
        "hosts",
        "local interfaces: the host candidates by form (`mdns` name or raw `ip`) and "
        "class (what the priority or the address says: ipv4, ula, private...), counted",
    ),
    ("mdns", "mDNS policy: host addresses as `names`, as `raw` IPs, `mixed`, or `none`"),
    ("ipv6", "IPv6 classes present anywhere (global, ula, link_local, teredo...), or none"),
    ("costs", "the libwebrtc network-cost values (adapter types: 10 Wi-Fi, 900 cellular...)"),
    ("engine", "ICE engine layout of the candidate priorities: libwebrtc, firefox, unknown"),
    (
        "dialect",
        "which WebRTC stack wrote the candidates and the SDP (icewatch.core.dialect): "
        "libwebrtc, firefox, or unknown (mixed or unrecognised)",
    ),
    ("tcp", "TCP candidates by type and tcptype (Firefox's `host:active`), or none"),
    (
        "turn",
        "whether a TURN request of the session reached icewatch: over `udp`, only over "
        "`tcp` (UDP blocked: TURN over TCP, or through a proxy), or `none`",
    ),
    ("udp", "UDP to icewatch: `open`, `blocked` (WebRTC ran, no UDP arrived), `n/a`"),
    ("webrtc", "what the page could do with the WebRTC API: ok, missing, error"),
    ("srflx", "families with a reported server-reflexive candidate"),
    (
        "nat",
        "per observed family: `direct` (a raw host address is the public one), `nat` "
        "(raw host addresses, none public), `hidden` (host addresses not shown)",
    ),
    (
        "port_mapping",
        "per family of a reported srflx: `kept` when its port is the port of a host "
        "candidate or of its related address (no NAT, or a port-preserving one), `changed` "
        "otherwise (the ports themselves are never part of the fingerprint)",
    ),
)
_NAMES: Final = tuple(name for name, _ in COMPONENTS)
_DESCRIPTIONS: Final = dict(COMPONENTS)

_V6_CATEGORY: Final[dict[Category, str]] = {
    Category.PUBLIC: "global",
    Category.UNIQUE_LOCAL: "ula",
    Category.LINK_LOCAL: "link_local",
    Category.TEREDO: "teredo",
    Category.SIX_TO_FOUR: "6to4",
    Category.NAT64: "nat64",
}
_V6_CLASS: Final[dict[AddressClass, str]] = {
    AddressClass.IPV6_GLOBAL: "global",
    AddressClass.ULA: "ula",
    AddressClass.TEREDO: "teredo",
    AddressClass.SIXTOFOUR: "6to4",
    AddressClass.IPV6_LOOPBACK: "other",
    AddressClass.V4_COMPAT_OR_SITE_LOCAL: "other",
}


@dataclass(frozen=True, slots=True)
class NetworkFingerprint:
    """A fingerprint id and the ``(name, value)`` components it hashes, in order."""

    id: str
    components: tuple[tuple[str, str], ...]

    @property
    def recipe(self) -> int:
        return RECIPE

    def component_map(self) -> dict[str, str]:
        return dict(self.components)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "recipe": RECIPE, "components": dict(self.components)}


@dataclass(frozen=True, slots=True)
class Population:
    """What a store counted: ``total`` fingerprinted sessions, ``matching`` of them with
    this fingerprint, and per component ``(name, value, sessions with that value)``."""

    total: int
    matching: int
    components: tuple[tuple[str, str, int], ...] = ()


def is_fingerprint_id(text: object) -> bool:
    """Whether ``text`` looks like an id of the current recipe."""
    return (
        isinstance(text, str)
        and len(text) == ID_LENGTH
        and text.startswith(PREFIX)
        and all(ch in "0123456789abcdef" for ch in text[len(PREFIX) :])
    )


# --- the components ----------------------------------------------------------------------


def _bounded(values: Iterable[str], sep: str = ",", empty: str = "none") -> str:
    """Sorted distinct values joined, at most :data:`MAX_LISTED` and ``+N`` for the rest."""
    items = sorted(set(values))
    if not items:
        return empty
    shown = items[:MAX_LISTED]
    if len(items) > MAX_LISTED:
        shown.append(f"+{len(items) - MAX_LISTED}")
    return sep.join(shown)[:MAX_VALUE]


def _counted(counter: Counter[str]) -> str:
    if not counter:
        return "none"
    items = sorted(counter.items())
    shown = [f"{k}={n}" for k, n in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        shown.append(f"+{len(items) - MAX_LISTED}")
    return ",".join(shown)[:MAX_VALUE]


def _prefix(ip: IPAddress) -> str:
    ip = normalize_ip(ip)
    bits = V4_PREFIX if ip.version == 4 else V6_PREFIX
    mask = ((1 << ip.max_prefixlen) - 1) ^ ((1 << (ip.max_prefixlen - bits)) - 1)
    network = type(ip)(int(ip) & mask)
    return f"{network}/{bits}"


def _network(ip: IPAddress, asns: Mapping[IPAddress, int]) -> str:
    asn = asns.get(normalize_ip(ip))
    return f"AS{asn}" if asn is not None else _prefix(ip)


def _ip_of(c: Candidate) -> IPAddress | None:
    address = c.address
    return None if isinstance(address, str) else normalize_ip(address.ip)


def _all_candidates(c: Correlation) -> list[Candidate]:
    """The candidates of the events and of the SDP, each shape once (the SDP repeats the
    events' candidates, without their ufrag)."""
    out: dict[tuple[object, ...], Candidate] = {}
    for cand in [e.candidate for e in c.candidates] + list(c.sdp_candidates):
        key = (
            cand.type,
            cand.transport,
            cand.priority,
            str(cand.address),
            cand.port,
            cand.related_port,
            cand.tcptype,
            cand.network_cost,
        )
        out.setdefault(key, cand)
    return list(out.values())


def _category(ip: IPAddress, known: Mapping[IPAddress, Category]) -> Category:
    found = known.get(ip)
    return found if found is not None else classify_ip(str(ip)).category


def _hosts(
    candidates: list[Candidate],
    priorities: Mapping[int, Priority],
    known: Mapping[IPAddress, Category],
) -> tuple[dict[str, str], set[IPAddress]]:
    """Each distinct host address → ``form:class``; and the raw host IPs."""
    seen: dict[str, str] = {}
    raw: set[IPAddress] = set()
    for cand in candidates:
        if cand.type is not CandidateType.HOST:
            continue
        ip = _ip_of(cand)
        if ip is not None:
            raw.add(ip)
            seen.setdefault(str(ip), f"ip:{_category(ip, known).value}")
            continue
        key = str(cand.address).lower()
        if cand.address_kind is AddressKind.MDNS:
            cls = priorities[id(cand)].address_class
            label = "hidden" if cls is AddressClass.UNKNOWN else cls.value
            # The same name may come over UDP and TCP: a class known from one wins.
            if seen.get(key, "mdns:hidden") == "mdns:hidden":
                seen[key] = f"mdns:{label}"
        else:
            seen.setdefault(key, f"name:{cand.address_kind.value}")
    return seen, raw


def _ipv6_classes(
    c: Correlation,
    candidates: list[Candidate],
    priorities: Mapping[int, Priority],
    known: Mapping[IPAddress, Category],
) -> set[str]:
    out: set[str] = set()
    sightings = (*_shaping(c.observed), *c.reported_public, *c.reported_local)
    for s in sightings:
        if s.family == 6:
            out.add(_V6_CATEGORY.get(s.category, "other"))
    for ip in c.http_ips:
        if ip.version == 6:
            out.add(_V6_CATEGORY.get(_category(ip, known), "other"))
    for cand in candidates:
        if cand.type is CandidateType.HOST and cand.address_kind is AddressKind.MDNS:
            label = _V6_CLASS.get(priorities[id(cand)].address_class)
            if label is not None:
                out.add(label)
    return out


def _nat(observed: dict[int, set[IPAddress]], raw_hosts: set[IPAddress]) -> str:
    parts: list[str] = []
    for family in sorted(observed):
        hosts = {ip for ip in raw_hosts if ip.version == family}
        if not hosts:
            state = "hidden"
        elif hosts & observed[family]:
            state = "direct"
        else:
            state = "nat"
        parts.append(f"v{family}={state}")
    return ",".join(parts) or "none"


def _port_mapping(candidates: list[Candidate]) -> str:
    host_ports = {
        cand.port
        for cand in candidates
        if cand.type is CandidateType.HOST and cand.transport is Transport.UDP
    }
    parts: dict[int, str] = {}
    for cand in candidates:
        ip = _ip_of(cand)
        if (
            cand.type is not CandidateType.SRFLX
            or cand.transport is not Transport.UDP
            or ip is None
        ):
            continue
        kept = cand.port in host_ports or (
            cand.related_port not in (None, 0) and cand.related_port == cand.port
        )
        if kept or ip.version not in parts:
            parts[ip.version] = "kept" if kept else "changed"
    return ",".join(f"v{f}={parts[f]}" for f in sorted(parts)) or "none"


def _http_path(
    http_ips: Iterable[IPAddress],
    observed: dict[int, set[IPAddress]],
    asns: Mapping[IPAddress, int],
) -> str:
    parts: dict[int, str] = {}
    for ip in http_ips:
        family = ip.version
        seen = observed.get(family)
        if not seen:
            state = "unobserved"
        elif _network(ip, asns) in {_network(o, asns) for o in seen}:
            state = "same"
        else:
            state = "different"
        # Creation and report requests may differ; "different" wins (it is the finding).
        if parts.get(family) != "different":
            parts[family] = state
    return ",".join(f"v{f}={parts[f]}" for f in sorted(parts)) or "none"


def _asns_of(c: Correlation) -> dict[IPAddress, int]:
    """AS numbers the IP-intelligence enricher put in the evidence, by address (empty
    without it: the fingerprint then uses prefixes)."""
    evidence = c.evidence
    out: dict[IPAddress, int] = {}
    if evidence is None:
        return out
    for lookup in evidence.intel.lookups:
        asn = lookup.result.asn
        if isinstance(asn, int) and not isinstance(asn, bool) and asn > 0:
            out[normalize_ip(lookup.ip)] = asn
    return out


def _shaping(observed: tuple[AddressSighting, ...]) -> tuple[AddressSighting, ...]:
    """The observed addresses that shape the fingerprint: those the STUN/TURN listener
    saw. An address only the test connection's ICE checks came from is left out: which
    candidate pair (and family) ICE nominates is a race, not a trait of the network."""
    return tuple(s for s in observed if set(s.where) != {"ice"})


def _components(c: Correlation, dialect: str) -> tuple[tuple[str, str], ...]:
    candidates = _all_candidates(c)
    priorities = {id(cand): cand.priority_info for cand in candidates}
    known = {s.ip: s.category for s in (*c.observed, *c.reported_public, *c.reported_local)}
    asns = _asns_of(c)
    observed: dict[int, set[IPAddress]] = {}
    for s in _shaping(c.observed):
        observed.setdefault(s.family, set()).add(normalize_ip(s.ip))

    def public(family: int) -> str:
        ips = observed.get(family) or {ip for ip in c.http_ips if ip.version == family}
        return _bounded((_network(ip, asns) for ip in ips), sep="|")

    hosts, raw_hosts = _hosts(candidates, priorities, known)
    forms = {v.split(":", 1)[0] for v in hosts.values()}
    if not forms:
        mdns = "none"
    elif forms == {"mdns"}:
        mdns = "names"
    elif forms == {"ip"}:
        mdns = "raw"
    else:
        mdns = "mixed"

    costs = _bounded(str(cand.network_cost) for cand in candidates if cand.network_cost is not None)
    engine = _bounded(p.engine_layout.value for p in priorities.values())
    tcp = _bounded(
        f"{cand.type.value}:{cand.tcptype.value if cand.tcptype else 'passive'}"
        for cand in candidates
        if cand.transport is Transport.TCP
    )
    # UDP when any TURN request came over UDP, else TCP: whether the TCP one also made
    # it before the report is a race (the report waits for one TURN request, not all).
    turn_transports = {o.transport.lower() for o in c.turn_observations}
    turn = "udp" if "udp" in turn_transports else "tcp" if turn_transports else "none"
    webrtc = "none" if c.webrtc is None else c.webrtc.value
    if c.udp_observed:
        udp = "open"
    elif webrtc == "ok":
        udp = "blocked"
    else:
        udp = "n/a"
    srflx = _bounded(
        f"v{ip.version}"
        for cand in candidates
        if cand.type is CandidateType.SRFLX and (ip := _ip_of(cand)) is not None
    )
    values = {
        "public_v4": public(4),
        "public_v6": public(6),
        "http_path": _http_path(c.http_ips, observed, asns),
        "hosts": _counted(Counter(hosts.values())),
        "mdns": mdns,
        "ipv6": _bounded(_ipv6_classes(c, candidates, priorities, known), sep="+"),
        "costs": costs,
        "engine": engine,
        "dialect": dialect,
        "tcp": tcp,
        "turn": turn,
        "udp": udp,
        "webrtc": webrtc,
        "srflx": srflx,
        "nat": _nat(observed, raw_hosts),
        "port_mapping": _port_mapping(candidates),
    }
    return tuple((name, values[name]) for name in _NAMES)


def _digest(components: tuple[tuple[str, str], ...]) -> str:
    text = "\n".join([PREFIX, *(f"{name}={value}" for name, value in components)])
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


_COMPUTE: Final = object()


def network_fingerprint(
    correlation: Correlation, dialect: DialectResult | object | None = _COMPUTE
) -> NetworkFingerprint | None:
    """The fingerprint of a session that has reported (``None`` before its report).

    ``dialect`` is :func:`~icewatch.core.dialect.dialect_of` of the correlation, when the
    caller has it already (it is computed otherwise)."""
    if correlation.report is None:
        return None
    found = dialect_of(correlation) if dialect is _COMPUTE else dialect
    label = found.dialect.value if isinstance(found, DialectResult) else "none"
    components = _components(correlation, label)
    return NetworkFingerprint(_digest(components), components)


# --- statistics --------------------------------------------------------------------------


def surprisal_bits(count: int, total: int) -> float | None:
    """``-log2(count / total)`` rounded to 2 decimals; ``None`` when not computable."""
    if count <= 0 or total <= 0 or count > total:
        return None
    return round(math.log2(total / count), 2)


def one_in(count: int, total: int) -> float | None:
    """``total / count`` ("1 in N"), rounded to 1 decimal; ``None`` when not computable."""
    if count <= 0 or total <= 0 or count > total:
        return None
    return round(total / count, 1)


def _population_note(total: int, matching: int) -> str:
    if total <= 0:
        return "No stored session has a fingerprint yet."
    if matching <= 0:
        note = (
            f"None of the {total} fingerprinted sessions shares it (it was not stored, "
            "or the stored fingerprints were computed by another recipe: "
            "`icewatch rescore` recomputes them)."
        )
    elif matching == 1:
        note = f"Unique among the {total} fingerprinted sessions stored here."
    else:
        note = f"{matching} of the {total} fingerprinted sessions stored here share it."
    if total < MIN_RELIABLE_POPULATION:
        note += (
            f" With fewer than {MIN_RELIABLE_POPULATION} sessions the share says little "
            "about how rare this network is elsewhere."
        )
    return note


def fingerprint_document(
    fingerprint: NetworkFingerprint | None, population: Population | None = None
) -> dict[str, Any] | None:
    """The ``fingerprint`` section of the session JSON (``None`` before the report).

    Without ``population`` (no store, or it failed) the counts are ``null``."""
    if fingerprint is None:
        return None
    counts: dict[tuple[str, str], int] = {}
    if population is not None:
        counts = {(n, v): k for n, v, k in population.components}
    total = None if population is None else population.total
    components = []
    for name, value in fingerprint.components:
        count = None if population is None else counts.get((name, value), 0)
        components.append(
            {
                "name": name,
                "value": value,
                "description": _DESCRIPTIONS.get(name, ""),
                "sessions": count,
                "one_in": None if count is None or total is None else one_in(count, total),
                "bits": None if count is None or total is None else surprisal_bits(count, total),
            }
        )
    pop_doc: dict[str, Any] | None = None
    if population is not None:
        t, m = population.total, population.matching
        pop_doc = {
            "sessions": t,
            "matching": m,
            "one_in": one_in(m, t),
            "bits": surprisal_bits(m, t),
            "max_bits": round(math.log2(t), 2) if t > 0 else None,
            "reliable": t >= MIN_RELIABLE_POPULATION,
            "note": _population_note(t, m),
        }
    return {
        "id": fingerprint.id,
        "recipe": RECIPE,
        "components": components,
        "population": pop_doc,
    }
