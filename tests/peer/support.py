"""A real aiortc client peer, the real web app with the real peer service, on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from icewatch.core.evidence import Observation
from icewatch.peer import AiortcPeerService
from icewatch.store import open_state, open_store
from icewatch.web import WebContext, WebSettings, create_app
from tests.web.support import SECRET, Clock

LOOPBACK = "127.0.0.1"


def open_sockets() -> int:
    """UDP/TCP sockets this process holds (from /proc)."""
    fd_dir = Path("/proc/self/fd")
    count = 0
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd).startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


@dataclass
class PeerWeb:
    app: Any
    ctx: WebContext
    peer: AiortcPeerService
    observations: list[Observation]

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(LOOPBACK, 51000))
        return httpx.AsyncClient(transport=transport, base_url="http://icewatch.test")

    async def create(self, client: httpx.AsyncClient) -> dict[str, Any]:
        response = await client.post("/api/v1/sessions")
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def offer(
        self, client: httpx.AsyncClient, created: dict[str, Any], sdp: str
    ) -> httpx.Response:
        return await client.post(
            f"/api/v1/sessions/{created['id']}/offer",
            json={"type": "offer", "sdp": sdp},
            headers={"Authorization": f"Bearer {created['token']}"},
        )


@asynccontextmanager
async def peer_web(
    tmp_path: Path, *, max_peers: int = 4, pings: int = 3, deadline: float = 2.0
) -> AsyncIterator[PeerWeb]:
    store = await open_store(f"sqlite:///{tmp_path / 'icewatch.db'}")
    state = await open_state("memory://")
    observations: list[Observation] = []
    service = AiortcPeerService(
        on_observation=observations.append,
        clock=Clock(),
        max_peers=max_peers,
        pings=pings,
        host_addresses=[LOOPBACK],
    )
    ctx = WebContext(
        store=store,
        state=state,
        secret=SECRET,
        clock=Clock(),
        random_bytes=secrets.token_bytes,
        listener_ready=lambda: True,
        settings=WebSettings(peer_deadline=deadline),
        peer=service,
    )
    try:
        yield PeerWeb(create_app(ctx), ctx, service, observations)
    finally:
        await service.close()
        await state.close()
        await store.close()


@dataclass
class ClientPeer:
    """The browser's part, played by aiortc: offer, data channel, echo, own pings."""

    pc: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    channel: RTCDataChannel | None = None
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    pinged_by_server: list[int] = field(default_factory=list)
    pongs: list[int] = field(default_factory=list)

    async def offer(self, *, data_channel: bool = True) -> str:
        if data_channel:
            channel = self.pc.createDataChannel("icewatch")
            self.channel = channel
            channel.on("open", self.opened.set)
            channel.on("message", self._on_message)
        else:
            self.pc.addTransceiver("audio")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        return self.pc.localDescription.sdp

    def _on_message(self, message: object) -> None:
        assert self.channel is not None
        data = json.loads(str(message))
        if data["t"] == "ping":
            self.pinged_by_server.append(data["seq"])
            self.channel.send(json.dumps({"t": "pong", "seq": data["seq"]}))
        elif data["t"] == "pong":
            self.pongs.append(data["seq"])

    async def accept(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    async def close(self) -> None:
        await self.pc.close()
