"""A tiny STUN/TURN responder for the browser tests, built on :mod:`icewatch.core.stun`.

It records **every** datagram (and TCP-framed message) it receives — hex, source,
destination, time — to ``<out>/datagrams.jsonl``, with its own replies marked ``out``.
It answers:

* Binding request → success with XOR-MAPPED-ADDRESS (the source as seen here) + FINGERPRINT;
* Allocate without MESSAGE-INTEGRITY → 401 with REALM + NONCE;
* Allocate with USERNAME + MESSAGE-INTEGRITY → checks it with ``long_term_key`` (the
  password is the TURN REST one, ``base64(HMAC-SHA1(secret, username))``), records the
  verdict and answers 403: it never allocates a relay.

Everything else is recorded and left unanswered.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

MAX_DATAGRAM = 4096


def turn_rest_password(secret: str, username: str) -> str:
    """TURN REST (draft-uberti-behave-turn-rest) password for ``username``."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def _fmt(addr: tuple[Any, ...]) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class Reply:
    data: bytes
    note: dict[str, Any]


class StunResponder:
    """The per-message logic: ``handle(data, src) -> Reply | None`` plus the record log."""

    def __init__(self, out: Path, *, realm: str, secret: str) -> None:
        self.realm = realm
        self.secret = secret
        self._log = (out / "datagrams.jsonl").open("a", buffering=1)

    def record(
        self, direction: str, transport: str, src: str, dst: str, data: bytes, **extra: Any
    ) -> None:
        entry = {
            "t": time.time(),
            "dir": direction,
            "transport": transport,
            "src": src,
            "dst": dst,
            "hex": data.hex(),
            **extra,
        }
        self._log.write(json.dumps(entry) + "\n")

    def handle(self, data: bytes, src: tuple[str, int]) -> Reply | None:
        return None


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, responder: StunResponder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        assert self.transport is not None
        local = _fmt(self.transport.get_extra_info("sockname"))
        src = _fmt(addr)
        self.responder.record("in", "udp", src, local, data)
        if len(data) > MAX_DATAGRAM:
            return
        reply = self.responder.handle(data, (addr[0], addr[1]))
        if reply is not None:
            self.transport.sendto(reply.data, addr)
            self.responder.record("out", "udp", local, src, reply.data, **reply.note)


async def _tcp_client(
    responder: StunResponder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """STUN over TCP (RFC 8489 §6.2.2): messages back to back, framed by their header."""
    peer = writer.get_extra_info("peername")
    local = _fmt(writer.get_extra_info("sockname"))
    src = _fmt(peer)
    try:
        while True:
            header = await reader.readexactly(20)
            length = int.from_bytes(header[2:4], "big")
            data = header + await reader.readexactly(length)
            responder.record("in", "tcp", src, local, data)
            reply = responder.handle(data, (peer[0], peer[1]))
            if reply is not None:
                writer.write(reply.data)
                await writer.drain()
                responder.record("out", "tcp", local, src, reply.data, **reply.note)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def start_stun(responder: StunResponder, host: str, port: int) -> list[Any]:
    """Listen on ``host:port`` over UDP and TCP; return the transports/servers."""
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(responder), local_addr=(host, port))
    tcp = await asyncio.start_server(
        lambda r, w: _tcp_client(responder, r, w), host=host, port=port
    )
    return [udp, tcp]


def new_nonce() -> str:
    return secrets.token_hex(8)
