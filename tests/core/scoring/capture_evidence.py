"""Session evidence built from the real browser captures in tests/data/captures/.

Each capture holds what a real Chromium or Firefox reported (candidates, SDP, user agent)
and every datagram the test STUN/TURN responder received, with its source address and
time. This module turns one into the :class:`SessionEvidence` the web adapter would build:

* every Binding request becomes a ``stun``/``binding`` observation naming no session;
* every Allocate carrying USERNAME + MESSAGE-INTEGRITY that verifies against the
  capture's credential becomes a ``turn``/``allocate-authenticated`` observation of the
  session (decoded and verified with the core's own STUN codec, not read from the
  capture's summaries); an Allocate without credentials becomes ``turn``/``allocate``
  naming no session;
* the observations are attributed like ``CorrelationState.observations_for`` does, with
  :func:`attribute_bindings` and the page's :func:`reported_endpoints`;
* the HTTP client address is the client's address as the server saw it (no proxy),
  unless the caller gives another one.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import DATA

from icewatch.core.addr import IPAddress, parse_ip
from icewatch.core.correlate import attribute_bindings, reported_endpoints
from icewatch.core.evidence import (
    CandidateErrorReport,
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.stun import AttrType, Method, decode_message, decode_text
from icewatch.core.stun.integrity import long_term_key, verify_message_integrity

CAPTURES = sorted((DATA / "captures").glob("*.json"))
#: The Unix time the capture's "ms 0" is placed at.
BASE = 1_800_000_000.0
SESSION = "capturedSession0000001"


def load(name_or_path: str | Path) -> dict[str, Any]:
    path = Path(name_or_path)
    if not path.is_absolute() and path.suffix != ".json":
        path = DATA / "captures" / f"{name_or_path}.json"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _endpoint(text: str) -> tuple[IPAddress, int]:
    host, _, port = text.rpartition(":")
    return parse_ip(host.strip("[]")).ip, int(port)


def _at(ms: float) -> float:
    return BASE + ms / 1000.0


def observations(doc: dict[str, Any], session_id: str = SESSION) -> tuple[Observation, ...]:
    """Every request the responder received, as the listener would record it."""
    turn = doc["turn"]
    key = long_term_key(turn["username"], turn["realm"], turn["password"])
    out: list[Observation] = []
    for d in doc["datagrams"]:
        if d["dir"] != "in":
            continue
        msg = decode_message(bytes.fromhex(d["hex"]))
        ip, port = _endpoint(d["src"])
        local_ip, local_port = _endpoint(d["dst"])
        common: dict[str, Any] = {
            "ip": ip,
            "port": port,
            "transport": d["transport"],
            "at": _at(d["ms"]),
            "transaction_id": msg.transaction_id.hex(),
            "local_ip": local_ip,
            "local_port": local_port,
        }
        if msg.method == Method.BINDING:
            out.append(Observation(ObservationSource.STUN, StunKind.BINDING, **common))
            continue
        if msg.method != Method.ALLOCATE:
            continue
        user = msg.get(AttrType.USERNAME)
        if user is not None and verify_message_integrity(msg, key):
            out.append(
                Observation(
                    ObservationSource.TURN,
                    StunKind.ALLOCATE_AUTHENTICATED,
                    session_id=session_id,
                    username=decode_text(user.value, "username"),
                    integrity="valid",
                    **common,
                )
            )
        else:
            out.append(Observation(ObservationSource.TURN, StunKind.ALLOCATE, **common))
    return tuple(out)


def page_report(doc: dict[str, Any]) -> PageReport:
    """What the collector would post for this capture."""
    candidates = tuple(
        ReportedCandidate(
            candidate=c["candidate"],
            ms=c["ms"],
            sdp_mid=c.get("sdpMid"),
            sdp_mline_index=c.get("sdpMLineIndex"),
            username_fragment=c.get("usernameFragment"),
        )
        for c in doc["candidates"]
        if "candidate" in c
    )
    errors = tuple(
        CandidateErrorReport(
            url=e.get("url") or "",
            address=e.get("address"),
            port=e.get("port"),
            error_code=e.get("errorCode"),
            error_text=e.get("errorText") or "",
            ms=e.get("ms"),
        )
        for e in doc["candidate_errors"]
    )
    ended = {"null-candidate": "complete"}.get(doc["ended_by"], doc["ended_by"])
    return PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=candidates,
        candidate_errors=errors,
        sdp=doc["sdp"],
        user_agent=doc["user_agent"],
        gathering_ms=doc["gathering_ms"],
        ended_by=ended,
        deadline_ms=doc["network"]["page_deadline_ms"],
        collector_version="capture",
    )


def client_ip(doc: dict[str, Any]) -> IPAddress:
    """The address the server saw the page's HTTP requests come from."""
    ip, _ = _endpoint(doc["http_requests"][0]["src"])
    return ip


def evidence(
    name_or_doc: str | dict[str, Any],
    *,
    http_ip: str | None = None,
    report: PageReport | None = None,
    extra_observations: tuple[Observation, ...] = (),
    drop: tuple[StunKind, ...] = (),
    session_id: str = SESSION,
) -> SessionEvidence:
    """The session evidence of one capture, attributed as the store would.

    ``http_ip`` replaces the HTTP client address (a proxy); ``report`` replaces the
    page's report (a tampered page); ``extra_observations`` adds packets to the pool the
    store picks from; ``drop`` removes observations of those kinds (lost packets)."""
    doc = load(name_or_doc) if isinstance(name_or_doc, str) else name_or_doc
    page = page_report(doc) if report is None else report
    requests = doc["http_requests"]
    created = _at(requests[0]["ms"])
    reported = _at(requests[-1]["ms"])
    ip = client_ip(doc) if http_ip is None else ipaddress.ip_address(http_ip)
    http = HttpSighting(peer_ip=ip, client_ip=ip, at=created, user_agent=doc["user_agent"])
    pool = [o for o in observations(doc, session_id) if o.kind not in drop]
    pool.extend(extra_observations)
    picked = attribute_bindings(session_id, pool, reported_endpoints(page), created, reported)
    return SessionEvidence(
        session_id=session_id,
        created_at=created,
        http=http,
        report=page,
        report_http=replace(http, at=reported),
        reported_at=reported,
        observations=picked,
    )


def with_candidates(
    doc: dict[str, Any],
    lines: list[str],
    *,
    sdp_line: Callable[[str], str | None] | None = None,
) -> PageReport:
    """The capture's report with its candidate strings replaced (a tampering page).

    ``sdp_line`` edits the SDP's ``a=candidate`` lines the same way (return the new line,
    or ``None`` to drop it); without it the SDP is left as the browser wrote it."""
    base = page_report(doc)
    sdp = base.sdp
    if sdp_line is not None and sdp is not None:
        out: list[str] = []
        for line in sdp.split("\r\n"):
            if line.startswith("a=candidate:"):
                edited = sdp_line(line)
                if edited is not None:
                    out.append(edited)
            else:
                out.append(line)
        sdp = "\r\n".join(out)
    return replace(
        base,
        candidates=tuple(ReportedCandidate(line, ms=float(i)) for i, line in enumerate(lines)),
        sdp=sdp,
    )
