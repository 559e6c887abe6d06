"""The enricher: look up every address of a session and put the answers in its evidence.

Added to ``WebContext.enrichers`` by the service. For each distinct address of the
session — the HTTP client addresses (creation and report requests; a trusted proxy's
own address as ``http_peer``, which no signal counts), every
source address the STUN/TURN listener observed, every address the page reported
(candidates and related addresses, events and SDP) — it stores the
:class:`~icewatch.core.intel.IntelResult` (hits with provenance, ASN, organisation) as
an :class:`~icewatch.core.evidence.IntelLookup`. The ``ip.*`` rules read only that, so
``icewatch rescore`` recomputes verdicts from stored evidence without the data.

Fast: a lookup is a bisect in memory; no I/O, nothing awaited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import correlate, normalize_ip
from icewatch.core.evidence import IntelEvidence, IntelLookup, SessionEvidence
from icewatch.intel.runtime import IntelRuntime, RuntimeHolder

__all__ = ["MAX_LOOKUPS", "enrich_evidence", "make_enricher"]

#: Most addresses looked up per session (HTTP first, then observed, then reported).
MAX_LOOKUPS = 64


def _addresses(evidence: SessionEvidence) -> dict[IPAddress, list[str]]:
    found: dict[IPAddress, list[str]] = {}

    def add(ip: IPAddress, label: str) -> None:
        ip = normalize_ip(ip)
        labels = found.get(ip)
        if labels is None:
            if len(found) >= MAX_LOOKUPS:
                return
            labels = found[ip] = []
        if label not in labels:
            labels.append(label)

    for sighting in (evidence.http, evidence.report_http):
        if sighting is not None:
            add(sighting.client_ip, "http")
            if normalize_ip(sighting.peer_ip) != normalize_ip(sighting.client_ip):
                add(sighting.peer_ip, "http_peer")  # a trusted proxy: looked up, never counted
    c = correlate(evidence)
    for s in c.observed:
        add(s.ip, "observed")
    for s in (*c.reported_public, *c.reported_local):
        add(s.ip, "reported")
    return found


def enrich_evidence(evidence: SessionEvidence, runtime: IntelRuntime) -> SessionEvidence:
    """``evidence`` with its ``intel`` filled in from ``runtime`` (pure apart from that)."""
    lookups = tuple(
        IntelLookup(ip=ip, seen_as=tuple(labels), result=runtime.lookup(ip))
        for ip, labels in _addresses(evidence).items()
    )
    return replace(evidence, intel=IntelEvidence(data=runtime.description, lookups=lookups))


def make_enricher(
    holder: RuntimeHolder,
) -> Callable[[SessionEvidence], Awaitable[SessionEvidence]]:
    """The ``WebContext`` enricher reading the holder's current runtime on each call."""

    async def enrich_intel(evidence: SessionEvidence) -> SessionEvidence:
        return enrich_evidence(evidence, holder.current)

    return enrich_intel
