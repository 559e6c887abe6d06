"""TCP framing as a property: however a stream is cut into reads, the same answers.

The transport is the OS edge, replaced by a recorder; everything above it (framing,
ChannelData skipping, the core handler) is the real code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.listener.helpers import CFG, binding

from icewatch.core.stun import (
    MessageClass,
    Method,
    build_message,
    decode_message,
    encode_channel_data,
)
from icewatch.listener.protocol import Context, TcpProtocol
from icewatch.listener.stats import ListenerLimits, ListenerStats


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("192.0.2.9", 50000), "sockname": ("192.0.2.1", 3478)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 0

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


def _frames(out: bytes) -> list[tuple[int, int, bytes]]:
    found: list[tuple[int, int, bytes]] = []
    while out:
        size = 20 + int.from_bytes(out[2:4], "big")
        msg = decode_message(out[:size])
        found.append((msg.method, msg.msg_class, msg.transaction_id))
        out = out[size:]
    return found


_TID = st.binary(min_size=12, max_size=12)
_PIECES = st.lists(
    st.one_of(
        st.tuples(st.just("stun"), _TID),
        st.builds(lambda n: ("channel", n), st.integers(min_value=0, max_value=9000)),
        st.tuples(st.just("indication"), _TID),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(pieces=_PIECES, cuts=st.lists(st.integers(min_value=1, max_value=700), max_size=40))
def test_any_split_gives_the_same_answers(pieces: list[tuple[str, Any]], cuts: list[int]) -> None:
    stream = b""
    expected = []
    for kind, value in pieces:
        if kind == "stun":
            stream += binding(value)
            expected.append((Method.BINDING, MessageClass.SUCCESS, value))
        elif kind == "channel":
            stream += encode_channel_data(0x4000 + value % 0x1000, bytes(value), tcp=True)
        else:
            stream += build_message(Method.BINDING, MessageClass.INDICATION, value)

    async def scenario() -> tuple[bytes, ListenerStats, bool]:
        stats = ListenerStats()
        ctx = Context(CFG, lambda _o: None, lambda: 1e9, ListenerLimits(), stats)
        proto = TcpProtocol(ctx)
        transport = RecordingTransport()
        proto.connection_made(transport)
        pos = 0
        for cut in [*cuts, len(stream)]:
            if pos >= len(stream):
                break
            proto.data_received(stream[pos : pos + cut])
            pos += cut
        if pos < len(stream):
            proto.data_received(stream[pos:])
        proto.connection_lost(None)
        return bytes(transport.written), stats, transport.aborted

    written, stats, aborted = asyncio.run(scenario())
    assert not aborted
    assert _frames(written) == expected
    assert stats.frames == len(pieces)
    assert stats.tcp_open == 0
