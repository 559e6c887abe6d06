"""aioice, an independent STUN/TURN client, against the listener on loopback.

aioice's TURN client does the whole long-term-credential dance on its own: Allocate,
401 with REALM and NONCE, Allocate again with MESSAGE-INTEGRITY. It only accepts a
response to the authenticated request if the response's MESSAGE-INTEGRITY verifies with
its key (RFC 8489 §9.2.5), so a 403 reaching it as ``TransactionFailed`` proves our
signed refusal is right; an unsigned or mis-signed one would time out instead.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from aioice import stun as aioice_stun
from aioice.turn import create_turn_endpoint
from tests.listener.conftest import Runner
from tests.listener.helpers import CFG, start

from icewatch.core.evidence import StunKind
from icewatch.core.session import make_session_id, session_turn_credential


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_aioice_turn_client_is_refused_after_authenticating(run: Runner, transport: str) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        session = make_session_id(os.urandom(16))
        username, password = session_turn_credential(CFG.secret, session, int(time.time()) + 60)
        try:
            with pytest.raises(aioice_stun.TransactionFailed) as info:
                await create_turn_endpoint(
                    asyncio.DatagramProtocol,
                    server_addr=("127.0.0.1", listener.port),
                    username=username,
                    password=password,
                    transport=transport,
                )
            assert info.value.response.error_code == 403
            assert [o.kind for o in seen] == [StunKind.ALLOCATE, StunKind.ALLOCATE_AUTHENTICATED]
            assert seen[1].session_id == session
            assert seen[1].transport == transport
            assert listener.stats.replies["allocate-403"] == 1
        finally:
            await listener.close()

    run(scenario)


def test_aioice_with_a_wrong_password_never_authenticates(run: Runner) -> None:
    async def scenario() -> None:
        listener, seen = await start()
        session = make_session_id(os.urandom(16))
        username, _ = session_turn_credential(CFG.secret, session, int(time.time()) + 60)
        try:
            with pytest.raises(aioice_stun.TransactionFailed) as info:
                await create_turn_endpoint(
                    asyncio.DatagramProtocol,
                    server_addr=("127.0.0.1", listener.port),
                    username=username,
                    password="forged",
                )
            assert info.value.response.error_code == 401
            assert [o.integrity for o in seen] == [None, "invalid"]
            assert all(o.session_id is None for o in seen)
            assert seen[1].username == username
        finally:
            await listener.close()

    run(scenario)


def test_aioice_binding(run: Runner) -> None:
    from aioice.turn import TurnClientUdpProtocol

    async def scenario() -> None:
        listener, seen = await start()
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                ("127.0.0.1", listener.port),
                username=None,
                password=None,
                lifetime=600,
                channel_refresh_time=300,
            ),
            remote_addr=("127.0.0.1", listener.port),
        )
        try:
            request = aioice_stun.Message(
                message_method=aioice_stun.Method.BINDING,
                message_class=aioice_stun.Class.REQUEST,
            )
            response, _addr = await protocol.request(request)
            assert response.attributes["XOR-MAPPED-ADDRESS"] == transport.get_extra_info("sockname")
            assert seen[0].kind is StunKind.BINDING
        finally:
            transport.close()
            await listener.close()

    run(scenario)
