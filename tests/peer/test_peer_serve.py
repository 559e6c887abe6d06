"""``icewatch serve`` (a subprocess on loopback) with the test connection on: a Python
aiortc client offers, the data channel opens, and the report shows the ICE observation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from icewatch.peer import preload
from tests.peer.support import LOOPBACK, ClientPeer
from tests.service.proc import start

pytestmark = pytest.mark.anyio


async def test_serve_answers_the_test_connection_end_to_end(tmp_path: Path) -> None:
    preload([LOOPBACK])  # this process's client peer binds loopback only
    served = start(tmp_path, "--peer-deadline", "3")
    try:
        async with httpx.AsyncClient(base_url=served.base, timeout=10) as http:
            created = (await http.post("/api/v1/sessions")).json()
            assert created["test_connection"] is True
            auth = {"Authorization": f"Bearer {created['token']}"}
            client = ClientPeer()
            try:
                offer = await client.offer()
                r = await http.post(created["offer_url"], json={"sdp": offer}, headers=auth)
                assert r.status_code == 200, r.text
                await client.accept(r.json()["sdp"])
                await asyncio.wait_for(client.opened.wait(), 5)
                loop = asyncio.get_running_loop()
                ends = loop.time() + 5
                while len(client.pinged_by_server) < 3 and loop.time() < ends:
                    await asyncio.sleep(0.02)
                assert client.pinged_by_server == [1, 2, 3]
                await asyncio.sleep(0.2)  # the observation goes through the pump
                report = await http.post(created["report_url"], json={"webrtc": "ok"}, headers=auth)
            finally:
                await client.close()
        assert report.status_code == 200, report.text
        ice = [o for o in report.json()["observed"] if o["source"] == "ice"]
        assert [o["kind"] for o in ice] == ["ice-nominated"], ice
        assert ice[0]["ip"] == LOOPBACK
        assert ice[0]["transport"] == "udp"
    finally:
        code, _, err = served.stop()
    assert code == 0, err


def test_serve_without_the_test_connection(tmp_path: Path) -> None:
    served = start(tmp_path, "--no-test-connection")
    try:
        created = httpx.post(f"{served.base}/api/v1/sessions", timeout=10).json()
        assert created["test_connection"] is False
    finally:
        code, _, err = served.stop()
    assert code == 0, err
