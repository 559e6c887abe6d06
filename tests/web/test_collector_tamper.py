"""The collector's tamper report: accepted within bounds, stored, scored, documented; the
collector keeps its size budget with the checks in it."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.support import (
    assert_error_shape,
    capture,
    http_peer_of,
    observations_from_capture,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio

STATIC = Path(__file__).resolve().parents[2] / "src" / "icewatch" / "web" / "static"
DOCS = Path(__file__).resolve().parents[2] / "docs"
BUDGET = 4096


def stats_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "address": s["address"],
            "port": s["port"],
            "type": s["candidateType"],
            "protocol": s["protocol"],
        }
        for s in data["stats_local_candidates"]
    ]


def tampered_body(data: dict[str, Any], **tamper: Any) -> dict[str, Any]:
    body = report_from_capture(data)
    body["collector_version"] = "2"
    body["tamper"] = {
        "checks": 31,
        "failed": [],
        "stats": stats_of(data),
        "stats_error": None,
        "ms": 9.5,
        **tamper,
    }
    return body


async def _report(tmp_path: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    data = capture(name)
    async with web_app(tmp_path) as web, web.client(peer=http_peer_of(data)) as client:
        created = await web.create(client)
        for o in observations_from_capture(data, created["id"], web.clock()):
            await web.state.add_observation(o)
        response = await web.report(client, created, body)
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert stored.evidence.report is not None
        assert stored.evidence.report.tamper is not None
        return doc


def codes(doc: dict[str, Any]) -> set[str]:
    return {s["code"] for s in doc["verdict"]["signals"]}


@pytest.mark.parametrize("name", ["chromium-156-default", "firefox-153-default"])
async def test_a_clean_tamper_report_is_kept_and_raises_nothing(tmp_path: Path, name: str) -> None:
    data = capture(name)
    doc = await _report(tmp_path, name, tampered_body(data))
    tamper = doc["report"]["tamper"]
    assert tamper["checks"] == 31
    assert tamper["failed"] == []
    assert tamper["stats"] == stats_of(data)
    assert tamper["ms"] == 9.5
    assert "webrtc.api_tampered" not in codes(doc)
    assert doc["verdict"]["level"] == "low"


async def test_failed_checks_raise_api_tampered(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    failed = [
        {"check": "native:RTCPeerConnection", "detail": "function RTCPeerConnection(c) {}"},
        {"check": "prototype:chain", "detail": "not EventTarget"},
    ]
    doc = await _report(tmp_path, "chromium-156-default", tampered_body(data, failed=failed))
    signal = next(s for s in doc["verdict"]["signals"] if s["code"] == "webrtc.api_tampered")
    assert signal["evidence"]["failed"] == failed
    assert signal["weight"] > 0
    assert doc["verdict"]["level"] != "low"


async def test_get_stats_that_disagree_raise_api_tampered(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    stats = stats_of(data)
    for s in stats:
        if s["address"] == "10.77.1.2":
            s["address"] = "10.77.1.9"
    doc = await _report(tmp_path, "chromium-156-default", tampered_body(data, stats=stats))
    signal = next(s for s in doc["verdict"]["signals"] if s["code"] == "webrtc.api_tampered")
    assert {d["kind"] for d in signal["evidence"]["stats"]} == {"not_in_stats", "not_in_events"}


async def test_reports_without_tamper_still_work(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        assert response.json()["report"]["tamper"] is None


def _body(**tamper: Any) -> dict[str, Any]:
    return {"webrtc": "ok", "tamper": tamper}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(failed=[{"check": "x", "detail": ""}] * 33), "tamper.failed"),
        (_body(failed=[{"check": "c" * 65}]), "tamper.failed.0.check"),
        (_body(failed=[{"check": "x", "detail": "d" * 257}]), "tamper.failed.0.detail"),
        (_body(failed=[{"detail": "no check"}]), "tamper.failed.0.check"),
        (_body(failed=[{"check": "x", "extra": 1}]), "tamper.failed.0.extra"),
        (_body(stats=[{"port": 9}] * 65), "tamper.stats"),
        (_body(stats=[{"port": 70000}]), "tamper.stats.0.port"),
        (_body(stats=[{"port": "9"}]), "tamper.stats.0.port"),
        (_body(stats=[{"address": "a" * 257}]), "tamper.stats.0.address"),
        (_body(stats=[{"type": "t" * 17}]), "tamper.stats.0.type"),
        (_body(checks=1001), "tamper.checks"),
        (_body(checks=-1), "tamper.checks"),
        (_body(ms=-5), "tamper.ms"),
        (_body(stats_error="e" * 257), "tamper.stats_error"),
        (_body(surprise=True), "tamper.surprise"),
        ({"webrtc": "ok", "tamper": []}, "tamper"),
    ],
)
async def test_tamper_report_bounds(tmp_path: Path, body: dict[str, Any], field: str) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        response = await client.post(
            f"/api/v1/sessions/{created['id']}/report",
            content=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {created['token']}",
                "Content-Type": "application/json",
            },
        )
        assert_error_shape(response, 422, "validation_failed")
        assert response.json()["error"]["field"] == field


async def test_the_largest_tamper_report_fits(tmp_path: Path) -> None:
    body = _body(
        checks=1000,
        failed=[{"check": "c" * 64, "detail": "d" * 256}] * 32,
        stats=[{"address": "a" * 256, "port": 65535, "type": "t" * 16, "protocol": "p" * 16}] * 64,
        stats_error="e" * 256,
        ms=3_600_000,
    )
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        response = await web.report(client, created, body)
        assert response.status_code == 200, response.text
        assert len(response.json()["report"]["tamper"]["failed"]) == 32


# --- the collector file ------------------------------------------------------------------


async def test_the_served_collector_keeps_its_budget_with_the_checks(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.get("/collector.js")
    assert response.status_code == 200
    source = response.text
    assert len(gzip.compress(response.content, compresslevel=9)) <= BUDGET
    assert 'V = "3"' in source
    for needle in ("tamper(", "getStats()", "contentWindow", "[native code]", "local-candidate"):
        assert needle in source, needle


def _checks_in_collector() -> set[str]:
    source = (STATIC / "collector.js").read_text()
    names = set(re.findall(r'"((?:descriptor|prototype|alias|instance|realm):[A-Za-z]+)"', source))
    names |= {f"{group}:NAME" for group in ("native", "realm")}
    names |= {f"descriptor:{k}" for k in ("createOffer", "setLocalDescription", "getStats")}
    return names


def test_every_check_the_collector_reports_is_documented() -> None:
    names = _checks_in_collector()
    assert {"prototype:chain", "alias:webkitRTCPeerConnection", "instance:own"} <= names
    text = (DOCS / "collector.md").read_text()
    assert "## Tamper checks" in text
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"checks missing from docs/collector.md: {missing}"
