"""The derived, indexed rows behind the operator filters (schema version 3).

A session's evidence and verdict are the source of truth (JSON columns); what the
listings, the overview and a purge filter on is copied out of them here, in the same
transaction that writes them:

* ``sessions.ua_family`` — the claimed browser family (``evidence.client.browser``);
* ``sessions.provider`` — a label for the HTTP client address from the IP intelligence
  (the provider of its first non-allow hit, else ``AS<asn> <org>``), the key of the
  overview's "top providers";
* ``session_signals`` — one row per signal code the verdict carries, with its weight;
* ``session_addresses`` — every distinct address of the session as a 16-byte key
  (IPv4 as IPv4-mapped IPv6) so a CIDR filter is one index range scan: the HTTP client
  and peer addresses, the sources observed at icewatch's sockets, and the addresses the
  page reported (candidates, related addresses, SDP);
* ``session_providers`` — every provider/organisation name (lower-cased) and ``as<N>``
  the IP intelligence gave for any address of the session.

``sessions.indexed`` records which version of these rules wrote a row's index;
:func:`reindex_batch` (run by the store when it opens) fills in rows written before
(version 0), so an upgraded database filters its old sessions too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from icewatch.core.addr import IPAddress, IPNetwork
from icewatch.core.correlate import correlate, normalize_ip
from icewatch.core.evidence import SessionEvidence
from icewatch.core.intel.model import Kind
from icewatch.core.verdict import Verdict

__all__ = [
    "INDEX_VERSION",
    "address_key",
    "network_range",
    "provider_key",
    "reindex_batch",
    "write_index",
    "write_signals",
]

#: The version of the rules below; rows with ``sessions.indexed`` below it are redone.
INDEX_VERSION = 1
#: Most addresses indexed per session.
MAX_ADDRESSES = 128
#: Most provider names indexed per session.
MAX_PROVIDERS = 64
_MAX_NAME = 200

_ASN = re.compile(r"(?i)^\s*AS\s?(\d{1,10})\b")
_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def address_key(ip: IPAddress) -> bytes:
    """The 16-byte index key of an address (IPv4 as ``::ffff:a.b.c.d``)."""
    ip = normalize_ip(ip)
    if ip.version == 4:
        return _V4_MAPPED + ip.packed
    return ip.packed


def network_range(network: IPNetwork) -> tuple[bytes, bytes]:
    """The inclusive ``(first, last)`` index keys of a network."""
    if network.version == 4:
        return _V4_MAPPED + network.network_address.packed, (
            _V4_MAPPED + network.broadcast_address.packed
        )
    return network.network_address.packed, network.broadcast_address.packed


def provider_key(text: str) -> str:
    """How a provider filter and the stored names compare: ``as<N>`` for an ASN (also
    ``AS64500 Example Org``, a label of the overview), else the lower-cased name."""
    m = _ASN.match(text)
    if m:
        return f"as{int(m.group(1))}"
    return text.strip().lower()[:_MAX_NAME]


def _addresses(evidence: SessionEvidence) -> dict[bytes, list[str]]:
    found: dict[bytes, list[str]] = {}

    def add(ip: IPAddress, label: str) -> None:
        key = address_key(ip)
        labels = found.get(key)
        if labels is None:
            if len(found) >= MAX_ADDRESSES:
                return
            labels = found[key] = []
        if label not in labels:
            labels.append(label)

    for sighting in (evidence.http, evidence.report_http):
        if sighting is not None:
            add(sighting.client_ip, "http")
            add(sighting.peer_ip, "http_peer")
    for o in evidence.observations:
        add(o.ip, "observed")
    try:
        c = correlate(evidence)
    except Exception:  # stored evidence is re-read defensively
        return found
    for s in c.observed:
        add(s.ip, "observed")
    for s in (*c.reported_public, *c.reported_local):
        add(s.ip, "reported")
    return found


def _providers(evidence: SessionEvidence) -> tuple[set[str], str | None]:
    names: set[str] = set()
    label: str | None = None
    client = normalize_ip(evidence.http.client_ip)
    for lookup in evidence.intel.lookups:
        result = lookup.result
        found: list[str] = []
        for hit in result.hits:
            if hit.kind is not Kind.ALLOW and hit.provider:
                found.append(hit.provider)
            if hit.asn is not None:
                found.append(f"AS{hit.asn}")
            if hit.org:
                found.append(hit.org)
        if result.asn is not None:
            found.append(f"AS{result.asn}")
        if result.org:
            found.append(result.org)
        for name in found:
            if len(names) < MAX_PROVIDERS:
                names.add(provider_key(name))
        if label is None and normalize_ip(lookup.ip) == client:
            provider = next(
                (h.provider for h in result.hits if h.kind is not Kind.ALLOW and h.provider), None
            )
            if provider:
                label = provider[:_MAX_NAME]
            elif result.asn is not None:
                label = f"AS{result.asn} {result.org}" if result.org else f"AS{result.asn}"
                label = label[:_MAX_NAME]
    names.discard("")
    return names, label


def _ua_family(evidence: SessionEvidence) -> str | None:
    if evidence.client is None or not evidence.client.browser:
        return None
    return evidence.client.browser[:_MAX_NAME]


def write_signals(conn: sqlite3.Connection, session_id: str, verdict: Verdict | None) -> None:
    """Replace the session's ``session_signals`` rows (the session row must exist)."""
    conn.execute("DELETE FROM session_signals WHERE session_id = ?", (session_id,))
    if verdict is None:
        return
    conn.executemany(
        "INSERT INTO session_signals (session_id, code, weight, created_at)"
        " SELECT ?, ?, ?, created_at FROM sessions WHERE id = ?"
        " ON CONFLICT (session_id, code) DO UPDATE SET weight = max(weight, excluded.weight)",
        [(session_id, s.code, int(s.weight), session_id) for s in verdict.signals],
    )


def write_index(
    conn: sqlite3.Connection,
    evidence: SessionEvidence,
    verdict: Verdict | None,
    *,
    signals: bool = True,
    addresses: str | None = None,
) -> None:
    """Rewrite every derived row of the session (after its row was inserted/updated);
    ``addresses``, when given, is recorded as how the row's addresses were rewritten."""
    sid = evidence.session_id
    names, label = _providers(evidence)
    conn.execute(
        "UPDATE sessions SET ua_family = ?, provider = ?, indexed = ? WHERE id = ?",
        (_ua_family(evidence), label, INDEX_VERSION, sid),
    )
    conn.execute("DELETE FROM session_addresses WHERE session_id = ?", (sid,))
    conn.executemany(
        "INSERT INTO session_addresses (session_id, ip, seen_as, created_at) VALUES (?, ?, ?, ?)",
        [
            (sid, key, ",".join(labels), evidence.created_at)
            for key, labels in _addresses(evidence).items()
        ],
    )
    conn.execute("DELETE FROM session_providers WHERE session_id = ?", (sid,))
    conn.executemany(
        "INSERT INTO session_providers (session_id, name, created_at) VALUES (?, ?, ?)",
        [(sid, name, evidence.created_at) for name in sorted(names)],
    )
    if signals:
        write_signals(conn, sid, verdict)
    if addresses is not None:
        conn.execute("UPDATE sessions SET addresses = ? WHERE id = ?", (addresses, sid))


def reindex_batch(
    conn: sqlite3.Connection,
    rows: Iterable[Mapping[str, Any]],
    load: Any,
) -> int:
    """Index the given session rows (``load(row) -> (evidence, verdict)``, raising for an
    unreadable row, which is marked indexed with no derived rows); return how many."""
    done = 0
    for row in rows:
        try:
            evidence, verdict = load(row)
        except Exception:  # an unreadable row must not block the rest
            conn.execute("UPDATE sessions SET indexed = ? WHERE id = ?", (INDEX_VERSION, row["id"]))
            continue
        write_index(conn, evidence, verdict)
        done += 1
    return done
