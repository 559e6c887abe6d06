"""The session JSON: shape, times, and what it says about the real captures."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.core.scoring.capture_evidence import CAPTURES, SESSION, evidence, load

from icewatch.core.document import DOCUMENT_VERSION, iso_utc, session_document
from icewatch.core.evidence import PageReport, WebRtcStatus
from icewatch.core.scoring import evaluate

TOP_KEYS = {
    "version",
    "id",
    "created_at",
    "reported_at",
    "http",
    "report_http",
    "observed",
    "candidates",
    "malformed_candidates",
    "end_of_candidates",
    "public_ips",
    "local_ips",
    "mdns_names",
    "ipv6",
    "sdp",
    "sdp_summary",
    "report",
    "verdict",
    "client",
    "dialect",
    "fingerprint",
    "intel",
    "policy",
    "connection",
}


def document(name: str, **kw: Any) -> dict[str, Any]:
    ev = evidence(name, **kw)
    correlation, verdict = evaluate(ev)
    doc = session_document(ev, verdict, correlation)
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    return doc


# --- times -------------------------------------------------------------------------------------


def test_iso_utc_examples() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(1_800_000_000.0188) == "2027-01-15T08:00:00.019Z"
    assert iso_utc(951_782_400) == "2000-02-29T00:00:00.000Z"
    assert iso_utc(-1) == "1969-12-31T23:59:59.000Z"
    assert iso_utc(59.9996) == "1970-01-01T00:01:00.000Z"  # rounds to the millisecond
    assert iso_utc(None) is None
    assert iso_utc(float("nan")) is None
    assert iso_utc(float("inf")) is None
    assert iso_utc(1e300) is None
    assert iso_utc(253_402_300_799.9996) is None  # would round into the year 10000


@given(st.integers(-62_135_596_800_000, 253_402_300_799_000))
def test_iso_utc_agrees_with_datetime(ms: int) -> None:
    expected = datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=ms)
    text = iso_utc(ms / 1000)
    e = expected
    assert text == (
        f"{e.year:04d}-{e.month:02d}-{e.day:02d}T{e.hour:02d}:{e.minute:02d}:{e.second:02d}"
        f".{e.microsecond // 1000:03d}Z"
    )


# --- shape ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_document_of_each_capture(path: object) -> None:
    cap = load(str(path))
    doc = document(str(path))
    assert set(doc) == TOP_KEYS
    assert doc["version"] == DOCUMENT_VERSION
    assert doc["id"] == SESSION
    assert doc["created_at"].endswith("Z")
    client = cap["network"]["client_public_v4"]
    assert doc["http"]["client_ip"] == client
    assert doc["http"]["family"] == "ipv4"
    # Observed: every request, with attribution.
    assert {o["source"] for o in doc["observed"]} == {"stun", "turn"}
    assert {o["family"] for o in doc["observed"]} == {"ipv4", "ipv6"}
    by = {(o["kind"], o["family"]): o["attributed_by"] for o in doc["observed"]}
    assert by[("allocate-authenticated", "ipv4")] == "credential"
    assert by[("binding", "ipv4")] == "turn_source"
    assert by[("binding", "ipv6")] == "candidate"
    assert all(o["ms"] > 0 for o in doc["observed"])
    # Candidates as reported, parsed.
    reported = [c["candidate"] for c in cap["candidates"] if c.get("candidate")]
    assert [c["raw"] for c in doc["candidates"]] == reported
    for c in doc["candidates"]:
        assert c["seen_by_server"] is (True if c["type"] == "srflx" else None)
        assert c["priority_decoded"]["value"] == c["priority"]
    assert doc["malformed_candidates"] == []
    # Public addresses: the server's view and the page's, with categories.
    observed = {p["ip"]: p for p in doc["public_ips"]["observed"]}
    assert observed[client]["sources"] == ["stun", "turn"]
    assert observed[client]["matches_http"] is True
    assert observed[client]["category"] == "private"
    if cap["scenario"] != "noobfuscate":
        assert next(p["ip"] for p in doc["public_ips"]["reported"]) == client
        assert all(p["seen_by_server"] for p in doc["public_ips"]["reported"])
    assert doc["ipv6"]["http_over_ipv6"] is False
    assert len(doc["ipv6"]["observed"]) == 1
    assert doc["ipv6"]["global"] == []
    assert doc["sdp"] == cap["sdp"]
    summary = doc["sdp_summary"]
    assert summary["parse_error"] is None
    assert summary["media"][0]["media"] == "application"
    assert summary["candidates"] == len(reported)
    assert summary["fingerprint_hashes"] == ["sha-256"]
    assert doc["report"]["webrtc"] == "ok"
    assert doc["report"]["user_agent"] == cap["user_agent"]
    assert doc["verdict"]["level"] == "low"


def test_mdns_and_local_sections() -> None:
    default = document("chromium-156-default")
    assert len(default["mdns_names"]) == 2
    assert default["local_ips"] == []
    # Chromium's mDNS hosts: the priority tells one hides IPv4, the other a ULA.
    assert [h["address_class"] for h in default["ipv6"]["mdns_hosts"]] == ["ula"]
    nomdns = document("chromium-156-nomdns")
    assert nomdns["mdns_names"] == []
    assert {(x["ip"], x["category"]) for x in nomdns["local_ips"]} == {
        ("10.77.1.2", "private"),
        ("fd77:1::2", "unique_local"),
    }
    assert nomdns["local_ips"][0]["where"] == ["host", "raddr"]


def test_proxy_document() -> None:
    doc = document("chromium-156-nat", http_ip="10.77.1.3")
    assert doc["http"]["client_ip"] == "10.77.1.3"
    observed = {p["ip"]: p["matches_http"] for p in doc["public_ips"]["observed"]}
    assert observed["10.77.1.254"] is False
    assert doc["verdict"]["signals"][0]["code"] == "ip.webrtc_http_mismatch"
    assert doc["verdict"]["level"] == "medium"


def test_before_the_report() -> None:
    ev = replace(evidence("firefox-153-default"), report=None, report_http=None, reported_at=None)
    doc = session_document(ev, None)
    assert set(doc) == TOP_KEYS
    assert doc["verdict"] is None
    assert doc["report"] is None
    assert doc["reported_at"] is None
    assert doc["report_http"] is None
    assert doc["candidates"] == []
    assert doc["sdp"] is None
    assert doc["sdp_summary"] is None
    assert doc["observed"]  # packets may arrive before the report


def test_malformed_and_unparseable_sdp() -> None:
    ev = evidence("chromium-156-default")
    assert ev.report is not None
    report = PageReport(
        webrtc=WebRtcStatus.OK,
        candidates=(*ev.report.candidates[:1], replace(ev.report.candidates[0], candidate="bad")),
        sdp="not an sdp",
        ua_hints=(("platform", "Linux"), ("mobile", "false")),
        gathering_ms=float("nan"),
    )
    ev = replace(ev, report=report)
    correlation, verdict = evaluate(ev)
    doc = session_document(ev, verdict)  # correlation recomputed when not given
    assert doc == session_document(ev, verdict, correlation)
    json.dumps(doc, allow_nan=False)
    assert doc["malformed_candidates"][0]["raw"] == "bad"
    assert doc["malformed_candidates"][0]["where"] == "report"
    assert doc["sdp_summary"] == {
        "parse_error": {"field": "v", "reason": "the first line must be 'v=0', got 'not an sdp'"}
    }
    assert doc["report"]["ua_hints"] == {"platform": "Linux", "mobile": "false"}
    assert doc["report"]["gathering_ms"] is None
    assert "candidate.malformed" in [s["code"] for s in doc["verdict"]["signals"]]


def test_json_output_doc_describes_the_session_json() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "json-output.md").read_text("utf-8")
    assert "\n## Session JSON\n" in text
    section = text.split("\n## Session JSON\n", 1)[1].split("\n## ", 1)[0]
    example = json.loads(section.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert set(example) == TOP_KEYS
    real = document("chromium-156-nat", http_ip="10.77.1.3")
    for key in ("http", "public_ips", "ipv6", "sdp_summary", "report", "verdict"):
        assert set(example[key]) <= set(real[key]), key
    for key in TOP_KEYS:
        assert f"`{key}" in section, key
