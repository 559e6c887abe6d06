"""A tiny asyncio HTTP/1.1 server for the browser tests: the static page and a result sink.

``GET /page/<file>`` serves ``tests/browser/page/``; ``POST /result/<session>`` stores the
JSON body as ``<out>/results/<session>.json``. Every request is logged (method, path,
client address, time) to ``<out>/http.jsonl``: the HTTP side of a session's evidence.
This is test scaffolding, not the product's web app.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

PAGE_DIR = Path(__file__).resolve().parent / "page"
MAX_BODY = 1 << 20
_SESSION = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class HttpSink:
    def __init__(self, out: Path) -> None:
        self.out = out
        (out / "results").mkdir(parents=True, exist_ok=True)
        self._log = (out / "http.jsonl").open("a", buffering=1)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            status, ctype, body = await self._respond(reader, peer)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            status, ctype, body = 400, "text/plain", b"bad request\n"
        head = (
            f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _respond(
        self, reader: asyncio.StreamReader, peer: tuple[str, int]
    ) -> tuple[int, str, bytes]:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        line, *header_lines = request.split("\r\n")
        method, target, _version = line.split(" ", 2)
        headers = {}
        for h in header_lines:
            if ":" in h:
                k, v = h.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise ValueError("body too large")
        body = await reader.readexactly(length) if length else b""
        path = target.split("?", 1)[0]
        self._log.write(
            json.dumps(
                {
                    "t": time.time(),
                    "src": f"{peer[0]}:{peer[1]}",
                    "method": method,
                    "target": target,
                    "user_agent": headers.get("user-agent"),
                }
            )
            + "\n"
        )
        if method == "GET" and path.startswith("/page/"):
            name = path.removeprefix("/page/") or "index.html"
            file = (PAGE_DIR / name).resolve()
            if file.parent == PAGE_DIR and file.is_file():
                return 200, _TYPES.get(file.suffix, "application/octet-stream"), file.read_bytes()
        elif method == "POST" and path.startswith("/result/"):
            session = path.removeprefix("/result/")
            if _SESSION.match(session):
                data = json.loads(body)
                data["_http_client"] = f"{peer[0]}:{peer[1]}"
                tmp = self.out / "results" / f".{session}.tmp"
                tmp.write_text(json.dumps(data))
                tmp.rename(self.out / "results" / f"{session}.json")
                return 200, "application/json", b"{}"
        return 404, "text/plain", b"not found\n"
