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
import ipaddress
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from icewatch.core.errors import StunParseError
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    StunMessage,
    TransportAddress,
    attribute_name,
    build_message,
    decode_message,
    decode_text,
    encode_error_code,
    encode_text,
    encode_xor_address,
    long_term_key,
    turn_rest_password,
    verify_message_integrity,
)

MAX_DATAGRAM = 4096


def summarize(data: bytes) -> str:
    """``"allocate request: REQUESTED-TRANSPORT LIFETIME FINGERPRINT"``, or why it is not STUN."""
    try:
        msg = decode_message(data)
    except StunParseError as exc:
        return f"not STUN ({exc})"
    names = " ".join(attribute_name(a.type) or f"0x{a.type:04x}" for a in msg.attributes)
    return f"{msg.method_name} {msg.msg_class.name.lower()}: {names}".rstrip(": ")


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
        self.secret = secret.encode()
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
            "summary": summarize(data),
            **extra,
        }
        self._log.write(json.dumps(entry) + "\n")

    def handle(self, data: bytes, src: tuple[str, int]) -> Reply | None:
        try:
            msg = decode_message(data)
        except StunParseError:
            return None
        if msg.msg_class != MessageClass.REQUEST:
            return None
        if msg.method == Method.BINDING:
            return self._binding(msg, src)
        if msg.method == Method.ALLOCATE:
            return self._allocate(msg)
        return None

    def _binding(self, msg: StunMessage, src: tuple[str, int]) -> Reply:
        mapped = TransportAddress(ipaddress.ip_address(src[0].split("%")[0]), src[1])
        reply = build_message(
            Method.BINDING,
            MessageClass.SUCCESS,
            msg.transaction_id,
            [(AttrType.XOR_MAPPED_ADDRESS, encode_xor_address(mapped, msg.transaction_id))],
            fingerprint=True,
        )
        return Reply(reply, {"reply": "binding-success", "mapped": str(mapped)})

    def _error(
        self,
        msg: StunMessage,
        code: int,
        attrs: Sequence[tuple[int, bytes]],
        key: bytes | None = None,
    ) -> bytes:
        return build_message(
            msg.method,
            MessageClass.ERROR,
            msg.transaction_id,
            [(AttrType.ERROR_CODE, encode_error_code(code)), *attrs],
            integrity_key=key,
            fingerprint=True,
        )

    def _allocate(self, msg: StunMessage) -> Reply:
        user_attr = msg.get(AttrType.USERNAME)
        if msg.get(AttrType.MESSAGE_INTEGRITY) is None or user_attr is None:
            nonce = secrets.token_hex(8)
            attrs = [
                (AttrType.REALM, encode_text(self.realm)),
                (AttrType.NONCE, encode_text(nonce)),
            ]
            return Reply(self._error(msg, 401, attrs), {"reply": "allocate-401", "nonce": nonce})
        username = decode_text(user_attr.value, "username")
        key = long_term_key(username, self.realm, turn_rest_password(self.secret, username))
        ok = verify_message_integrity(msg, key)
        # Never allocate: a 403 ends the browser's attempt (signed when the request was).
        reply = self._error(msg, 403, [], key if ok else None)
        return Reply(reply, {"reply": "allocate-403", "username": username, "integrity_ok": ok})


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
