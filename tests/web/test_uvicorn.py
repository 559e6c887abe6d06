"""The app on a real uvicorn server on a loopback port, spoken to over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from .support import (
    assert_error_shape,
    capture,
    observations_from_capture,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    """Run ``app`` on uvicorn on 127.0.0.1 (an ephemeral port) in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def _raw_exchange(port: int, head: bytes, body_chunks: list[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then chunks until the server answers; (response, bytes of body sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        writer.write(head)
        await writer.drain()
        response = b""
        for chunk in body_chunks:
            try:
                response = await asyncio.wait_for(reader.read(65536), 0.05)
            except TimeoutError:
                response = b""
            if response:
                break
            writer.write(chunk)
            try:
                await writer.drain()
            except ConnectionError:
                break
            sent += len(chunk)
        if not response:
            response = await asyncio.wait_for(reader.read(65536), 5)
        while b"\r\n\r\n" not in response:
            more = await asyncio.wait_for(reader.read(65536), 5)
            if not more:
                break
            response += more
        return response, sent
    finally:
        writer.close()


def _parse(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(
        line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    if headers.get("transfer-encoding") == "chunked":
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return status, json.loads(body)


async def test_full_flow_over_real_http(tmp_path: Path) -> None:
    data = capture("chromium-156-default")
    async with web_app(tmp_path) as web, serving(web.app) as port:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post("/api/v1/sessions")
            assert response.status_code == 201, response.text
            created = response.json()
            assert created["ice_servers"][0]["urls"] == ["stun:127.0.0.1:3478"]

            for o in observations_from_capture(data, created["id"], web.clock()):
                await web.state.add_observation(o)
            # The HTTP peer is loopback here, so only compare what must hold anyway.
            response = await client.post(
                created["report_url"],
                json=report_from_capture(data),
                headers={"Authorization": f"Bearer {created['token']}"},
            )
            assert response.status_code == 200, response.text
            doc = response.json()
            assert doc["http"]["peer_ip"] == "127.0.0.1"
            assert doc["observed"]

            page = await client.get("/")
            assert page.status_code == 200
            assert "content-security-policy" in page.headers
            health = await client.get("/healthz")
            assert health.json()["status"] == "ok"

        async with httpx.AsyncClient(
            base_url=base, headers={"Host": f"localhost:{port}"}
        ) as client:
            created = (await client.post("/api/v1/sessions")).json()
            assert created["ice_servers"][1]["urls"][1] == "turn:localhost:3478?transport=tcp"


async def test_declared_oversized_body_is_refused_without_reading_it(tmp_path: Path) -> None:
    async with web_app(tmp_path, max_body_bytes=64 * 1024) as web, serving(web.app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            created = (await client.post("/api/v1/sessions")).json()
        head = (
            f"POST {created['report_url']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {created['token']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
        ).encode()
        raw, sent = await _raw_exchange(port, head, [b"x" * 65536] * 1600)
        status, body = _parse(raw)
        assert status == 413
        assert body["error"]["code"] == "body_too_large"
        assert sent < 1024 * 1024  # answered long before 100 MB were sent


async def test_chunked_oversized_body_is_cut_off(tmp_path: Path) -> None:
    async with web_app(tmp_path, max_body_bytes=64 * 1024) as web, serving(web.app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            created = (await client.post("/api/v1/sessions")).json()
        head = (
            f"POST {created['report_url']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {created['token']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
        raw, sent = await _raw_exchange(port, head, [chunk] * 1000)
        status, body = _parse(raw)
        assert status == 413
        assert body["error"]["code"] == "body_too_large"
        assert sent < 4 * 1024 * 1024


async def test_errors_over_real_http_have_the_shape(tmp_path: Path) -> None:
    async with (
        web_app(tmp_path) as web,
        serving(web.app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        created = (await client.post("/api/v1/sessions")).json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        bad_json = await client.post(
            created["report_url"],
            content=b"{nope",
            headers=auth | {"Content-Type": "application/json"},
        )
        assert_error_shape(bad_json, 400, "bad_json")
        as_text = await client.post(
            created["report_url"], content=b"{}", headers=auth | {"Content-Type": "text/plain"}
        )
        assert_error_shape(as_text, 415, "unsupported_media_type")
        missing = await client.get("/api/v1/sessions/" + "C" * 22, headers=auth)
        assert_error_shape(missing, 401, "unauthorized")
        assert_error_shape(await client.get("/nothing/here"), 404, "not_found")
