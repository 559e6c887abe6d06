"""The session JSON: one session's evidence, its correlation and its verdict, as served.

:func:`session_document` is what ``GET /api/v1/sessions/{id}`` and the report endpoint
return and what the leak-test page renders (shape documented in
``docs/json-output.md#session-json``). Keys are stable and never omitted (absent values
are ``null``); times are ISO 8601 UTC strings with milliseconds (:func:`iso_utc`),
formatted by arithmetic so the core never touches a clock.
"""

from __future__ import annotations

import math
from typing import Any

from icewatch.core.addr import IPAddress
from icewatch.core.correlate import (
    AddressSighting,
    Correlation,
    ReportedEntry,
    attribution_of,
    correlate,
    normalize_ip,
)
from icewatch.core.dialect import dialect_of
from icewatch.core.evidence import (
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    SessionEvidence,
    StunKind,
    TamperReport,
)
from icewatch.core.fingerprint import Population, fingerprint_document, network_fingerprint
from icewatch.core.ice import AddressClass, CandidateType, SessionDescription
from icewatch.core.netclass import Category, classify_ip
from icewatch.core.policy import infer_policy
from icewatch.core.rtt import rtt_stats
from icewatch.core.verdict import Verdict

__all__ = ["DOCUMENT_VERSION", "finite", "iso_utc", "session_document"]

#: Bumped when a key changes meaning or disappears (adding keys does not bump it).
DOCUMENT_VERSION = 1

_V6_CLASSES = frozenset(
    {AddressClass.IPV6_GLOBAL, AddressClass.ULA, AddressClass.TEREDO, AddressClass.SIXTOFOUR}
)
_GLOBAL_V6 = frozenset({Category.PUBLIC, Category.TEREDO, Category.SIX_TO_FOUR})
#: 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in Unix seconds: the ISO 8601 years.
_MIN_TS = -62_135_596_800
_MAX_TS = 253_402_300_800


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01.

    Howard Hinnant's ``civil_from_days`` (http://howardhinnant.github.io/date_algorithms.html).
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return (year + 1 if month <= 2 else year), month, day


def iso_utc(ts: float | None) -> str | None:
    """Unix seconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (rounded to the millisecond);
    ``None`` for ``None``, a non-finite value, or a year outside 1..9999."""
    if ts is None or not math.isfinite(ts) or not _MIN_TS <= ts < _MAX_TS:
        return None
    total_ms = round(ts * 1000)
    days, ms_of_day = divmod(total_ms, 86_400_000)
    year, month, day = _civil_from_days(days)
    if year > 9999:  # rounding up the last millisecond of 9999
        return None
    hours, rest = divmod(ms_of_day, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{year:04d}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def finite(value: float | None) -> float | None:
    """A number the page sent, fit for strict JSON: NaN and infinities become ``None``."""
    return value if value is not None and math.isfinite(value) else None


def _ms_after(at: float, start: float) -> float | None:
    value = (at - start) * 1000
    return round(value, 1) if math.isfinite(value) else None


def _family(ip: IPAddress) -> str:
    return f"ipv{ip.version}"


def _http(h: HttpSighting | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {
        "client_ip": str(h.client_ip),
        "peer_ip": str(h.peer_ip),
        "family": _family(h.client_ip),
        "user_agent": h.user_agent,
        "forwarded_for": list(h.forwarded_for),
        "host": h.host,
        "at": iso_utc(h.at),
    }


def _observed(c: Correlation, created_at: float) -> list[dict[str, Any]]:
    credentialed = {(normalize_ip(o.ip), o.port) for o in c.observations if o.session_id}
    return [
        {
            "source": o.source.value,
            "kind": o.kind.value,
            "ip": str(o.ip),
            "port": o.port,
            "transport": o.transport,
            "family": _family(o.ip),
            "at": iso_utc(o.at),
            "ms": _ms_after(o.at, created_at),
            "attributed_by": attribution_of(o, credentialed).value,
            "software": o.software,
            "local_ip": None if o.local_ip is None else str(o.local_ip),
            "local_port": o.local_port,
        }
        for o in c.observations
    ]


def _udp_endpoints(observations: tuple[Observation, ...]) -> set[tuple[IPAddress, int]]:
    return {(normalize_ip(o.ip), o.port) for o in observations if o.transport.lower() == "udp"}


def _candidate(e: ReportedEntry, seen: set[tuple[IPAddress, int]]) -> dict[str, Any]:
    c = e.candidate
    doc = c.as_dict()
    ip = e.ip
    endpoint = e.endpoint
    checkable = (
        endpoint is not None
        and c.transport.value == "udp"
        and c.type in (CandidateType.SRFLX, CandidateType.PRFLX)
    )
    doc.update(
        {
            "raw": e.reported.candidate,
            "ms": finite(e.reported.ms),
            "sdp_mid": e.reported.sdp_mid,
            "sdp_mline_index": e.reported.sdp_mline_index,
            "family": None if ip is None else _family(ip),
            "address_category": None if ip is None else classify_ip(str(ip)).category.value,
            "seen_by_server": (
                (normalize_ip(endpoint[0]), endpoint[1]) in seen
                if checkable and endpoint is not None
                else None
            ),
        }
    )
    return doc


def _sighting(s: AddressSighting, label: str) -> dict[str, Any]:
    return {
        "ip": str(s.ip),
        "family": _family(s.ip),
        "category": s.category.value,
        label: list(s.where),
        "ports": list(s.ports),
    }


def _public_ips(c: Correlation) -> dict[str, Any]:
    observed_ips = {s.ip for s in c.observed}
    return {
        "observed": [
            _sighting(s, "sources")
            | {
                "transports": list(s.transports),
                "first_at": iso_utc(s.first_at),
                "matches_http": s.ip in c.http_ips,
            }
            for s in c.observed
        ],
        "reported": [
            _sighting(s, "types") | {"seen_by_server": s.ip in observed_ips}
            for s in c.reported_public
        ],
    }


def _ipv6(c: Correlation) -> dict[str, Any]:
    observed = [str(s.ip) for s in c.observed if s.family == 6]
    reported = list(
        dict.fromkeys(str(s.ip) for s in (*c.reported_public, *c.reported_local) if s.family == 6)
    )
    global_ips = list(
        dict.fromkeys(
            str(s.ip)
            for s in (*c.observed, *c.reported_public, *c.reported_local)
            if s.family == 6 and s.category in _GLOBAL_V6
        )
    )
    hidden = [
        {"name": str(e.candidate.address), "address_class": cls.value}
        for e in c.candidates
        if e.candidate.mdns and (cls := e.candidate.priority_info.address_class) in _V6_CLASSES
    ]
    return {
        "http_over_ipv6": bool(c.http_in_family(6)),
        "observed": observed,
        "reported": reported,
        "global": global_ips,
        "mdns_hosts": hidden,
    }


def _sdp_summary(c: Correlation) -> dict[str, Any] | None:
    sdp: SessionDescription | None = c.sdp
    if sdp is None:
        if c.sdp_error is None:
            return None
        return {"parse_error": {"field": c.sdp_error[0], "reason": c.sdp_error[1]}}
    origin = sdp.origin
    return {
        "parse_error": None,
        "origin": None
        if origin is None
        else {
            "username": origin.username,
            "session_id": origin.session_id,
            "address": origin.address,
        },
        "connection": None if sdp.connection is None else str(sdp.connection.address),
        "media": [
            {
                "media": m.media,
                "port": m.port,
                "proto": m.proto,
                "mid": m.mid,
                "connection": None if m.connection is None else str(m.connection.address),
                "candidates": len(m.candidates),
                "end_of_candidates": m.end_of_candidates,
            }
            for m in sdp.media
        ],
        "ice_ufrag": sdp.ice_ufrag or next((m.ice_ufrag for m in sdp.media if m.ice_ufrag), None),
        "candidates": len(sdp.all_candidates()),
        "candidate_errors": len(sdp.all_candidate_errors()),
        "end_of_candidates": c.end_of_candidates,
        "fingerprint_hashes": sorted(
            {f.hash_function for f in sdp.fingerprints}
            | {f.hash_function for m in sdp.media for f in m.fingerprints}
        ),
        "problems": len(sdp.problems),
        "line_count": sdp.line_count,
    }


def _tamper(t: TamperReport) -> dict[str, Any]:
    return t.as_dict() | {"ms": finite(t.ms)}


def _report(r: PageReport | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "webrtc": r.webrtc.value,
        "error": r.error,
        "ended_by": r.ended_by,
        "gathering_ms": finite(r.gathering_ms),
        "deadline_ms": finite(r.deadline_ms),
        "user_agent": r.user_agent,
        "ua_hints": dict(r.ua_hints),
        "collector_version": r.collector_version,
        "tamper": None if r.tamper is None else _tamper(r.tamper),
        "candidate_errors": [e.as_dict() | {"ms": finite(e.ms)} for e in r.candidate_errors],
    }


def _connection(c: Correlation, report: PageReport | None) -> dict[str, Any]:
    """The test connection: what the page reported, the ICE addresses the server's peer
    saw (``nominated``: the selected pair's remote address) and both paths' RTTs."""
    conn = None if report is None else report.connection
    ice = [o for o in c.observations if o.source is ObservationSource.ICE]
    nominated = next((o for o in ice if o.kind is StunKind.ICE_NOMINATED), None)
    return {
        "attempted": None if conn is None else conn.attempted,
        "state": None if conn is None else conn.state,
        "answer_ms": None if conn is None else finite(conn.answer_ms),
        "open_ms": None if conn is None else finite(conn.open_ms),
        "error": None if conn is None else conn.error,
        "server_error": None if conn is None else conn.server_error,
        "nominated": None
        if nominated is None
        else {
            "ip": str(nominated.ip),
            "port": nominated.port,
            "transport": nominated.transport,
            "family": _family(nominated.ip),
            "matches_http": normalize_ip(nominated.ip) in c.http_ips,
        },
        "ice_addresses": [
            {"ip": str(ip), "port": port, "transport": transport, "family": _family(ip)}
            for ip, port, transport in dict.fromkeys((o.ip, o.port, o.transport) for o in ice)
        ][:20],
        "server_rtt_ms": rtt_stats(() if nominated is None else nominated.rtt_ms),
        "page_rtt_ms": rtt_stats(() if conn is None else conn.rtts_ms),
        "http_rtt_ms": rtt_stats(() if report is None else report.http_rtts_ms),
    }


def session_document(
    evidence: SessionEvidence,
    verdict: Verdict | None,
    correlation: Correlation | None = None,
    population: Population | None = None,
) -> dict[str, Any]:
    """The session JSON (``verdict`` is ``null`` until the page has reported).

    ``correlation`` is computed from ``evidence`` when not given (pass the one
    :func:`~icewatch.core.scoring.evaluate` returned to avoid parsing twice).
    ``population`` is what the store counted for the session's network fingerprint
    (the ``fingerprint`` section's counts are ``null`` without it)."""
    c = correlate(evidence) if correlation is None else correlation
    seen = _udp_endpoints(c.observations)
    report = evidence.report
    return {
        "version": DOCUMENT_VERSION,
        "id": evidence.session_id,
        "created_at": iso_utc(evidence.created_at),
        "reported_at": iso_utc(evidence.reported_at),
        "http": _http(evidence.http),
        "report_http": _http(evidence.report_http),
        "observed": _observed(c, evidence.created_at),
        "candidates": [_candidate(e, seen) for e in c.candidates],
        "malformed_candidates": [
            {
                "raw": m.raw,
                "field": m.field,
                "reason": m.reason,
                "where": m.where,
                "ms": finite(m.ms),
                "sdp_line": m.sdp_line,
            }
            for m in c.malformed
        ],
        "end_of_candidates": c.end_of_candidates,
        "public_ips": _public_ips(c),
        "local_ips": [_sighting(s, "where") for s in c.reported_local],
        "mdns_names": list(c.mdns_names),
        "ipv6": _ipv6(c),
        "sdp": None if report is None else report.sdp,
        "sdp_summary": _sdp_summary(c),
        "report": _report(report),
        "client": None if evidence.client is None else evidence.client.as_dict(),
        "dialect": None if (d := dialect_of(c)) is None else d.as_dict(),
        "intel": evidence.intel.as_dict(),
        "verdict": None if verdict is None else verdict.as_dict(),
        "fingerprint": fingerprint_document(network_fingerprint(c, d), population),
        "policy": None if (p := infer_policy(c)) is None else p.as_dict(),
        "connection": _connection(c, report),
    }
