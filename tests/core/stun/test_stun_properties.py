"""Properties: any bytes give a message or one StunParseError; encode/decode round-trips."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from icewatch.core.errors import IntegrityError, StunParseError
from icewatch.core.stun import (
    HEADER_SIZE,
    AttrType,
    MessageClass,
    build_message,
    decode_channel_data,
    decode_message,
    encode_message,
    frame_length,
    typed_attributes,
    verify_fingerprint,
    verify_message_integrity,
    verify_message_integrity_sha256,
)

KNOWN_TYPES = [int(t) for t in AttrType]
COOKIE = b"\x21\x12\xa4\x42"


def _exercise(msg_bytes: bytes) -> None:
    """Decode, then run every lazy path: none may raise anything but the documented errors."""
    try:
        msg = decode_message(msg_bytes)
    except StunParseError:
        return
    assert msg.raw == msg_bytes
    for info in typed_attributes(msg):
        assert (info.error is None) or (info.value is None)
    for check in (verify_fingerprint,):
        with contextlib.suppress(IntegrityError):
            check(msg)
    for verify in (verify_message_integrity, verify_message_integrity_sha256):
        with contextlib.suppress(IntegrityError):
            verify(msg, b"key")
    assert decode_message(encode_message(msg)).attributes == msg.attributes


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    _exercise(data)


attribute = st.tuples(
    st.one_of(st.sampled_from(KNOWN_TYPES), st.integers(0, 0xFFFF)),
    st.binary(max_size=40),
)


@st.composite
def stun_like(draw: st.DrawFn) -> bytes:
    """Mostly well-formed messages with random attributes, then maybe one byte flipped."""
    attrs = draw(st.lists(attribute, max_size=8))
    body = b""
    for attr_type, value in attrs:
        body += struct.pack("!HH", attr_type, len(value)) + value + bytes(-len(value) % 4)
    msg_type = draw(st.integers(0, 0x3FFF))
    data = (
        struct.pack("!HH", msg_type, len(body)) + COOKIE + draw(st.binary(min_size=12, max_size=12))
    )
    data += body
    if draw(st.booleans()) and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    return data


@settings(max_examples=500)
@given(stun_like())
def test_stun_like_bytes(data: bytes) -> None:
    _exercise(data)


@settings(max_examples=300)
@given(
    method=st.integers(0, 0xFFF),
    msg_class=st.sampled_from(list(MessageClass)),
    tid=st.binary(min_size=12, max_size=12),
    attrs=st.lists(
        attribute.filter(
            lambda a: a[0] not in (0x0008, 0x001C, 0x8028)  # the builder adds these
        ),
        max_size=10,
    ),
    key=st.one_of(st.none(), st.binary(min_size=1, max_size=32)),
    key256=st.one_of(st.none(), st.binary(min_size=1, max_size=32)),
    fingerprint=st.booleans(),
)
def test_built_messages_round_trip(
    method: int,
    msg_class: MessageClass,
    tid: bytes,
    attrs: list[tuple[int, bytes]],
    key: bytes | None,
    key256: bytes | None,
    fingerprint: bool,
) -> None:
    data = build_message(
        method,
        msg_class,
        tid,
        attrs,
        integrity_key=key,
        integrity_sha256_key=key256,
        fingerprint=fingerprint,
    )
    msg = decode_message(data)
    assert (msg.method, msg.msg_class, msg.transaction_id) == (method, msg_class, tid)
    n = len(attrs)
    assert [(a.type, a.value) for a in msg.attributes[:n]] == attrs
    assert msg.after_integrity == ()
    if key is not None:
        assert verify_message_integrity(msg, key)
    if key256 is not None:
        assert verify_message_integrity_sha256(msg, key256)
    if fingerprint:
        assert verify_fingerprint(msg)
    # decode → encode → decode keeps every attribute (integrity ones as raw values)
    again = decode_message(encode_message(msg))
    assert again.attributes == msg.attributes
    assert again.raw == data


@settings(max_examples=300)
@given(st.binary(max_size=64), st.booleans())
def test_framing_and_channel_data_never_crash(data: bytes, tcp: bool) -> None:
    try:
        length = frame_length(data)
    except StunParseError:
        pass
    else:
        assert length is None or length >= 4
        if length is not None and data[0] < 0x40:
            assert length >= HEADER_SIZE
    with contextlib.suppress(StunParseError):
        decode_channel_data(data, tcp=tcp)
