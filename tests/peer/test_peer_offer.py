"""The test connection's server peer, through the real offer endpoint, with a real
aiortc client peer over loopback UDP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from icewatch.core.evidence import ObservationSource, StunKind
from icewatch.core.ice import parse_sdp
from icewatch.peer import sanitize_offer
from tests.peer.support import LOOPBACK, ClientPeer, open_sockets, peer_web

pytestmark = pytest.mark.anyio


async def _wait(predicate: object, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    ends = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > ends:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_offer_answer_data_channel_pings_and_ice_observation(tmp_path: Path) -> None:
    async with peer_web(tmp_path, pings=3) as web, web.client() as http:
        created = await web.create(http)
        assert created["test_connection"] is True
        assert created["offer_url"] == f"/api/v1/sessions/{created['id']}/offer"
        client = ClientPeer()
        try:
            response = await web.offer(http, created, await client.offer())
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["type"] == "answer"
            answer = parse_sdp(body["sdp"])
            assert any(c.address.ip.compressed == LOOPBACK for c in answer.all_candidates())  # type: ignore[union-attr]
            await client.accept(body["sdp"])
            await asyncio.wait_for(client.opened.wait(), 3)
            assert client.channel is not None
            client.channel.send(json.dumps({"t": "ping", "seq": 7}))
            await _wait(lambda: web.observations and 7 in client.pongs)
            # The client's own address and port, and the offer's ufrag.
            conn = client.pc.sctp.transport.transport._connection  # type: ignore[union-attr]
            local_ports = {c.port for c in conn.local_candidates}
            ufrag = conn.local_username
        finally:
            await client.close()
        assert client.pinged_by_server == [1, 2, 3]
        nominated = [o for o in web.observations if o.kind is StunKind.ICE_NOMINATED]
        assert len(nominated) == 1
        obs = nominated[0]
        assert obs.source is ObservationSource.ICE
        assert obs.session_id == created["id"]
        assert str(obs.ip) == LOOPBACK
        assert obs.transport == "udp"
        assert len(obs.rtt_ms) == 3
        assert all(0 <= r < 1000 for r in obs.rtt_ms)
        assert obs.port in local_ports
        assert obs.username == ufrag
        await _wait(lambda: web.peer.active == 0)


async def test_replay_and_second_offer_are_refused(tmp_path: Path) -> None:
    async with peer_web(tmp_path) as web, web.client() as http:
        created = await web.create(http)
        client = ClientPeer()
        try:
            sdp = await client.offer()
            first = await web.offer(http, created, sdp)
            assert first.status_code == 200
            again = await web.offer(http, created, sdp)
            assert again.status_code == 409
            assert again.json()["error"]["code"] == "already_offered"
        finally:
            await client.close()


async def test_offer_with_another_sessions_token_is_refused(tmp_path: Path) -> None:
    async with peer_web(tmp_path) as web, web.client() as http:
        one = await web.create(http)
        two = await web.create(http)
        response = await http.post(
            f"/api/v1/sessions/{one['id']}/offer",
            json={"sdp": "v=0\r\n"},
            headers={"Authorization": f"Bearer {two['token']}"},
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert web.peer.stats.offered == 0


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "garbage",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
        "v=0\r\n" + "a=x\r\n" * 20000,
    ],
    ids=["empty", "garbage", "no-media", "huge"],
)
async def test_bad_offers_are_refused(tmp_path: Path, sdp: str) -> None:
    async with peer_web(tmp_path) as web, web.client() as http:
        created = await web.create(http)
        response = await web.offer(http, created, sdp)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_offer"
        assert web.peer.active == 0


async def test_an_audio_only_offer_is_a_bad_offer(tmp_path: Path) -> None:
    async with peer_web(tmp_path) as web, web.client() as http:
        created = await web.create(http)
        client = ClientPeer()
        try:
            response = await web.offer(http, created, await client.offer(data_channel=False))
        finally:
            await client.close()
        assert response.status_code == 400
        assert "data channel" in response.json()["error"]["message"]


async def test_offer_after_the_report_is_refused(tmp_path: Path) -> None:
    async with peer_web(tmp_path) as web, web.client() as http:
        created = await web.create(http)
        report = await http.post(
            f"/api/v1/sessions/{created['id']}/report",
            json={"webrtc": "missing"},
            headers={"Authorization": f"Bearer {created['token']}"},
        )
        assert report.status_code == 200, report.text
        response = await web.offer(http, created, "v=0\r\n")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "already_reported"


async def test_local_and_tcp_candidates_are_dropped() -> None:
    client = ClientPeer()
    try:
        sdp = await client.offer()
    finally:
        await client.close()
    lines = sdp.replace("\r\n", "\n").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("a=candidate:"))
    lines[at:at] = [
        "a=candidate:1 1 udp 2122260223 4f1e3c2a-1b2c-4d5e-8f90-123456789abc.local 54321 typ host",
        "a=candidate:2 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active",
        "a=candidate:3 1 udp nonsense",
    ]
    cleaned, ufrag = sanitize_offer("\r\n".join(lines))
    assert ".local" not in cleaned
    assert " tcp " not in cleaned
    assert "nonsense" not in cleaned
    assert "a=candidate:" in cleaned  # the usable ones stay
    assert f"a=ice-ufrag:{ufrag}" in cleaned


async def test_a_client_that_never_connects_is_closed_after_the_deadline(
    tmp_path: Path,
) -> None:
    sockets_before = open_sockets()
    async with peer_web(tmp_path, deadline=0.5) as web, web.client() as http:
        created = await web.create(http)
        client = ClientPeer()
        try:
            response = await web.offer(http, created, await client.offer())
            assert response.status_code == 200
            # The client never applies the answer: no ICE checks come from it.
            assert web.peer.active == 1
            await _wait(lambda: web.peer.active == 0, timeout=2.0)
        finally:
            await client.close()
        assert not web.observations
        assert web.peer.stats.closed == 1
        assert not web.peer.tasks
    assert open_sockets() <= sockets_before


async def test_the_cap_refuses_the_extra_offer(tmp_path: Path) -> None:
    async with peer_web(tmp_path, max_peers=2, deadline=1.0) as web, web.client() as http:
        clients = [ClientPeer() for _ in range(3)]
        try:
            sessions = [await web.create(http) for _ in clients]
            offers = [await c.offer() for c in clients]
            responses = [await web.offer(http, s, o) for s, o in zip(sessions, offers, strict=True)]
            assert [r.status_code for r in responses] == [200, 200, 503]
            assert responses[2].json()["error"]["code"] == "peer_busy"
            # busy is not a use of the session's one offer: it may try again later
            await _wait(lambda: web.peer.active == 0, timeout=3.0)
            retry = await web.offer(http, sessions[2], offers[2])
            assert retry.status_code == 200
        finally:
            for c in clients:
                await c.close()


async def test_disabled_test_connection(tmp_path: Path) -> None:
    from tests.web.support import web_app

    async with web_app(tmp_path) as web:
        async with web.client() as http:
            created = await web.create(http)
            assert created["test_connection"] is False
            assert "offer_url" not in created
            response = await http.post(
                f"/api/v1/sessions/{created['id']}/offer",
                json={"sdp": "v=0\r\n"},
                headers={"Authorization": f"Bearer {created['token']}"},
            )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "test_connection_disabled"


async def test_close_frees_every_peer_and_task(tmp_path: Path) -> None:
    sockets_before = open_sockets()
    tasks_before = len(asyncio.all_tasks())
    async with peer_web(tmp_path, max_peers=8, deadline=10.0) as web, web.client() as http:
        clients = [ClientPeer() for _ in range(4)]
        try:
            for c in clients:
                created = await web.create(http)
                response = await web.offer(http, created, await c.offer())
                assert response.status_code == 200
                await c.accept(response.json()["sdp"])
            await asyncio.gather(*(asyncio.wait_for(c.opened.wait(), 3) for c in clients))
            assert web.peer.active == 4
        finally:
            for c in clients:
                await c.close()
        await web.peer.close()
        assert web.peer.active == 0
        assert not web.peer.tasks
    try:
        await _wait(lambda: len(asyncio.all_tasks()) <= tasks_before, timeout=3.0)
    except AssertionError:
        for t in asyncio.all_tasks():
            t.print_stack()
        raise
    assert open_sockets() <= sockets_before
