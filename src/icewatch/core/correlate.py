"""Join the evidence of one session: what the server saw next to what the page claimed.

Two pure functions serve the web adapter before anything is scored:

* :func:`reported_endpoints` — the ``(ip, port)`` pairs the page's candidates name, which
  the adapter hands to ``CorrelationState.observations_for`` to pick up Binding requests;
* :func:`attribute_bindings` — the attribution rule behind ``observations_for`` (an
  in-memory state may call it as is; any other backend must give the same answer).

:func:`correlate` then turns a :class:`SessionEvidence` into a :class:`Correlation`: the
parsed candidates (and the malformed ones), the parsed SDP, the addresses the server
observed and those the page reported, each classified, and how the page's srflx
endpoints line up with the sources the server saw. The scoring rules read only this
value, so a verdict is a pure function of stored evidence.

Nothing here trusts the page: candidate strings and SDP are parsed with the core's
bounded parsers, anything malformed is kept as evidence, and no input raises.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from icewatch.core.addr import IPAddress, ParsedIP
from icewatch.core.errors import ParseError
from icewatch.core.evidence import (
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.ice import (
    END_OF_CANDIDATES,
    Candidate,
    CandidateType,
    SessionDescription,
    Transport,
    parse_ice_line,
    parse_sdp,
)
from icewatch.core.netclass import Category, classify_ip

__all__ = [
    "LATE_GRACE_S",
    "MAX_RAW_TEXT",
    "AddressSighting",
    "Attribution",
    "Correlation",
    "EndpointFinding",
    "MalformedCandidate",
    "ReportedEntry",
    "attribute_bindings",
    "attribution_of",
    "correlate",
    "normalize_ip",
    "reported_endpoints",
]

#: Raw text kept from a malformed line (evidence must stay bounded).
MAX_RAW_TEXT = 512
#: A page that stopped early (its own deadline, or an error) may not have reported a srflx
#: whose Binding reached the server shortly before the report: the browser gets its answer
#: one round trip later. Sources that arrived less than this before the report are not
#: "hidden" then (generous, for slow links; a page that reports on time gets no grace).
LATE_GRACE_S = 1.0

_ENDPOINT_TYPES = frozenset({CandidateType.SRFLX, CandidateType.PRFLX})


def normalize_ip(ip: IPAddress) -> IPAddress:
    """The effective address: an IPv4-mapped IPv6 (``::ffff:a.b.c.d``) becomes its IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _ip_of(value: ParsedIP | str | None) -> IPAddress | None:
    return value.ip if isinstance(value, ParsedIP) else None


# --- endpoints and attribution -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportedEntry:
    """A candidate the page reported that parsed: the value and the event it came in."""

    candidate: Candidate
    reported: ReportedCandidate

    @property
    def ip(self) -> IPAddress | None:
        return _ip_of(self.candidate.address)

    @property
    def endpoint(self) -> tuple[IPAddress, int] | None:
        ip = self.ip
        return None if ip is None else (ip, self.candidate.port)


def _parse_report(
    report: PageReport,
) -> tuple[tuple[ReportedEntry, ...], tuple[MalformedCandidate, ...], bool]:
    parsed: list[ReportedEntry] = []
    malformed: list[MalformedCandidate] = []
    end = False
    for rc in report.candidates:
        try:
            result = parse_ice_line(rc.candidate)
        except ParseError as exc:
            malformed.append(
                MalformedCandidate(
                    raw=str(rc.candidate)[:MAX_RAW_TEXT],
                    field=exc.field,
                    reason=exc.reason,
                    where="report",
                    ms=rc.ms,
                )
            )
            continue
        if result is END_OF_CANDIDATES:
            end = True
        elif isinstance(result, Candidate):
            parsed.append(ReportedEntry(result, rc))
    return tuple(parsed), tuple(malformed), end


def reported_endpoints(report: PageReport) -> frozenset[tuple[IPAddress, int]]:
    """Every ``(ip, port)`` a candidate of the page names with a raw IP, in its
    ``icecandidate`` events or its SDP: srflx and prflx (the public side the server should
    have seen) and host (Firefox with obfuscation off drops its srflx when it equals the
    host). Malformed lines, names and relay candidates are skipped."""
    entries, _, _ = _parse_report(report)
    sdp, _ = _parse_sdp_text(report.sdp)
    candidates = [e.candidate for e in entries]
    if sdp is not None:
        candidates.extend(sdp.all_candidates())
    out: set[tuple[IPAddress, int]] = set()
    for c in candidates:
        ip = _ip_of(c.address)
        if ip is not None and (c.type in _ENDPOINT_TYPES or c.type is CandidateType.HOST):
            out.add((normalize_ip(ip), c.port))
    return frozenset(out)


def attribute_bindings(
    session_id: str,
    observations: Iterable[Observation],
    endpoints: Collection[tuple[IPAddress, int]],
    since: float,
    until: float,
) -> tuple[Observation, ...]:
    """The observations that belong to ``session_id``, oldest first (stable).

    The rule behind ``CorrelationState.observations_for``: within ``[since, until]``,

    * an observation whose ``session_id`` is the session's belongs to it (a TURN request
      whose MESSAGE-INTEGRITY verified against the session's credential);
    * an observation naming no session (a Binding request, or an Allocate without valid
      credentials) belongs to it when its source ``(ip, port)`` is in ``endpoints`` (the
      page's :func:`reported_endpoints`) or is the source of one of the session's own
      observations in the window (browsers send Binding and Allocate from one socket);
    * observations of other sessions never do.

    An unattributed observation is returned unchanged (``session_id`` stays ``None``), so
    the evidence keeps how it was attributed (see :func:`attribution_of`).
    """
    window = [o for o in observations if since <= o.at <= until]
    own = [o for o in window if o.session_id == session_id]
    sources = {(normalize_ip(o.ip), o.port) for o in own}
    wanted = {(normalize_ip(ip), port) for ip, port in endpoints} | sources
    picked = [
        o
        for o in window
        if o.session_id == session_id
        or (o.session_id is None and (normalize_ip(o.ip), o.port) in wanted)
    ]
    picked.sort(key=lambda o: o.at)
    return tuple(picked)


class Attribution(StrEnum):
    """How an observation came to belong to a session."""

    CREDENTIAL = "credential"  # it carried the session's verified TURN credential
    TURN_SOURCE = "turn_source"  # same source ip:port as the session's credentialed traffic
    CANDIDATE = "candidate"  # same source ip:port as a candidate the page reported


def attribution_of(
    observation: Observation,
    credentialed_sources: Collection[tuple[IPAddress, int]],
) -> Attribution:
    """Why ``observation`` is in a session's evidence (credential, then source, then claim)."""
    if observation.session_id is not None:
        return Attribution.CREDENTIAL
    if (normalize_ip(observation.ip), observation.port) in credentialed_sources:
        return Attribution.TURN_SOURCE
    return Attribution.CANDIDATE


# --- the correlation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MalformedCandidate:
    """A candidate line that did not parse: the line (bounded), where it failed and why.

    ``where`` is ``"report"`` (an ``icecandidate`` event) or ``"sdp"`` (an
    ``a=candidate`` line of the reported SDP; ``sdp_line`` is its 1-based number)."""

    raw: str
    field: str
    reason: str
    where: str
    ms: float | None = None
    sdp_line: int | None = None


@dataclass(frozen=True, slots=True)
class AddressSighting:
    """One address and everywhere it was seen.

    ``where`` holds labels: for observed addresses the observation sources (``stun``,
    ``turn``, ``ice``); for reported ones the candidate roles (``host``, ``srflx``,
    ``prflx``, ``relay``, ``raddr``, ``sdp``). ``ports`` and ``transports`` are sorted."""

    ip: IPAddress
    category: Category
    where: tuple[str, ...]
    ports: tuple[int, ...] = ()
    transports: tuple[str, ...] = ()
    first_at: float | None = None  # observed addresses: the earliest packet

    @property
    def family(self) -> int:
        return self.ip.version


@dataclass(frozen=True, slots=True)
class EndpointFinding:
    """One disagreement between a reported endpoint and the server's view.

    * ``unseen`` — the page reported a srflx ``(ip, port)`` no observation came from;
    * ``rewritten`` — an observed source shares its port (and family) with a reported
      srflx whose address differs: the page changed the address;
    * ``hidden`` — the server received a Binding request from this session's source,
      yet no reported candidate (srflx, prflx, or raw-IP host) names that endpoint;
    * ``denied`` — the page said WebRTC is missing, yet this session's traffic arrived.
    """

    kind: str
    reported: ReportedEntry | None = None
    observation: Observation | None = None
    where: str = "report"  # the reported side: an icecandidate event, or the "sdp"


@dataclass(frozen=True, slots=True)
class Correlation:
    """Everything the scoring rules need about one session (see the module docstring)."""

    session_id: str
    webrtc: WebRtcStatus | None  # None: no report yet
    report: PageReport | None
    candidates: tuple[ReportedEntry, ...]
    malformed: tuple[MalformedCandidate, ...]
    end_of_candidates: bool
    sdp: SessionDescription | None
    sdp_error: tuple[str, str] | None  # (field, reason) when the SDP did not parse at all
    sdp_candidates: tuple[Candidate, ...]
    http_ips: tuple[IPAddress, ...]  # the creating request's client address first
    observations: tuple[Observation, ...]  # oldest first; other sessions' dropped
    ignored_observations: int
    observed: tuple[AddressSighting, ...]
    reported_public: tuple[AddressSighting, ...]  # srflx / prflx / relay addresses
    reported_local: tuple[AddressSighting, ...]  # raw host and raddr addresses
    mdns_names: tuple[str, ...]
    udp_observed: bool
    turn_observations: tuple[Observation, ...]
    matched: tuple[ReportedEntry, ...]  # srflx endpoints the server saw
    findings: tuple[EndpointFinding, ...]
    reported_at: float | None = None
    #: The evidence this was computed from, for rules that read parts of it directly
    #: (enrichments such as IP intelligence or the parsed user agent).
    evidence: SessionEvidence | None = None

    @property
    def any_candidate(self) -> bool:
        """Whether the page reported any candidate at all (malformed ones included)."""
        return bool(self.candidates or self.malformed or self.sdp_candidates)

    def observed_in_family(self, family: int) -> tuple[AddressSighting, ...]:
        return tuple(s for s in self.observed if s.family == family)

    def http_in_family(self, family: int) -> tuple[IPAddress, ...]:
        return tuple(ip for ip in self.http_ips if ip.version == family)


def _sightings(
    items: Iterable[tuple[IPAddress, str, int | None, str | None, float | None]],
) -> tuple[AddressSighting, ...]:
    grouped: dict[IPAddress, tuple[set[str], set[int], set[str], float | None]] = {}
    order: list[IPAddress] = []
    for ip, label, port, transport, at in items:
        ip = normalize_ip(ip)
        if ip not in grouped:
            grouped[ip] = (set(), set(), set(), None)
            order.append(ip)
        where, ports, transports, first = grouped[ip]
        where.add(label)
        if port is not None:
            ports.add(port)
        if transport is not None:
            transports.add(transport)
        if at is not None and (first is None or at < first):
            grouped[ip] = (where, ports, transports, at)
    return tuple(
        AddressSighting(
            ip=ip,
            category=classify_ip(str(ip)).category,
            where=tuple(sorted(grouped[ip][0])),
            ports=tuple(sorted(grouped[ip][1])),
            transports=tuple(sorted(grouped[ip][2])),
            first_at=grouped[ip][3],
        )
        for ip in order
    )


def _parse_sdp_text(
    text: str | None,
) -> tuple[SessionDescription | None, tuple[str, str] | None]:
    if text is None or text == "":
        return None, None
    try:
        return parse_sdp(text), None
    except ParseError as exc:
        return None, (exc.field, exc.reason)


def _reported_addresses(
    entries: Iterable[Candidate],
) -> tuple[
    list[tuple[IPAddress, str, int | None, str | None, float | None]],
    list[tuple[IPAddress, str, int | None, str | None, float | None]],
    list[str],
]:
    public: list[tuple[IPAddress, str, int | None, str | None, float | None]] = []
    local: list[tuple[IPAddress, str, int | None, str | None, float | None]] = []
    mdns: list[str] = []
    for c in entries:
        ip = _ip_of(c.address)
        proto = c.transport.value
        if c.mdns and isinstance(c.address, str):
            mdns.append(c.address.lower())
        if ip is not None:
            if c.type is CandidateType.HOST:
                local.append((ip, "host", c.port, proto, None))
            elif c.type is not CandidateType.UNKNOWN:
                public.append((ip, c.type.value, c.port, proto, None))
        rip = _ip_of(c.related_address)
        if rip is not None and not normalize_ip(rip).is_unspecified:
            local.append((rip, "raddr", c.related_port, proto, None))
    return public, local, mdns


def _endpoint_findings(
    entries: tuple[ReportedEntry, ...],
    sdp_candidates: tuple[Candidate, ...],
    observations: tuple[Observation, ...],
    report: PageReport | None,
    reported_at: float | None,
) -> tuple[tuple[ReportedEntry, ...], tuple[EndpointFinding, ...]]:
    # UDP only: a TCP source port is the connection's, never a candidate's port.
    seen: dict[tuple[IPAddress, int], list[Observation]] = {}
    for o in observations:
        if o.transport.lower() == "udp":
            seen.setdefault((normalize_ip(o.ip), o.port), []).append(o)
    # The SDP's copies are checked too (a page may rewrite one and not the other).
    sdp_entries = tuple(
        ReportedEntry(c, ReportedCandidate(c.raw or str(c))) for c in sdp_candidates
    )
    matched: list[ReportedEntry] = []
    findings: list[EndpointFinding] = []
    rewritten: set[tuple[IPAddress, int]] = set()
    checked: set[tuple[IPAddress, int]] = set()
    for where, group in (("report", entries), ("sdp", sdp_entries)):
        for entry in group:
            endpoint = entry.endpoint
            c = entry.candidate
            if (
                endpoint is None
                or c.type is not CandidateType.SRFLX
                or c.transport is not Transport.UDP
            ):
                continue
            ip, port = normalize_ip(endpoint[0]), endpoint[1]
            if where == "sdp" and (ip, port) in checked:
                continue
            checked.add((ip, port))
            if (ip, port) in seen:
                if where == "report":
                    matched.append(entry)
                continue
            findings.append(EndpointFinding("unseen", reported=entry, where=where))
            for (oip, oport), obs in seen.items():
                if oport == port and oip.version == ip.version and oip != ip:
                    rewritten.add((oip, oport))
                    findings.append(
                        EndpointFinding("rewritten", entry, observation=obs[0], where=where)
                    )
    accounted = {
        (normalize_ip(e.endpoint[0]), e.endpoint[1])
        for e in (*entries, *sdp_entries)
        if e.endpoint is not None and e.candidate.type is not CandidateType.RELAY
    }
    if report is not None and report.webrtc is WebRtcStatus.MISSING:
        # The page says there is no RTCPeerConnection, yet the session's credential or
        # endpoints reached the server: the API was there.
        findings.extend(EndpointFinding("denied", observation=o) for o in observations[:1])
    stopped_early = report is not None and (
        report.ended_by in ("deadline", "error") or report.webrtc is WebRtcStatus.ERROR
    )
    for key, obs in seen.items():
        if key in accounted or key in rewritten:
            continue
        binding = next((o for o in obs if o.kind is StunKind.BINDING), None)
        if binding is None:
            continue  # TURN alone (relay-only modes) reports no srflx by design
        if stopped_early and reported_at is not None and binding.at > reported_at - LATE_GRACE_S:
            continue  # may simply have come too late for a page that stopped early
        findings.append(EndpointFinding("hidden", observation=binding))
    return tuple(matched), tuple(findings)


def correlate(evidence: SessionEvidence) -> Correlation:
    """Join one session's evidence (pure; never raises on what the page sent)."""
    report = evidence.report
    if report is not None:
        entries, malformed, end = _parse_report(report)
        sdp, sdp_error = _parse_sdp_text(report.sdp)
    else:
        entries, malformed, end, sdp, sdp_error = (), (), False, None, None
    sdp_candidates: tuple[Candidate, ...] = ()
    if sdp is not None:
        sdp_candidates = sdp.all_candidates()
        end = end or sdp.end_of_candidates or any(m.end_of_candidates for m in sdp.media)
        malformed = malformed + tuple(
            MalformedCandidate(
                raw=e.raw[:MAX_RAW_TEXT],
                field=e.field,
                reason=e.reason,
                where="sdp",
                sdp_line=e.line_number,
            )
            for e in sdp.all_candidate_errors()
        )

    http_ips: list[IPAddress] = [normalize_ip(evidence.http.client_ip)]
    if evidence.report_http is not None:
        ip = normalize_ip(evidence.report_http.client_ip)
        if ip not in http_ips:
            http_ips.append(ip)

    sid = evidence.session_id
    own = tuple(
        sorted(
            (o for o in evidence.observations if o.session_id in (None, sid)),
            key=lambda o: o.at,
        )
    )
    observed = _sightings((o.ip, o.source.value, o.port, o.transport, o.at) for o in own)
    public, local, mdns = _reported_addresses([e.candidate for e in entries])
    sdp_public, sdp_local, sdp_mdns = _reported_addresses(sdp_candidates)
    # SDP copies of the same candidates add nothing; only addresses new to the SDP count.
    known = {normalize_ip(item[0]) for item in public + local}
    public += [(ip, "sdp", p, t, a) for ip, _, p, t, a in sdp_public if ip not in known]
    local += [(ip, "sdp", p, t, a) for ip, _, p, t, a in sdp_local if ip not in known]
    mdns_names = tuple(dict.fromkeys(mdns + sdp_mdns))

    matched, findings = _endpoint_findings(
        entries, sdp_candidates, own, report, evidence.reported_at
    )
    return Correlation(
        session_id=sid,
        webrtc=None if report is None else report.webrtc,
        report=report,
        candidates=entries,
        malformed=malformed,
        end_of_candidates=end,
        sdp=sdp,
        sdp_error=sdp_error,
        sdp_candidates=sdp_candidates,
        http_ips=tuple(http_ips),
        observations=own,
        ignored_observations=len(evidence.observations) - len(own),
        observed=observed,
        reported_public=_sightings(public),
        reported_local=_sightings(local),
        mdns_names=mdns_names,
        udp_observed=any(
            o.transport.lower() == "udp"
            and o.source in (ObservationSource.STUN, ObservationSource.TURN)
            for o in own
        ),
        turn_observations=tuple(o for o in own if o.source is ObservationSource.TURN),
        matched=matched,
        findings=findings,
        reported_at=evidence.reported_at,
        evidence=evidence,
    )
