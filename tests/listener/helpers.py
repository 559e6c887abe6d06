"""Clients for the listener tests: real sockets on loopback, nothing mocked."""

from __future__ import annotations

import asyncio
import os
import socket

from icewatch.core.evidence import Observation
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    StunMessage,
    TransportAddress,
    build_message,
    decode_message,
    decode_xor_address,
)
from icewatch.core.stun.server import ServerConfig
from icewatch.listener import Listener, ListenerLimits, start_listener

SECRET = b"listener-test-secret-0123456789"
REALM = "icewatch.test"
CFG = ServerConfig(secret=SECRET, realm=REALM)


def binding(tid: bytes | None = None) -> bytes:
    return build_message(Method.BINDING, MessageClass.REQUEST, tid or os.urandom(12))


def mapped(msg: StunMessage) -> TransportAddress:
    attr = msg.get(AttrType.XOR_MAPPED_ADDRESS)
    assert attr is not None
    return decode_xor_address(attr.value, msg.transaction_id)


async def start(
    host: str | list[str] = "127.0.0.1",
    limits: ListenerLimits | None = None,
    cfg: ServerConfig = CFG,
) -> tuple[Listener, list[Observation]]:
    seen: list[Observation] = []
    listener = await start_listener(host, 0, cfg, seen.append, limits=limits)
    return listener, seen


class UdpClient:
    """A non-blocking UDP socket driven by the running loop."""

    def __init__(self, host: str, port: int, family: int = socket.AF_INET) -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setblocking(False)
        self.sock.connect((host, port))

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    async def recv(self, timeout: float = 2.0) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)

    async def silent(self, wait: float = 0.2) -> bool:
        """True when nothing arrives within ``wait`` seconds."""
        try:
            await self.recv(wait)
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


async def read_frame(reader: asyncio.StreamReader, timeout: float = 2.0) -> StunMessage:
    """One STUN message from a TCP stream (RFC 8489 §6.2.2 framing)."""
    header = await asyncio.wait_for(reader.readexactly(20), timeout)
    body = await asyncio.wait_for(reader.readexactly(int.from_bytes(header[2:4], "big")), timeout)
    return decode_message(header + body)


async def closed_by_peer(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True when the server closes the connection (EOF or reset) within ``timeout``."""
    try:
        data = await asyncio.wait_for(reader.read(65536), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return data == b""
