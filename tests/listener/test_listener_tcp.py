"""The listener over TCP (RFC 8489 §6.2.2 framing), on real loopback sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time

from tests.listener.conftest import Runner
from tests.listener.helpers import CFG, binding, closed_by_peer, mapped, read_frame, start

from icewatch.core.evidence import StunKind
from icewatch.core.session import make_session_id, session_turn_credential
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    TransportAddress,
    build_message,
    encode_channel_data,
    encode_requested_transport,
    encode_text,
    long_term_key,
    verify_message_integrity,
)
from icewatch.listener import ListenerLimits

ALLOCATE = build_message(
    Method.ALLOCATE,
    MessageClass.REQUEST,
    bytes(range(12)),
    [(AttrType.REQUESTED_TRANSPORT, encode_requested_transport(6))],
)


def test_frames_split_across_writes(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            tid = os.urandom(12)
            data = binding(tid)
            for i in range(len(data)):  # one byte per write
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.002)
            msg = await read_frame(reader)
            assert msg.transaction_id == tid
            host, port = writer.get_extra_info("sockname")[:2]
            assert mapped(msg) == TransportAddress(ipaddress.ip_address(host), port)
            assert seen[0].transport == "tcp"
            assert (str(seen[0].ip), seen[0].port) == (host, port)
            assert listener.stats.frames == 1
        finally:
            writer.close()
            await listener.close()

    run(scenario)


def test_several_frames_in_one_write_with_channel_data(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start()
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            tids = [os.urandom(12) for _ in range(3)]
            stream = (
                binding(tids[0])
                + encode_channel_data(0x4000, b"abc", tcp=True)  # padded to 4 over TCP
                + ALLOCATE
                + encode_channel_data(0x4ABC, os.urandom(10_000), tcp=True)  # > max frame
                + binding(tids[1])
                + build_message(Method.BINDING, MessageClass.INDICATION, tids[2])
                + binding(tids[2])
            )
            writer.write(stream)
            await writer.drain()
            answers = [await read_frame(reader) for _ in range(4)]
            assert [(m.method, m.msg_class) for m in answers] == [
                (Method.BINDING, MessageClass.SUCCESS),
                (Method.ALLOCATE, MessageClass.ERROR),
                (Method.BINDING, MessageClass.SUCCESS),
                (Method.BINDING, MessageClass.SUCCESS),
            ]
            assert [answers[i].transaction_id for i in (0, 2, 3)] == tids
            assert listener.stats.drops["channel-data"] == 2
            assert listener.stats.drops["indication"] == 1
            assert listener.stats.frames == 7
            assert listener.stats.tcp_open == 1  # ChannelData is tolerated, not fatal
        finally:
            writer.close()
            await listener.close()

    run(scenario)


def test_turn_over_tcp_records_the_peer_and_the_session(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            writer.write(ALLOCATE)
            challenge = await read_frame(reader)
            nonce = challenge.get(AttrType.NONCE)
            assert nonce is not None
            session = make_session_id(os.urandom(16))
            username, password = session_turn_credential(CFG.secret, session, int(time.time()) + 60)
            key = long_term_key(username, CFG.realm, password)
            writer.write(
                build_message(
                    Method.ALLOCATE,
                    MessageClass.REQUEST,
                    os.urandom(12),
                    [
                        (AttrType.REQUESTED_TRANSPORT, encode_requested_transport(17)),
                        (AttrType.USERNAME, encode_text(username)),
                        (AttrType.REALM, encode_text(CFG.realm)),
                        (AttrType.NONCE, nonce.value),
                    ],
                    integrity_key=key,
                    fingerprint=True,
                )
            )
            refused = await read_frame(reader)
            assert refused.msg_class == MessageClass.ERROR
            assert verify_message_integrity(refused, key)
            obs = seen[-1]
            host, port = writer.get_extra_info("sockname")[:2]
            assert obs.kind is StunKind.ALLOCATE_AUTHENTICATED
            assert (obs.session_id, obs.transport, str(obs.ip), obs.port) == (
                session,
                "tcp",
                host,
                port,
            )
            assert obs.local_port == listener.port
        finally:
            writer.close()
            await listener.close()

    run(scenario)


def test_oversized_and_unframeable_streams_are_closed(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start(limits=ListenerLimits(tcp_max_frame=512))
        try:
            big = build_message(
                Method.BINDING, MessageClass.REQUEST, bytes(12), [(0x8022, bytes(600))]
            )
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(big[:24])  # the header alone announces too much
            assert await closed_by_peer(reader, 2.0)
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(b"\x16\x03\x01\x02\x00\x01")  # TLS: length not a multiple of 4
            assert await closed_by_peer(reader, 2.0)
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(b"\x80\x00\x00\x10" + bytes(16))  # RTP-like: neither STUN nor channel
            assert await closed_by_peer(reader, 2.0)
            writer.close()
            await asyncio.sleep(0.05)
            closed = listener.stats.tcp_closed
            assert (closed["oversize"], closed["bad-frame"]) == (1, 2)
            assert listener.stats.tcp_open == 0
        finally:
            await listener.close()

    run(scenario)


def test_slow_loris_connections_are_closed(run: Runner) -> None:
    async def scenario() -> None:
        timeout = 0.4
        listener, _ = await start(limits=ListenerLimits(tcp_idle_timeout=timeout))
        try:
            loop = asyncio.get_running_loop()
            # silent
            t0 = loop.time()
            silent_r, silent_w = await asyncio.open_connection("127.0.0.1", listener.port)
            # half a frame, then one byte every 0.1 s: bytes arrive, no frame completes
            loris_r, loris_w = await asyncio.open_connection("127.0.0.1", listener.port)
            frame = binding()
            loris_w.write(frame[:10])

            async def trickle() -> None:
                for i in range(10, len(frame) - 1):
                    await asyncio.sleep(0.1)
                    if loris_w.is_closing():
                        return
                    loris_w.write(frame[i : i + 1])

            trickling = asyncio.create_task(trickle())
            # an honest client completing a frame every 0.25 s stays open
            good_r, good_w = await asyncio.open_connection("127.0.0.1", listener.port)

            async def honest() -> int:
                answered = 0
                for _ in range(6):
                    good_w.write(binding())
                    answered += (await read_frame(good_r)).msg_class == MessageClass.SUCCESS
                    await asyncio.sleep(0.25)
                return answered

            talking = asyncio.create_task(honest())
            assert await closed_by_peer(silent_r, 3.0)
            assert await closed_by_peer(loris_r, 3.0)
            elapsed = loop.time() - t0
            # uvloop's timers have millisecond resolution: allow for it below the deadline
            assert timeout - 0.005 <= elapsed < timeout + 1.5
            assert await talking == 6  # 1.5 s, well past the timeout, never closed
            assert not good_w.is_closing()
            assert listener.stats.tcp_closed["idle"] == 2
            assert listener.stats.tcp_open == 1
            trickling.cancel()
            for w in (silent_w, loris_w, good_w):
                w.close()
        finally:
            await listener.close()

    run(scenario)


def test_connection_cap(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start(limits=ListenerLimits(tcp_max_connections=3))
        try:
            conns = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(3)]
            for r, w in conns:
                w.write(binding())
                assert (await read_frame(r)).msg_class == MessageClass.SUCCESS
            extra_r, extra_w = await asyncio.open_connection("127.0.0.1", listener.port)
            assert await closed_by_peer(extra_r, 2.0)
            assert listener.stats.tcp_refused == 1
            extra_w.close()
            conns[0][1].close()
            await asyncio.sleep(0.1)
            r, w = await asyncio.open_connection("127.0.0.1", listener.port)
            w.write(binding())
            assert (await read_frame(r)).msg_class == MessageClass.SUCCESS
            w.close()
            for _, w in conns[1:]:
                w.close()
        finally:
            await listener.close()

    run(scenario)


def test_close_ends_open_connections(run: Runner) -> None:
    async def scenario() -> None:
        listener, _ = await start()
        conns = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(5)]
        for r, w in conns:
            w.write(binding())
            await read_frame(r)
        await listener.close()
        for r, w in conns:
            assert await closed_by_peer(r, 2.0)
            w.close()
        assert listener.stats.tcp_open == 0
        assert listener.stats.tcp_closed["shutdown"] == 5
        try:
            await asyncio.open_connection("127.0.0.1", listener.port)
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("still accepting after close()")

    run(scenario)
