"""``GET /metrics`` (Prometheus, own registry) and ``GET /readyz`` through the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from icewatch.web.metrics import Metrics

from .support import (
    Web,
    capture,
    capture_names,
    http_peer_of,
    observations_from_capture,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio

API_KEY = "k" * 24


@asynccontextmanager
async def ops_app(
    tmp_path: Path,
    *,
    metrics: Metrics | None = None,
    ready: list[bool] | None = None,
    **settings: Any,
) -> AsyncIterator[Web]:
    flag = ready if ready is not None else [True]
    async with web_app(
        tmp_path, metrics=metrics, listener_ready=lambda: flag[0], **settings
    ) as web:
        yield web


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_a_real_report(tmp_path: Path) -> None:
    metrics = Metrics()
    stats: dict[str, Any] = {"datagrams": 7, "frames": 2, "drops": {"not-stun": 3}}
    metrics.add_listener_stats(lambda: stats)
    data = capture(capture_names()[0])
    async with (
        ops_app(tmp_path, metrics=metrics, api_key=API_KEY) as web,
        web.client(peer=http_peer_of(data)) as client,
    ):
        created = await web.create(client)
        for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
            await web.state.add_observation(o)
        web.clock.advance(1.5)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        level = response.json()["verdict"]["level"]
        codes = [s["code"] for s in response.json()["verdict"]["signals"]]

        assert (await client.get("/metrics")).status_code == 401
        scraped = await client.get("/metrics", headers={"X-API-Key": API_KEY})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        got = samples(scraped.text)
        assert got[("icewatch_sessions_total", (("level", level),))] == 1.0
        for code in codes:
            assert got[("icewatch_signals_total", (("code", code),))] >= 1.0
        assert got[("icewatch_report_latency_seconds_count", ())] == 1.0
        assert got[("icewatch_report_latency_seconds_sum", ())] > 0.0
        assert got[("icewatch_time_to_verdict_seconds_count", ())] == 1.0
        assert got[("icewatch_time_to_verdict_seconds_sum", ())] == pytest.approx(1.5)
        assert got[("icewatch_stun_datagrams_total", (("kind", "udp"),))] == 7.0
        assert got[("icewatch_stun_datagrams_total", (("kind", "tcp_frame"),))] == 2.0
        assert got[("icewatch_stun_dropped_total", (("reason", "not-stun"),))] == 3.0

        stats["datagrams"] = 9  # read at scrape time
        again = samples((await client.get("/metrics", headers={"X-API-Key": API_KEY})).text)
        assert again[("icewatch_stun_datagrams_total", (("kind", "udp"),))] == 9.0


async def test_metrics_use_their_own_registry_and_can_be_public(tmp_path: Path) -> None:
    first, second = Metrics(public=True), Metrics(public=True)  # no clash: not global
    first.sessions.labels(level="high").inc()
    async with ops_app(tmp_path, metrics=second) as web, web.client() as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert ("icewatch_sessions_total", (("level", "high"),)) not in samples(response.text)


async def test_metrics_route_is_absent_without_metrics(tmp_path: Path) -> None:
    async with ops_app(tmp_path) as web, web.client() as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_metrics_need_a_configured_key_when_not_public(tmp_path: Path) -> None:
    async with ops_app(tmp_path, metrics=Metrics()) as web, web.client() as client:
        assert (await client.get("/metrics")).status_code == 403


async def test_readyz_follows_listener_and_store(tmp_path: Path) -> None:
    ready = [False]
    async with ops_app(tmp_path, ready=ready) as web, web.client() as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"listener": "starting", "store": "ok"}
        ready[0] = True
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "checks": {"listener": "ready", "store": "ok"},
        }
        await web.store.close()
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["listener"] == "ready"
        assert body["checks"]["store"].startswith("unavailable")
        assert (await client.get("/healthz")).status_code == 200  # liveness stays
