"""The report: real browser captures joined with the listener's observations, scored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from icewatch.core.addr import parse_ip
from icewatch.core.evidence import Observation, ObservationSource, StunKind, WebRtcStatus

from .support import (
    assert_error_shape,
    capture,
    capture_names,
    http_peer_of,
    observations_from_capture,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio


def codes(document: dict[str, Any]) -> list[str]:
    return [s["code"] for s in document["verdict"]["signals"]]


@pytest.mark.parametrize("name", capture_names())
async def test_real_capture_reports_low_when_http_and_webrtc_agree(
    tmp_path: Path, name: str
) -> None:
    data = capture(name)
    async with web_app(tmp_path) as web, web.client(peer=http_peer_of(data)) as client:
        created = await web.create(client)
        for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
            await web.state.add_observation(o)
        web.clock.advance(0.3)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        doc = response.json()
        assert doc["id"] == created["id"]
        assert doc["verdict"]["level"] == "low", doc["verdict"]
        assert "ip.webrtc_http_mismatch" not in codes(doc)
        assert "candidate.spoofed" not in codes(doc)
        assert doc["observed"], "the listener's observations are part of the document"
        assert {o["source"] for o in doc["observed"]} >= {"stun", "turn"}
        sent = [c["candidate"] for c in data["candidates"] if not c.get("end")]
        assert len(doc["candidates"]) == len([c for c in sent if c])  # "" ends the list
        assert doc["sdp"] == data["sdp"]

        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert stored.verdict is not None
        assert stored.verdict.level.value == "low"
        report = stored.evidence.report
        assert report is not None
        assert report.webrtc is WebRtcStatus.OK
        assert [c.candidate for c in report.candidates] == sent
        assert stored.evidence.report_http is not None
        assert stored.evidence.reported_at == web.clock()
        assert len(stored.evidence.observations) == len(doc["observed"])

        # The owner reads back exactly what the report answered.
        again = await client.get(
            f"/api/v1/sessions/{created['id']}",
            headers={"Authorization": f"Bearer {created['token']}"},
        )
        assert again.status_code == 200
        assert again.json() == doc


async def test_nat_behind_http_proxy_is_a_mismatch(tmp_path: Path) -> None:
    data = capture("chromium-156-nat")
    proxy = "10.77.1.3"  # HTTP via the proxy, UDP straight out of the NAT
    async with web_app(tmp_path) as web, web.client(peer=proxy) as client:
        created = await web.create(client)
        for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
            await web.state.add_observation(o)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        doc = response.json()
        assert "ip.webrtc_http_mismatch" in codes(doc)
        assert doc["verdict"]["level"] in {"medium", "high"}
        assert doc["http"]["client_ip"] == proxy


async def test_observations_in_flight_are_waited_for(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with (
        web_app(tmp_path, report_wait=2.0) as web,
        web.client(peer=http_peer_of(data)) as client,
    ):
        created = await web.create(client)
        observations = observations_from_capture(data, created["id"], web.clock() + 0.05)

        async def late() -> None:  # the listener records them while the report is waiting
            await asyncio.sleep(0.1)
            for o in observations:
                await web.state.add_observation(o)

        task = asyncio.create_task(late())
        response = await web.report(client, created, report_from_capture(data))
        await task
        assert response.status_code == 200, response.text
        doc = response.json()
        assert len(doc["observed"]) == len(observations)
        assert "candidate.spoofed" not in codes(doc)


async def test_report_gives_up_waiting_and_flags_unseen_srflx(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with (
        web_app(tmp_path, report_wait=0.1) as web,
        web.client(peer=http_peer_of(data)) as client,
    ):
        created = await web.create(client)
        response = await web.report(client, created, report_from_capture(data))
        assert response.status_code == 200, response.text
        doc = response.json()
        assert doc["observed"] == []
        assert "candidate.spoofed" in codes(doc)  # srflx the server never saw


async def test_other_sessions_observations_stay_out(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with web_app(tmp_path) as web, web.client(peer=http_peer_of(data)) as client:
        mine, other = await web.create(client), await web.create(client)
        stray = Observation(
            ObservationSource.TURN,
            StunKind.ALLOCATE_AUTHENTICATED,
            ip=parse_ip("198.51.100.9").ip,
            port=40000,
            transport="udp",
            at=web.clock(),
            transaction_id="00" * 12,
            session_id=other["id"],
        )
        await web.state.add_observation(stray)
        for o in observations_from_capture(data, mine["id"], web.clock()):
            await web.state.add_observation(o)
        doc = (await web.report(client, mine, report_from_capture(data))).json()
        assert "198.51.100.9" not in {o["ip"] for o in doc["observed"]}


async def test_webrtc_missing_is_reported_not_refused(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        body = {"webrtc": "missing", "user_agent": "Old/1.0", "collector_version": "1"}
        response = await web.report(client, created, body)
        assert response.status_code == 200, response.text
        assert "webrtc.unavailable" in codes(response.json())


async def test_malformed_candidates_are_evidence_not_errors(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        body = {
            "webrtc": "ok",
            "candidates": [
                {"candidate": "candidate:1 1 UDP 1685987327 10.77.1.2 465382 typ srflx"},
                {"candidate": "not a candidate at all"},
                {"candidate": "x" * 1500},
            ],
            "sdp": "this is not SDP",
        }
        response = await web.report(client, created, body)
        assert response.status_code == 200, response.text
        doc = response.json()
        assert "candidate.malformed" in codes(doc)
        assert len(doc["malformed_candidates"]) == 3


async def test_second_report_is_a_conflict(tmp_path: Path) -> None:
    async with web_app(tmp_path, report_wait=0) as web, web.client() as client:
        created = await web.create(client)
        body = {"webrtc": "missing"}
        assert (await web.report(client, created, body)).status_code == 200
        again = await web.report(client, created, {"webrtc": "ok"})
        assert_error_shape(again, 409, "already_reported")
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert stored.evidence.report is not None
        assert stored.evidence.report.webrtc is WebRtcStatus.MISSING


async def test_concurrent_reports_one_wins(tmp_path: Path) -> None:
    async with web_app(tmp_path, report_wait=0.2) as web, web.client() as client:
        created = await web.create(client)
        body = {"webrtc": "ok", "candidates": []}
        responses = await asyncio.gather(*(web.report(client, created, body) for _ in range(4)))
        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
        for r in responses:
            if r.status_code == 409:
                assert_error_shape(r, 409, "already_reported")


async def test_report_after_expiry_is_gone(tmp_path: Path) -> None:
    async with web_app(tmp_path, session_ttl=60) as web, web.client() as client:
        created = await web.create(client)
        web.clock.advance(61)
        response = await web.report(client, created, {"webrtc": "missing"})
        assert_error_shape(response, 410, "session_expired")


async def test_completed_gathering_without_turn_answer_is_not_waited_for(tmp_path: Path) -> None:
    # A browser that sent nothing (a policy blocking UDP) completes at once: nothing is in
    # flight, so the report does not sit out report_wait.
    async with web_app(tmp_path, report_wait=5.0) as web, web.client() as client:
        created = await web.create(client)
        loop = asyncio.get_running_loop()
        started = loop.time()
        body = {"webrtc": "ok", "candidates": [], "ended_by": "complete"}
        response = await web.report(client, created, body)
        assert response.status_code == 200, response.text
        assert loop.time() - started < 2.5
        assert "webrtc.no_candidates" in codes(response.json())


async def test_deadline_cut_gathering_waits_for_the_turn_request(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with (
        web_app(tmp_path, report_wait=2.0) as web,
        web.client(peer=http_peer_of(data)) as client,
    ):
        created = await web.create(client)
        body = report_from_capture(data) | {"ended_by": "deadline", "candidate_errors": []}
        observations = observations_from_capture(data, created["id"], web.clock() + 0.05)
        bindings = [o for o in observations if o.source is ObservationSource.STUN]
        for o in bindings:  # the srflx were seen; the TURN request is still on its way
            await web.state.add_observation(o)

        async def late() -> None:
            await asyncio.sleep(0.15)
            for o in observations:
                if o.source is ObservationSource.TURN:
                    await web.state.add_observation(o)

        task = asyncio.create_task(late())
        response = await web.report(client, created, body)
        await task
        doc = response.json()
        assert "turn" in {o["source"] for o in doc["observed"]}
