"""Spoof and tamper forensics: what in a page's report cannot be true of a real browser.

Pure functions over a :class:`~icewatch.core.correlate.Correlation` (and the evidence it
keeps). Each returns :class:`Discrepancy` values that say *which* line, *which* field,
what was expected and what was seen, so a signal's evidence explains itself.

Three families, each feeding one signal:

* :func:`spoof_discrepancies` (``candidate.spoofed``, beside the endpoint findings of
  ``correlate``) — the report disagrees with the packets or with itself:

  - ``rewritten_port``: a srflx names an address the server saw, but a port it never
    saw from that address (the server saw another port from it in this session);
  - ``premature``: a srflx reached the page before the server even received the
    request it answers (see :data:`PREMATURE_TOLERANCE_S` for the time base);
  - ``sdp_connection`` / ``sdp_rtcp``: the SDP's ``c=`` (or ``a=rtcp``) names an
    address (and the ``m=`` port) no candidate has — browsers put their default
    candidate there, so a script that rewrote the candidates forgot that line;
  - ``raddr``: a srflx/prflx names a related (base) address no host candidate has,
    while raw host candidates are shown;
  - ``not_in_sdp`` / ``not_in_events``: an ``icecandidate`` event with no copy in the
    final SDP, or (gathering complete) an SDP candidate no event delivered;
  - ``ufrag``: a candidate's ``ufrag`` (or the event's ``usernameFragment``) is not
    the SDP's ``a=ice-ufrag``.

* :func:`implausible_candidates` (``candidate.malformed``, beside the lines that do not
  parse) — a line that parses but no browser engine writes:

  - ``type_preference``: the priority's type preference is not the one libwebrtc or
    Firefox use for the candidate's type and transport;
  - ``local_preference``: the type preference fits, but the local preference is
    outside that engine's band (libwebrtc: an address precedence that matches the
    address shown; Firefox: its interface/direction/server layout);
  - ``component``: the priority's low byte is not ``256 - component``;
  - ``related_address``: a host with ``raddr``/``rport``, a srflx/prflx/relay without
    them, a zeroed ``raddr`` with a non-zero ``rport`` (or the reverse);
  - ``foundation``: one foundation for candidates of different type, transport or
    (host) base — both engines derive it from exactly those.

* :func:`stats_discrepancies` (``webrtc.api_tampered``, beside the collector's own
  checks) — ``getStats()`` local candidates and ``icecandidate`` events disagree.

Real browser lines never produce any of these: every capture in ``tests/data/captures``
is checked for it. Known real-world quirks are allowed on purpose: Firefox's IPv6 srflx
carries ``raddr 0.0.0.0``; a srflx over NAT64 has an IPv4 address and an IPv6 base;
Chromium's SDP lines lack the ``ufrag`` its event strings carry; Chromium's
``getStats()`` lists TCP host candidates on port 9 that no event delivers and hides the
address of mDNS hosts (``""``); Firefox drops a srflx equal to its host candidate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

from icewatch.core.addr import IPAddress, ParsedIP, try_parse_ip
from icewatch.core.correlate import Correlation, ReportedEntry, normalize_ip
from icewatch.core.evidence import Observation, StatsCandidate
from icewatch.core.ice import Candidate, CandidateType, Transport
from icewatch.core.ice.priority import EngineLayout, decode_priority

__all__ = [
    "MS_FROM_START_COLLECTORS",
    "PREMATURE_TOLERANCE_S",
    "ClaimedBrowser",
    "Discrepancy",
    "candidate_plausibility",
    "claimed_browser",
    "implausible_candidates",
    "spoof_discrepancies",
    "stats_discrepancies",
]

#: Collector versions whose candidate ``ms`` counts from *before* the session request
#: (``collect()`` reads ``performance.now()`` first, then creates the session). Only for
#: them is ``created_at + ms`` a latest possible server time of a candidate event.
MS_FROM_START_COLLECTORS: Final = frozenset({"1", "2"})

#: How much earlier than the Binding request a srflx must have appeared to count as
#: ``premature``. The comparison itself assumes nothing about latency: the page started
#: before the server created the session, so ``created_at + ms`` is the *latest* server
#: time the event can have happened, and a srflx exists only after its Binding arrived.
#: The margin covers coarse page timers (Firefox with ``privacy.resistFingerprinting``
#: clamps ``performance.now()`` to up to 100 ms) and small wall-clock slews.
PREMATURE_TOLERANCE_S: Final = 0.15

#: Longest line text a discrepancy carries.
MAX_LINE = 512

# Type preferences per (candidate type, transport), libwebrtc then Firefox (nICEr); see
# icewatch.core.ice.priority for where they come from.
_TYPE_PREF: Final[dict[tuple[str, str], tuple[frozenset[int], frozenset[int]]]] = {
    ("host", "udp"): (frozenset({126}), frozenset({126})),
    ("host", "tcp"): (frozenset({90}), frozenset({125})),
    ("prflx", "udp"): (frozenset({110}), frozenset({110})),
    ("prflx", "tcp"): (frozenset({80}), frozenset({109})),
    ("srflx", "udp"): (frozenset({100}), frozenset({100})),
    ("srflx", "tcp"): (frozenset({100}), frozenset({99})),
    ("relay", "udp"): (frozenset({0, 1, 2}), frozenset({5})),
    ("relay", "tcp"): (frozenset({0, 1, 2}), frozenset({0})),
}


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing in a report that does not add up.

    ``where`` is the reported side (``report``: an ``icecandidate`` event; ``sdp``: the
    reported SDP; ``stats``: ``getStats()``); ``line`` the candidate or SDP line as sent
    (bounded) and ``sdp_line`` its 1-based number in the SDP; ``field`` the part that is
    wrong; ``expected`` and ``seen`` say how. ``observation`` is the packet it was
    compared with, when there is one."""

    kind: str
    where: str
    field: str
    expected: str
    seen: str
    line: str | None = None
    sdp_line: int | None = None
    ms: float | None = None
    observation: Observation | None = None


# --- small helpers -----------------------------------------------------------------------


def _addr_key(value: ParsedIP | str | None) -> str:
    """An address as compared: the normalised IP, or the name in lower case."""
    if value is None:
        return ""
    if isinstance(value, ParsedIP):
        return str(normalize_ip(value.ip))
    return value.lower()


def _ip(value: ParsedIP | str | None) -> IPAddress | None:
    return normalize_ip(value.ip) if isinstance(value, ParsedIP) else None


def _identity(c: Candidate) -> tuple[Any, ...]:
    """What makes two candidate lines the same candidate (``ufrag``, ``generation`` and
    the network extensions excluded: Chromium's SDP copies lack ``ufrag``)."""
    return (
        c.foundation,
        c.component,
        c.transport.value,
        c.priority,
        _addr_key(c.address),
        c.port,
        c.type_raw.lower(),
        _addr_key(c.related_address),
        c.related_port,
        None if c.tcptype is None else c.tcptype.value,
    )


def _line(c: Candidate) -> str:
    return (c.raw or str(c))[:MAX_LINE]


def _finite(ms: float | None) -> float | None:
    return ms if ms is not None and math.isfinite(ms) else None


def _endpoint(ip: IPAddress, port: int) -> str:
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


@dataclass(frozen=True, slots=True)
class _SdpLines:
    """Where lines sit in the reported SDP text: candidate lines by text, and the
    ``c=`` / ``a=rtcp`` lines of each level (-1 for the session level)."""

    candidates: dict[str, int]
    connections: dict[int, tuple[int, str]]
    rtcp: dict[int, tuple[int, str]]


def _sdp_lines(text: str | None) -> _SdpLines:
    candidates: dict[str, int] = {}
    connections: dict[int, tuple[int, str]] = {}
    rtcp: dict[int, tuple[int, str]] = {}
    section = -1
    for number, raw in enumerate((text or "").split("\n"), start=1):
        line = raw.removesuffix("\r")
        if line.startswith("m="):
            section += 1
        elif line.startswith("a=candidate:"):
            candidates.setdefault(line[2:], number)
        elif line.startswith("c="):
            connections.setdefault(section, (number, line[:MAX_LINE]))
        elif line.startswith("a=rtcp:"):
            rtcp.setdefault(section, (number, line[:MAX_LINE]))
    return _SdpLines(candidates, connections, rtcp)


def _completed(c: Correlation) -> bool:
    """Whether gathering ran to its end (so every candidate had its chance to show)."""
    report = c.report
    return report is not None and report.ended_by == "complete"


def _sdp_usable(c: Correlation) -> bool:
    """An SDP that parsed and was not cut by the collector's size cap."""
    report = c.report
    return (
        c.sdp is not None
        and report is not None
        and report.sdp is not None
        and len(report.sdp) < 65536
    )


# --- candidate.spoofed: the report against the packets and against itself -------------


def _udp_srflx(c: Candidate) -> bool:
    return c.type is CandidateType.SRFLX and c.transport is Transport.UDP


def _rewritten_ports(c: Correlation) -> list[Discrepancy]:
    """A srflx whose address the server saw in this session, but never from its port."""
    seen: dict[tuple[IPAddress, int], Observation] = {}
    by_ip: dict[IPAddress, list[Observation]] = {}
    for o in c.observations:
        if o.transport.lower() != "udp":
            continue
        ip = normalize_ip(o.ip)
        seen.setdefault((ip, o.port), o)
        by_ip.setdefault(ip, []).append(o)
    out: list[Discrepancy] = []
    done: set[tuple[IPAddress, int]] = set()
    for cand, where, ms in _all_candidates(c):
        rip = _ip(cand.address)
        if rip is None or not _udp_srflx(cand):
            continue
        key = (rip, cand.port)
        if key in seen or key in done or rip not in by_ip:
            continue
        done.add(key)
        ports = sorted({o.port for o in by_ip[rip]})
        out.append(
            Discrepancy(
                kind="rewritten_port",
                where=where,
                field="port",
                expected=f"a port the server saw from {rip}: {', '.join(map(str, ports[:8]))}",
                seen=str(cand.port),
                line=_line(cand),
                ms=_finite(ms),
                observation=by_ip[rip][0],
            )
        )
    return out


def _premature(c: Correlation) -> list[Discrepancy]:
    """A srflx event earlier than the Binding request it would answer could arrive."""
    report, evidence = c.report, c.evidence
    if report is None or evidence is None:
        return []
    if report.collector_version not in MS_FROM_START_COLLECTORS:
        return []
    udp = [o for o in c.observations if o.transport.lower() == "udp"]
    out: list[Discrepancy] = []
    for e in c.candidates:
        cand = e.candidate
        ip = _ip(cand.address)
        ms = _finite(e.reported.ms)
        if ip is None or ms is None or ms < 0 or not _udp_srflx(cand):
            continue
        own = [o for o in udp if normalize_ip(o.ip) == ip and o.port == cand.port]
        pool = own or [o for o in udp if o.ip.version == ip.version]
        if not pool:
            continue  # nothing to compare with ("unseen" says the rest)
        first = min(pool, key=lambda o: o.at)
        latest = evidence.created_at + ms / 1000.0
        if latest + PREMATURE_TOLERANCE_S >= first.at:
            continue
        early = (first.at - latest) * 1000.0
        which = "its Binding request" if own else f"any IPv{ip.version} Binding request"
        out.append(
            Discrepancy(
                kind="premature",
                where="report",
                field="ms",
                expected=(
                    f"after {which} reached the server, at least "
                    f"{(first.at - evidence.created_at) * 1000.0:.0f} ms after the session "
                    f"was created"
                ),
                seen=f"{ms:.1f} ms after the collector started ({early:.0f} ms too early)",
                line=_line(cand),
                ms=ms,
                observation=first,
            )
        )
    return out


def _all_candidates(c: Correlation) -> list[tuple[Candidate, str, float | None]]:
    return [(e.candidate, "report", e.reported.ms) for e in c.candidates] + [
        (cand, "sdp", None) for cand in c.sdp_candidates
    ]


def _connection_lines(c: Correlation, lines: _SdpLines) -> list[Discrepancy]:
    """``c=`` and ``a=rtcp`` name the default candidate: it must be among the candidates."""
    sdp = c.sdp
    if sdp is None:
        return []
    named = [(cand, _ip(cand.address)) for cand, _, _ in _all_candidates(c)]
    endpoints = {(ip, cand.port) for cand, ip in named if ip is not None}
    addresses = {ip for _, ip in named if ip is not None}
    out: list[Discrepancy] = []
    levels: list[tuple[int, Any, Any, int | None]] = [(-1, sdp.connection, None, None)]
    levels += [(i, m.connection, m.rtcp, m.port) for i, m in enumerate(sdp.media)]
    for index, connection, rtcp, port in levels:
        ip = None if connection is None else _ip(connection.address)
        if ip is not None and not ip.is_unspecified and port != 0:
            number, text = lines.connections.get(index, (None, None))
            if port is not None and (ip, port) not in endpoints:
                out.append(
                    Discrepancy(
                        kind="sdp_connection",
                        where="sdp",
                        field="c=" if ip not in addresses else "m= port",
                        expected="the address and port of one of the candidates (the "
                        "default candidate), or 0.0.0.0",
                        seen=_endpoint(ip, port),
                        line=text,
                        sdp_line=number,
                    )
                )
            elif port is None and ip not in addresses:
                out.append(
                    Discrepancy(
                        kind="sdp_connection",
                        where="sdp",
                        field="c=",
                        expected="the address of one of the candidates, or 0.0.0.0",
                        seen=str(ip),
                        line=text,
                        sdp_line=number,
                    )
                )
        rip = None if rtcp is None else _ip(rtcp.address)
        if rip is not None and not rip.is_unspecified and rip not in addresses:
            number, text = lines.rtcp.get(index, (None, None))
            out.append(
                Discrepancy(
                    kind="sdp_rtcp",
                    where="sdp",
                    field="a=rtcp",
                    expected="the address of one of the candidates, or 0.0.0.0",
                    seen=str(rip),
                    line=text,
                    sdp_line=number,
                )
            )
    return out


def _related_addresses(c: Correlation, lines: _SdpLines) -> list[Discrepancy]:
    """A srflx/prflx's ``raddr`` is its base: a host candidate, when hosts are shown raw."""
    every = _all_candidates(c)
    hosts = {
        (ip, cand.port, cand.transport)
        for cand, _, _ in every
        if cand.type is CandidateType.HOST and (ip := _ip(cand.address)) is not None
    }
    if not hosts or not _completed(c):
        return []
    out: list[Discrepancy] = []
    done: set[tuple[Any, ...]] = set()
    for cand, where, ms in every:
        if cand.type not in (CandidateType.SRFLX, CandidateType.PRFLX):
            continue
        rip = _ip(cand.related_address)
        if rip is None or rip.is_unspecified:
            continue
        udp = cand.transport is Transport.UDP
        if udp and (rip, cand.related_port, cand.transport) in hosts:
            continue
        if not udp and any(h[0] == rip for h in hosts):
            continue
        key = _identity(cand)
        if key in done:
            continue
        done.add(key)
        rport = "" if cand.related_port is None else f" rport {cand.related_port}"
        out.append(
            Discrepancy(
                kind="raddr",
                where=where,
                field="raddr",
                expected="the address and port of one of the host candidates (its base)",
                seen=f"raddr {rip}{rport}",
                line=_line(cand),
                sdp_line=lines.candidates.get(_line(cand)) if where == "sdp" else None,
                ms=_finite(ms),
            )
        )
    return out


def _events_against_sdp(c: Correlation, lines: _SdpLines) -> list[Discrepancy]:
    """Every event's candidate is in the final SDP; with gathering complete, every SDP
    candidate came as an event (the collector reads the SDP at the end of gathering)."""
    report = c.report
    if report is None or not _sdp_usable(c):
        return []
    in_sdp = {_identity(cand) for cand in c.sdp_candidates}
    in_events = {_identity(e.candidate) for e in c.candidates}
    out: list[Discrepancy] = []
    for e in c.candidates:
        if _identity(e.candidate) not in in_sdp:
            out.append(
                Discrepancy(
                    kind="not_in_sdp",
                    where="report",
                    field="candidate",
                    expected="the same candidate among the SDP's a=candidate lines",
                    seen="no SDP line with this foundation, component, transport, "
                    "priority, address, port and type",
                    line=_line(e.candidate),
                    ms=_finite(e.reported.ms),
                )
            )
    capped = len(report.candidates) >= 200
    if _completed(c) and not capped:
        for cand in c.sdp_candidates:
            if _identity(cand) not in in_events:
                out.append(
                    Discrepancy(
                        kind="not_in_events",
                        where="sdp",
                        field="candidate",
                        expected="an icecandidate event for every candidate of the final SDP",
                        seen="no event with this foundation, component, transport, "
                        "priority, address, port and type",
                        line=_line(cand),
                        sdp_line=lines.candidates.get(_line(cand)),
                    )
                )
    return out


def _ufrags(c: Correlation) -> list[Discrepancy]:
    """A candidate's ``ufrag`` and its event's ``usernameFragment`` are the SDP's
    ``a=ice-ufrag`` (the collector never restarts ICE)."""
    sdp = c.sdp
    if sdp is None:
        return []
    known = {u for u in (sdp.ice_ufrag, *(m.ice_ufrag for m in sdp.media)) if u}
    if not known:
        return []
    expected = ", ".join(sorted(known)[:4])
    out: list[Discrepancy] = []
    for e in c.candidates:
        for field, value in (
            ("ufrag", e.candidate.ufrag),
            ("usernameFragment", e.reported.username_fragment),
        ):
            if value and value not in known:
                out.append(
                    Discrepancy(
                        kind="ufrag",
                        where="report",
                        field=field,
                        expected=f"the SDP's a=ice-ufrag ({expected})",
                        seen=value[:64],
                        line=_line(e.candidate),
                        ms=_finite(e.reported.ms),
                    )
                )
                break
    return out


def spoof_discrepancies(c: Correlation) -> tuple[Discrepancy, ...]:
    """Everything beyond ``correlate``'s endpoint findings that says the report was
    rewritten or invented (see the module docstring for the kinds)."""
    if c.report is None:
        return ()
    lines = _sdp_lines(c.report.sdp)
    return tuple(
        _rewritten_ports(c)
        + _premature(c)
        + _connection_lines(c, lines)
        + _related_addresses(c, lines)
        + _events_against_sdp(c, lines)
        + _ufrags(c)
    )


# --- candidate.malformed: lines that parse but no engine writes ----------------------------


def _prefs_text(key: tuple[str, str]) -> str:
    webrtc, firefox = _TYPE_PREF[key]
    return (
        f"{'/'.join(map(str, sorted(webrtc)))} (libwebrtc) or "
        f"{'/'.join(map(str, sorted(firefox)))} (Firefox)"
    )


def candidate_plausibility(c: Candidate) -> list[tuple[str, str, str, str]]:
    """``(kind, field, expected, seen)`` for each convention one candidate line breaks
    (empty for every line Chromium and Firefox write)."""
    out: list[tuple[str, str, str, str]] = []
    ctype = c.type.value
    key = (ctype, c.transport.value)
    what = f"a {ctype} candidate over {c.transport.value.upper()}"
    if key in _TYPE_PREF:
        type_pref = c.priority >> 24
        webrtc, firefox = _TYPE_PREF[key]
        if type_pref not in webrtc and type_pref not in firefox:
            out.append(
                (
                    "type_preference",
                    "priority",
                    f"type preference {_prefs_text(key)} for {what}",
                    f"{type_pref} (priority {c.priority})",
                )
            )
        else:
            decoded = decode_priority(
                c.priority,
                candidate_type=ctype,
                transport=c.transport.value,
                address=_ip(c.address),
            )
            if decoded.engine_layout is EngineLayout.UNKNOWN:
                local = decoded.local_preference
                out.append(
                    (
                        "local_preference",
                        "priority",
                        f"a local preference in libwebrtc's band (low byte an address "
                        f"precedence matching the address) or Firefox's (low byte 0 for "
                        f"hosts, 16..31 for srflx/relay, a TCP direction) for {what}",
                        f"0x{local:04x} (priority {c.priority})",
                    )
                )
    low = c.priority & 0xFF
    if low != 256 - c.component:
        out.append(
            (
                "component",
                "priority",
                f"low byte {256 - c.component} (256 - component {c.component})",
                f"{low} (priority {c.priority})",
            )
        )
    has_raddr = c.related_address is not None
    has_rport = c.related_port is not None
    if c.type is CandidateType.HOST:
        if has_raddr or has_rport:
            out.append(
                (
                    "related_address",
                    "raddr",
                    "no raddr/rport on a host candidate",
                    f"raddr {c.related_address} rport {c.related_port}",
                )
            )
    elif c.type is not CandidateType.UNKNOWN:
        if not (has_raddr and has_rport):
            out.append(
                (
                    "related_address",
                    "raddr",
                    f"raddr and rport on {what} (0.0.0.0 / :: and 0 when hidden)",
                    "none" if not (has_raddr or has_rport) else "only one of them",
                )
            )
        else:
            rip = _ip(c.related_address)
            if rip is not None and rip.is_unspecified and c.related_port != 0:
                out.append(
                    (
                        "related_address",
                        "rport",
                        "rport 0 with a zeroed raddr",
                        f"raddr {c.related_address} rport {c.related_port}",
                    )
                )
            elif (
                rip is not None
                and not rip.is_unspecified
                and c.related_port == 0
                and c.transport is Transport.UDP
            ):
                out.append(
                    (
                        "related_address",
                        "rport",
                        "the base's port with a real raddr",
                        f"raddr {c.related_address} rport 0",
                    )
                )
    return out


def _foundations(
    items: list[tuple[Candidate, str, float | None]], lines: _SdpLines
) -> list[Discrepancy]:
    """One foundation, one (type, transport, base): both engines derive it from those."""
    first: dict[str, Candidate] = {}
    out: list[Discrepancy] = []
    for cand, where, ms in items:
        other = first.setdefault(cand.foundation, cand)
        if other is cand:
            continue
        same_kind = (other.type_raw.lower(), other.transport) == (
            cand.type_raw.lower(),
            cand.transport,
        )
        same_base = cand.type is not CandidateType.HOST or _addr_key(other.address) == _addr_key(
            cand.address
        )
        if same_kind and same_base:
            continue
        out.append(
            Discrepancy(
                kind="foundation",
                where=where,
                field="foundation",
                expected=(
                    f"foundation {cand.foundation} only for {other.type_raw} candidates over "
                    f"{other.transport.value.upper()}"
                    + (f" with base {other.address}" if other.type is CandidateType.HOST else "")
                ),
                seen=f"{cand.type_raw} over {cand.transport.value.upper()} from {cand.address}",
                line=_line(cand),
                sdp_line=lines.candidates.get(_line(cand)) if where == "sdp" else None,
                ms=_finite(ms),
            )
        )
    return out


def implausible_candidates(c: Correlation) -> tuple[Discrepancy, ...]:
    """Candidate lines (events and SDP, each candidate once) that parse but break the
    conventions every browser engine follows (see the module docstring for the kinds)."""
    if c.report is None:
        return ()
    lines = _sdp_lines(c.report.sdp)
    unique: list[tuple[Candidate, str, float | None]] = []
    seen: set[tuple[Any, ...]] = set()
    for cand, where, ms in _all_candidates(c):
        key = _identity(cand)
        if key not in seen:
            seen.add(key)
            unique.append((cand, where, ms))
    out: list[Discrepancy] = []
    for cand, where, ms in unique:
        for kind, field, expected, seen_text in candidate_plausibility(cand):
            out.append(
                Discrepancy(
                    kind=kind,
                    where=where,
                    field=field,
                    expected=expected,
                    seen=seen_text,
                    line=_line(cand),
                    sdp_line=lines.candidates.get(_line(cand)) if where == "sdp" else None,
                    ms=_finite(ms),
                )
            )
    return tuple(out + _foundations(unique, lines))


# --- webrtc.api_tampered: getStats() against the events ------------------------------------

_STATS_TYPES: Final = frozenset({"host", "srflx", "prflx", "relay"})


def _stats_address(text: str | None) -> str | None:
    if not text:
        return None  # hidden (Chromium shows "" for mDNS hosts)
    parsed = try_parse_ip(text.strip("[]"))
    if parsed is not None:
        return str(normalize_ip(parsed.ip))
    return text.lower()


def _stats_key(s: StatsCandidate) -> tuple[str, int, str] | None:
    if (s.protocol or "").lower() != "udp" or s.port is None:
        return None  # TCP: Chromium lists port-9 hosts no event has, Firefox other ports
    ctype = (s.type or "").lower()
    address = _stats_address(s.address)
    if ctype not in _STATS_TYPES or address is None:
        return None
    return address, s.port, ctype


def stats_discrepancies(c: Correlation) -> tuple[Discrepancy, ...]:
    """``getStats()`` local candidates against the ``icecandidate`` events (UDP only).

    An event candidate must be in the stats (an mDNS host may show there as ``""``); with
    gathering complete, a stats candidate with an address must have come as an event
    (Firefox's srflx equal to its host is dropped from the events, and a stats entry
    whose port an event hides behind an mDNS name cannot be compared)."""
    report = c.report
    tamper = None if report is None else report.tamper
    if report is None or tamper is None or not tamper.stats:
        return ()
    stats = [(s, _stats_key(s)) for s in tamper.stats]
    stats_keys = {k for _, k in stats if k is not None}
    hidden = {
        (s.port, (s.type or "").lower())
        for s in tamper.stats
        if not s.address and (s.protocol or "").lower() == "udp"
    }
    events: list[tuple[ReportedEntry, tuple[str, int, str]]] = []
    for e in c.candidates:
        cand = e.candidate
        if cand.transport is not Transport.UDP or not cand.type_known:
            continue
        events.append((e, (_addr_key(cand.address), cand.port, cand.type.value)))
    event_keys = {k for _, k in events}
    named_ports = {(k[1], k[2]) for e, k in events if not isinstance(e.candidate.address, ParsedIP)}
    raw_hosts = {(k[0], k[1]) for _, k in events if k[2] == "host"}
    out: list[Discrepancy] = []
    for e, key in events:
        if key in stats_keys:
            continue
        if not isinstance(e.candidate.address, ParsedIP) and (key[1], key[2]) in hidden:
            continue
        out.append(
            Discrepancy(
                kind="not_in_stats",
                where="report",
                field="candidate",
                expected="the same address, port and type among getStats() local candidates",
                seen=f"getStats() has no {key[2]} candidate {key[0]} port {key[1]}",
                line=_line(e.candidate),
                ms=_finite(e.reported.ms),
            )
        )
    if _completed(c):
        for s, maybe in stats:
            if maybe is None or maybe in event_keys:
                continue
            address, port, ctype = maybe
            if (port, ctype) in named_ports:
                continue
            if ctype == "srflx" and (address, port) in raw_hosts:
                continue
            out.append(
                Discrepancy(
                    kind="not_in_events",
                    where="stats",
                    field="candidate",
                    expected="an icecandidate event for every getStats() local candidate",
                    seen=f"getStats() {ctype} {s.address} port {port}, in no event",
                )
            )
    return tuple(out)


# --- the browser a user agent claims -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedBrowser:
    """The browser a user agent names, and whether that version always ships
    ``RTCPeerConnection`` (unprefixed: Chrome 56, Firefox 44, Safari 11, Edge 79)."""

    name: str
    major: int
    ships_webrtc: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "major": self.major, "ships_webrtc": self.ships_webrtc}


_UA_RULES: Final = (
    ("edge", re.compile(r"\bEdg/(\d{1,4})\."), 79),
    ("opera", re.compile(r"\bOPR/(\d{1,4})\."), 43),
    ("firefox", re.compile(r"\bFirefox/(\d{1,4})\."), 44),
    ("chrome", re.compile(r"\b(?:Headless)?Chrome/(\d{1,4})\."), 56),
    ("safari", re.compile(r"\bVersion/(\d{1,4})(?:\.\d+)*(?: Mobile/\S+)? Safari/"), 11),
)


def claimed_browser(user_agent: str) -> ClaimedBrowser | None:
    """The browser ``user_agent`` claims to be (a few engines, by their usual tokens)."""
    text = user_agent[:1024]
    for name, pattern, since in _UA_RULES:
        m = pattern.search(text)
        if m is not None:
            major = int(m.group(1))
            return ClaimedBrowser(name, major, major >= since)
    return None
