"""The listener over UDP, on real loopback sockets, under both event loops."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
import struct
from pathlib import Path

import pytest
from tests.listener.conftest import Runner
from tests.listener.helpers import CFG, UdpClient, binding, mapped, start

from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    TransportAddress,
    build_message,
    decode_message,
    encode_channel_data,
    encode_text,
    verify_fingerprint,
)
from icewatch.listener import ListenerLimits, start_listener


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_V6 = _has_ipv6_loopback()


def test_binding_v4(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        client = UdpClient("127.0.0.1", listener.port)
        try:
            tid = os.urandom(12)
            client.send(binding(tid))
            msg = decode_message(await client.recv())
            assert msg.transaction_id == tid
            assert msg.msg_class == MessageClass.SUCCESS
            assert verify_fingerprint(msg)
            host, port = client.sock.getsockname()
            assert mapped(msg) == TransportAddress(ipaddress.ip_address(host), port)
            assert len(seen) == 1
            obs = seen[0]
            assert (obs.source, obs.kind, obs.transport) == (
                ObservationSource.STUN,
                StunKind.BINDING,
                "udp",
            )
            assert (str(obs.ip), obs.port, obs.transaction_id) == (host, port, tid.hex())
            assert (str(obs.local_ip), obs.local_port) == ("127.0.0.1", listener.port)
            assert listener.stats.replies["binding-success"] == 1
            assert listener.stats.observations == 1
        finally:
            client.close()
            await listener.close()

    run(scenario)


@pytest.mark.skipif(not HAS_V6, reason="no IPv6 loopback on this machine")
def test_binding_v6_and_dual_stack(run: Runner) -> None:
    async def scenario() -> None:
        # "::" alone is dual-stack: IPv4 clients get their IPv4 address back, unmapped
        listener, seen = await start("::")
        v6 = UdpClient("::1", listener.port, socket.AF_INET6)
        v4 = UdpClient("127.0.0.1", listener.port)
        try:
            v6.send(binding())
            got6 = mapped(decode_message(await v6.recv()))
            assert got6 == TransportAddress(ipaddress.ip_address("::1"), v6.sock.getsockname()[1])
            v4.send(binding())
            got4 = mapped(decode_message(await v4.recv()))
            assert got4 == TransportAddress(
                ipaddress.ip_address("127.0.0.1"), v4.sock.getsockname()[1]
            )
            assert [o.ip.version for o in seen] == [6, 4]
            assert seen[0].local_ip is None  # a wildcard bind does not know the destination
        finally:
            v6.close()
            v4.close()
            await listener.close()

    run(scenario)


@pytest.mark.skipif(not HAS_V6, reason="no IPv6 loopback on this machine")
def test_both_wildcards_on_one_port(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start(["0.0.0.0", "::"])
        try:
            kinds = sorted(str(a).split(" ")[0] + str(a.host) for a in listener.addresses)
            assert kinds == ["tcp0.0.0.0", "tcp::", "udp0.0.0.0", "udp::"]
            assert len({a.port for a in listener.addresses}) == 1
            for host, family in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
                client = UdpClient(host, listener.port, family)
                client.send(binding())
                assert mapped(decode_message(await client.recv())).ip == ipaddress.ip_address(host)
                client.close()
        finally:
            await listener.close()

    run(scenario)


def test_junk_is_counted_and_never_answered(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        client = UdpClient("127.0.0.1", listener.port)
        good = binding()
        wrong_cookie = good[:4] + b"\x21\x12\xa4\x43" + good[8:]
        oversized = build_message(
            Method.BINDING, MessageClass.REQUEST, os.urandom(12), [(0x8022, bytes(1600))]
        )
        junk = {
            "not-stun": [b"\xff" * 50, b"", wrong_cookie, b"\x80" + bytes(30)],
            "malformed": [good[:2] + b"\x00\x04" + good[4:], good + b"\x00\x00\x00"],
            "channel-data": [encode_channel_data(0x4001, b"hello")],
            "oversize": [oversized, bytes(65000)],
            "not-a-request": [build_message(Method.BINDING, MessageClass.SUCCESS, bytes(12))],
            "indication": [build_message(Method.BINDING, MessageClass.INDICATION, bytes(12))],
            "unknown-method": [build_message(0x0AB, MessageClass.REQUEST, bytes(12))],
            "no-allocation": [build_message(Method.REFRESH, MessageClass.REQUEST, bytes(12))],
        }
        try:
            sent = 0
            for items in junk.values():
                for data in items:
                    client.send(data)
                    sent += 1
            client.send(good[:19])  # truncated
            assert await client.silent(0.3)
            stats = listener.stats
            assert stats.datagrams == sent + 1
            for reason, items in junk.items():
                expected = len(items) + (1 if reason == "not-stun" else 0)
                assert stats.drops[reason] == expected, reason
            assert stats.replies_total == 0
            assert seen == []
            # and it still answers
            client.send(good)
            assert decode_message(await client.recv()).msg_class == MessageClass.SUCCESS
        finally:
            client.close()
            await listener.close()

    run(scenario)


def test_burst_of_2000_bindings_loses_nothing(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        clients = [UdpClient("127.0.0.1", listener.port) for _ in range(4)]
        try:
            tids = [i.to_bytes(4, "big") + os.urandom(8) for i in range(2000)]
            for i, tid in enumerate(tids):  # as fast as the client can send, no window
                clients[i % 4].send(binding(tid))
            got: set[bytes] = set()

            async def drain(client: UdpClient) -> None:
                while True:
                    try:
                        data = await client.recv(1.0)
                    except TimeoutError:
                        return
                    got.add(decode_message(data).transaction_id)

            await asyncio.gather(*(drain(c) for c in clients))
            assert got == set(tids)
            assert listener.stats.replies["binding-success"] == 2000
            assert listener.stats.reply_drops == 0
            assert len(seen) == 2000
        finally:
            for c in clients:
                c.close()
            await listener.close()

    run(scenario)


def test_receive_buffer_is_raised(run: Runner) -> None:
    async def scenario() -> None:
        limits = ListenerLimits(rcvbuf=4 << 20)
        listener, _ = await start(limits=limits)
        try:
            udp = [a for a in listener.addresses if a.transport == "udp"]
            rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
            wanted = limits.rcvbuf if os.geteuid() == 0 else min(limits.rcvbuf, rmem_max)
            # Linux reports twice what it grants (bookkeeping); either way ≥ wanted
            assert all(a.rcvbuf >= wanted for a in udp)
        finally:
            await listener.close()

    run(scenario)


def test_callback_errors_are_counted_and_replies_still_sent(run: Runner) -> None:
    async def scenario() -> None:
        calls: list[Observation] = []

        def broken(obs: Observation) -> None:
            calls.append(obs)
            raise RuntimeError("queue full")

        listener = await start_listener("127.0.0.1", 0, CFG, broken)
        client = UdpClient("127.0.0.1", listener.port)
        try:
            for _ in range(3):
                client.send(binding())
                assert decode_message(await client.recv()).msg_class == MessageClass.SUCCESS
            assert len(calls) == 3
            assert listener.stats.callback_errors == 3
        finally:
            client.close()
            await listener.close()

    run(scenario)


def test_turn_over_udp_allocate_flow(run: Runner) -> None:
    from icewatch.core.session import make_session_id, session_turn_credential
    from icewatch.core.stun import decode_text, encode_requested_transport, long_term_key

    async def scenario() -> None:
        listener, seen = await start()
        client = UdpClient("127.0.0.1", listener.port)
        transport = (AttrType.REQUESTED_TRANSPORT, encode_requested_transport())
        try:
            client.send(
                build_message(Method.ALLOCATE, MessageClass.REQUEST, bytes(12), [transport])
            )
            challenge = decode_message(await client.recv())
            nonce = challenge.get(AttrType.NONCE)
            assert nonce is not None
            session = make_session_id(os.urandom(16))
            username, password = session_turn_credential(CFG.secret, session, 2**33)
            key = long_term_key(username, CFG.realm, password)
            attrs = [
                transport,
                (AttrType.USERNAME, encode_text(username)),
                (AttrType.REALM, encode_text(CFG.realm)),
                (AttrType.NONCE, nonce.value),
            ]
            client.send(
                build_message(
                    Method.ALLOCATE, MessageClass.REQUEST, os.urandom(12), attrs, integrity_key=key
                )
            )
            refused = decode_message(await client.recv())
            assert refused.msg_class == MessageClass.ERROR
            assert decode_text(challenge.get(AttrType.REALM).value) == CFG.realm  # type: ignore[union-attr]
            assert [o.kind for o in seen] == [StunKind.ALLOCATE, StunKind.ALLOCATE_AUTHENTICATED]
            assert seen[1].session_id == session
            assert seen[1].port == client.sock.getsockname()[1]
            assert dict(listener.stats.replies) == {"allocate-401": 1, "allocate-403": 1}
        finally:
            client.close()
            await listener.close()

    run(scenario)


def test_port_in_use_is_a_clean_error(run: Runner) -> None:
    async def scenario() -> None:
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            with pytest.raises(OSError, match="in use") as info:
                await start_listener("127.0.0.1", port, CFG, lambda _o: None)
            assert info.value.errno == errno.EADDRINUSE
            # the UDP socket it had bound before failing on TCP was released
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", port))
        finally:
            taken.close()

    run(scenario)


def test_close_releases_the_port(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start()
        port = listener.port
        await listener.close()
        await listener.close()  # idempotent
        again = await start_listener("127.0.0.1", port, CFG, lambda _o: None)
        assert again.port == port
        await again.close()

    run(scenario)


def test_reply_is_dropped_not_queued_when_the_socket_is_full(run: Runner) -> None:
    # the OS edge: a send buffer that refuses (EAGAIN) — counted, never waited on
    from icewatch.listener.protocol import Context, UdpProtocol
    from icewatch.listener.stats import ListenerStats

    class FullSocket:
        def sendto(self, data: bytes, addr: object) -> int:
            raise BlockingIOError(errno.EAGAIN, "full")

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", 3478)

    async def scenario() -> None:
        ctx = Context(CFG, lambda _o: None, lambda: 1e9, ListenerLimits(), ListenerStats())
        proto = UdpProtocol(ctx)
        proto.attach_socket(FullSocket())  # type: ignore[arg-type]
        proto.datagram_received(binding(), ("127.0.0.1", 5000))
        assert ctx.stats.reply_drops == 1
        assert ctx.stats.replies["binding-success"] == 1

    run(scenario)


def test_datagram_protocol_works_on_an_asyncio_transport(run: Runner) -> None:
    # UdpProtocol is a plain DatagramProtocol too (junk fed straight to it, then a reply)
    from icewatch.listener.protocol import Context, UdpProtocol
    from icewatch.listener.stats import ListenerStats

    async def scenario() -> None:
        ctx = Context(CFG, lambda _o: None, lambda: 1e9, ListenerLimits(), ListenerStats())
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: UdpProtocol(ctx), local_addr=("127.0.0.1", 0)
        )
        client = UdpClient("127.0.0.1", transport.get_extra_info("sockname")[1])
        try:
            proto.datagram_received(struct.pack("!I", 7), ("127.0.0.1", 1))
            client.send(binding())
            assert decode_message(await client.recv()).msg_class == MessageClass.SUCCESS
            assert ctx.stats.drops["not-stun"] == 1
        finally:
            client.close()
            transport.close()

    run(scenario)
