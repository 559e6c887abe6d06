"""A tiny HTTP forward proxy for the sandbox: absolute-URI requests and CONNECT tunnels.

``python -m tests.browser.proxy --listen 10.77.1.3:3128 [--listen [fd77:1::3]:3128]
--log FILE`` prints ``ready`` once bound. It forwards only to IP literals inside the
sandbox (10.77.0.0/16, fd77::/16): anything else gets ``403`` and is logged, so a
browser configured to use it can never reach the outside through it.

Like an anonymising proxy (a VPN's HTTP proxy, a "residential" proxy), it adds no
``X-Forwarded-For`` or ``Via``: the server sees the proxy's address and nothing else.
One request per client connection (``Connection: close`` both ways) keeps the framing
trivial; browsers simply open another connection. Every request or tunnel is logged
as one JSON line ``{"t", "client", "method", "target", "status"}``.

``--delay-ms N`` adds N ms of one-way delay in each direction (+2N ms of round-trip time
on every path through it), applied as a delay line on every chunk read, as a slow or
distant link would: the sandbox kernel has no ``sch_netem`` (``tc qdisc ... netem``
answers "Specified qdisc kind is unknown"), so the e2e tests put the delay here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import sys
import time
from typing import TextIO
from urllib.parse import urlsplit

ALLOWED = (ipaddress.ip_network("10.77.0.0/16"), ipaddress.ip_network("fd77::/16"))
MAX_HEAD = 64 * 1024
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


def allowed_target(host: str) -> bool:
    """Only IP literals inside the sandbox."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in ALLOWED)


def split_hostport(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port else default_port
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host, int(port)


class Proxy:
    def __init__(self, log: TextIO, delay: float = 0.0) -> None:
        self.log = log
        self.delay = delay  # one-way, seconds

    def _record(self, client: str, method: str, target: str, status: int) -> None:
        entry = {"t": time.time(), "client": client, "method": method, "target": target,
                 "status": status}  # fmt: skip
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = f"{peer[0]}:{peer[1]}" if peer else "?"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        try:
            await self._dispatch(client, head, reader, writer)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _refuse(
        self, writer: asyncio.StreamWriter, client: str, method: str, target: str, status: int
    ) -> None:
        reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}[status]
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        self._record(client, method, target, status)

    async def _dispatch(
        self,
        client: str,
        head: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            await self._refuse(writer, client, "?", lines[0][:80], 400)
            return
        method, target, version = parts
        if method == "CONNECT":
            host, port = split_hostport(target, 443)
            if not allowed_target(host):
                await self._refuse(writer, client, method, target, 403)
                return
            await asyncio.sleep(self.delay)
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                await self._refuse(writer, client, method, target, 502)
                return
            await asyncio.sleep(self.delay)
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            self._record(client, method, target, 200)
            await _pipe_both(reader, writer, up_reader, up_writer, self.delay)
            return
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            await self._refuse(writer, client, method, target, 400)
            return
        host = url.hostname
        port = url.port or 80
        if not allowed_target(host):
            await self._refuse(writer, client, method, target, 403)
            return
        headers = []
        length = 0
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            low = name.strip().lower()
            if low in HOP_BY_HOP:
                continue
            if low == "content-length":
                length = int(value.strip())
            headers.append(f"{name.strip()}: {value.strip()}")
        body = await reader.readexactly(length) if length else b""
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        request = "\r\n".join([f"{method} {path} {version}", *headers, "Connection: close", "", ""])
        await asyncio.sleep(self.delay)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            await self._refuse(writer, client, method, target, 502)
            return
        up_writer.write(request.encode("latin-1") + body)
        await up_writer.drain()
        status_line = await up_reader.readline()
        code = status_line.split(b" ")[1] if status_line.count(b" ") >= 1 else b"0"
        self._record(client, method, target, int(code) if code.isdigit() else 0)
        await _pipe(up_reader, writer, self.delay, first=status_line, close=False)
        up_writer.close()


async def _pipe(
    src: asyncio.StreamReader,
    dst: asyncio.StreamWriter,
    delay: float = 0.0,
    *,
    first: bytes = b"",
    close: bool = True,
) -> None:
    """Copy ``src`` to ``dst``; each chunk leaves ``delay`` s after it arrived (a delay
    line: chunks keep their spacing, the link's bandwidth is not reduced)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def feed() -> None:
        if first:
            line.put_nowait((loop.time() + delay, first))
        try:
            while chunk := await src.read(65536):
                line.put_nowait((loop.time() + delay, chunk))
        except OSError:
            pass
        line.put_nowait((loop.time() + delay, b""))

    feeder = asyncio.create_task(feed())
    try:
        while True:
            due, chunk = await line.get()
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            if not chunk:
                break
            dst.write(chunk)
            await dst.drain()
    except OSError:
        pass
    finally:
        feeder.cancel()
        if close:
            with contextlib.suppress(OSError):
                dst.close()


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
    delay: float = 0.0,
) -> None:
    await asyncio.gather(_pipe(reader, up_writer, delay), _pipe(up_reader, writer, delay))


async def _main(listen: list[str], log_path: str, delay_ms: float = 0.0) -> None:
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    proxy = Proxy(log, delay_ms / 1000)
    servers = []
    for spec in listen:
        host, port = split_hostport(spec, 3128)
        servers.append(await asyncio.start_server(proxy.handle, host, port, limit=MAX_HEAD))
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", action="append", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, each direction")
    args = p.parse_args()
    try:
        asyncio.run(_main(args.listen, args.log, args.delay_ms))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
