"""The network fingerprint through the API: the report's session JSON carries it with the
population counts, the counts go up as sessions of the same shape are reported, GET shows
the current counts, and a store that cannot count does not cost the visitor the answer.
Also: ``GET /api/v1/signals`` shows the weights in effect."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from icewatch.core.fingerprint import COMPONENTS, is_fingerprint_id
from icewatch.store import StoreError
from tests.core.rerun import rerun

from .support import (
    Web,
    capture,
    http_peer_of,
    observations_from_capture,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio


async def visit(web: Web, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One visit of the recorded browser: create, packets arrive, report."""
    async with web.client(peer=http_peer_of(data)) as client:
        created = await web.create(client)
        for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
            await web.state.add_observation(o)
        web.clock.advance(0.3)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return created, doc


async def get(web: Web, created: dict[str, Any]) -> dict[str, Any]:
    async with web.client() as client:
        response = await client.get(
            f"/api/v1/sessions/{created['id']}",
            headers={"Authorization": f"Bearer {created['token']}"},
        )
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def test_counts_go_up_as_the_same_shape_is_reported(tmp_path: Path) -> None:
    chromium = capture("chromium-156-default")
    firefox = capture("firefox-153-default")
    async with web_app(tmp_path) as web:
        firsts: list[dict[str, Any]] = []
        ids = set()
        for n in range(1, 4):
            # Each visit is another run of the same browser: new ports, UUIDs, ufrags.
            created, doc = await visit(web, rerun(chromium, seed=n))
            firsts.append(created)
            fp = doc["fingerprint"]
            assert is_fingerprint_id(fp["id"])
            ids.add(fp["id"])
            pop = fp["population"]
            assert (pop["sessions"], pop["matching"]) == (n, n)
            assert pop["one_in"] == 1.0
            assert pop["bits"] == 0.0
            assert pop["reliable"] is False
            assert "fewer than 100" in pop["note"]
            assert [c["name"] for c in fp["components"]] == [n for n, _ in COMPONENTS]
        assert len(ids) == 1, "the same browser on the same network: one fingerprint"

        _, other = await visit(web, firefox)
        ff = other["fingerprint"]
        assert ff["id"] not in ids
        assert (ff["population"]["sessions"], ff["population"]["matching"]) == (4, 1)
        assert ff["population"]["one_in"] == 4.0
        assert ff["population"]["bits"] == 2.0
        by_name = {c["name"]: c for c in ff["components"]}
        assert by_name["engine"]["value"] == "firefox"
        assert (by_name["engine"]["sessions"], by_name["engine"]["bits"]) == (1, 2.0)
        # The public network is shared by all four visits.
        assert (by_name["public_v4"]["sessions"], by_name["public_v4"]["bits"]) == (4, 0.0)

        # The first Chromium session, read again: the counts of now.
        again = await get(web, firsts[0])
        pop = again["fingerprint"]["population"]
        assert (pop["sessions"], pop["matching"]) == (4, 3)
        assert pop["bits"] == round(math.log2(4 / 3), 2)
        assert pop["one_in"] == 1.3
        assert again["fingerprint"]["id"] in ids

        stored = await web.store.get_session(firsts[0]["id"])
        assert stored is not None
        assert stored.fingerprint in ids


async def test_no_fingerprint_before_the_report(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        doc = await get(web, created)
        assert doc["fingerprint"] is None
        assert doc["verdict"] is None


async def test_a_store_that_cannot_count_still_answers(tmp_path: Path) -> None:
    data = capture("chromium-156-nat")
    async with web_app(tmp_path) as web:

        async def failing(*_: object, **__: object) -> None:
            raise StoreError("the disk is on fire")

        web.ctx.store.fingerprint_stats = failing  # type: ignore[method-assign,assignment]
        _, doc = await visit(web, data)
        fp = doc["fingerprint"]
        assert is_fingerprint_id(fp["id"])
        assert fp["population"] is None
        assert all(c["sessions"] is None for c in fp["components"])
        assert doc["verdict"]["level"] == "low"


async def test_signals_show_the_weights_in_effect(tmp_path: Path) -> None:
    weights = (("ip.webrtc_http_mismatch", 35), ("candidate.spoofed", 0))
    async with web_app(tmp_path, signal_weights=weights) as web, web.client() as client:
        response = await client.get("/api/v1/signals")
        assert response.status_code == 200
        by_code = {r["code"]: r for r in response.json()}
    assert by_code["ip.webrtc_http_mismatch"]["weight"] == 35
    assert by_code["ip.webrtc_http_mismatch"]["default_weight"] == 50
    assert by_code["candidate.spoofed"]["weight"] == 0
    assert by_code["candidate.spoofed"]["default_weight"] > 0
    assert by_code["net.mdns"]["weight"] == by_code["net.mdns"]["default_weight"] == 0


async def test_changed_weights_change_the_verdict_of_a_report(tmp_path: Path) -> None:
    data = capture("chromium-156-nat")
    proxy = "10.77.1.3"  # HTTP through a proxy: ip.webrtc_http_mismatch
    for weight, level in ((50, "medium"), (10, "low"), (80, "high")):
        (tmp_path / str(weight)).mkdir()
        async with web_app(
            tmp_path / str(weight), signal_weights=(("ip.webrtc_http_mismatch", weight),)
        ) as web:
            async with web.client(peer=proxy) as client:
                created = await web.create(client)
                for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
                    await web.state.add_observation(o)
                web.clock.advance(0.3)
                response = await web.report(client, created, report_from_capture(data))
            verdict = response.json()["verdict"]
            assert verdict["level"] == level, (weight, verdict)
            mismatch = next(s for s in verdict["signals"] if s["code"] == "ip.webrtc_http_mismatch")
            assert mismatch["weight"] == weight
