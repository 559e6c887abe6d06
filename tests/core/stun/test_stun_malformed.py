"""Malformed messages: each one raises StunParseError naming the field (and the offset)."""

from __future__ import annotations

import struct

import pytest

from icewatch.core.errors import StunParseError
from icewatch.core.stun import (
    MAX_ATTRIBUTES,
    AttrType,
    MessageClass,
    build_message,
    decode_attribute,
    decode_message,
    encode_message_type,
    typed_attributes,
)

TID = bytes(range(1, 13))
COOKIE = b"\x21\x12\xa4\x42"


def header(msg_type: int = 0x0001, length: int = 0, cookie: bytes = COOKIE) -> bytes:
    return struct.pack("!HH", msg_type, length) + cookie + TID


def with_attrs(*attrs: bytes, msg_type: int = 0x0001) -> bytes:
    body = b"".join(attrs)
    return header(msg_type, len(body)) + body


def attr(attr_type: int, value: bytes, pad: bool = True) -> bytes:
    out = struct.pack("!HH", attr_type, len(value)) + value
    if pad and len(value) % 4:
        out += bytes(4 - len(value) % 4)
    return out


MALFORMED: list[tuple[str, bytes, str, int | None]] = [
    ("empty", b"", "header", 0),
    ("short header", header()[:19], "header", 0),
    ("wrong magic cookie", header(cookie=b"\x21\x12\xa4\x43"), "magic cookie", 4),
    # the cookie is checked before the type bits and the length
    ("cookie before type bits", header(0xC001, 3, b"\0\0\0\0"), "magic cookie", 4),
    ("top two bits set", header(0x8001), "message type", 0),
    ("top bit 01", header(0x4001), "message type", 0),
    ("length not multiple of 4", header(length=2) + b"\0\0", "length", 2),
    ("declared length longer", header(length=8) + b"\0\0\0\0", "length", 2),
    ("declared length shorter", header(length=0) + b"\0\0\0\0", "length", 2),
    (
        "attribute value past the end",
        header(length=8) + struct.pack("!HH", 0x8022, 5) + b"abcd",
        "attribute 0x8022",
        20,
    ),
    (
        "huge attribute length",
        header(length=4) + struct.pack("!HH", 0x0006, 0xFFFF),
        "attribute 0x0006",
        20,
    ),
    (
        "second attribute runs past the end",
        header(length=12) + attr(0x0024, b"\0\0\0\1") + struct.pack("!HH", 0x0006, 1),
        "attribute 0x0006",
        28,
    ),
    (
        "value fits but its padding does not",
        header(length=8) + struct.pack("!HH", 0x8022, 5) + b"abcd",
        "attribute 0x8022",
        20,
    ),
    (
        "fingerprint not last",
        with_attrs(attr(0x8028, b"\0\0\0\0"), attr(0x8022, b"x")),
        "fingerprint",
        20,
    ),
    (
        "fingerprint twice",
        with_attrs(attr(0x8028, b"\0\0\0\0"), attr(0x8028, b"\0\0\0\0")),
        "fingerprint",
        20,
    ),
    (
        "fingerprint before integrity",
        with_attrs(attr(0x8028, b"\0\0\0\0"), attr(0x0008, bytes(20))),
        "fingerprint",
        20,
    ),
    (
        "too many attributes",
        with_attrs(*[attr(0x8022, b"")] * (MAX_ATTRIBUTES + 1)),
        "attributes",
        20 + 4 * MAX_ATTRIBUTES,
    ),
    (
        "too many attributes after integrity",
        with_attrs(attr(0x0008, bytes(20)), *[attr(0x8022, b"")] * MAX_ATTRIBUTES),
        "attributes",
        20 + 24 + 4 * (MAX_ATTRIBUTES - 1),
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "field", "offset"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed(case: str, data: bytes, field: str, offset: int | None) -> None:
    with pytest.raises(StunParseError) as info:
        decode_message(data)
    assert info.value.field == field, case
    assert info.value.offset == offset, case
    assert field in str(info.value)


def test_exactly_max_attributes_is_fine() -> None:
    msg = decode_message(with_attrs(*[attr(0x8022, b"")] * MAX_ATTRIBUTES))
    assert len(msg.attributes) == MAX_ATTRIBUTES


def test_bytearray_and_memoryview_accepted() -> None:
    data = build_message(1, 0, TID, [(0x8022, b"hi")], fingerprint=True)
    assert decode_message(bytearray(data)).raw == data
    assert decode_message(memoryview(data)).raw == data


def test_unknown_method_kept_as_int() -> None:
    msg = decode_message(header(encode_message_type(0xFEF, MessageClass.INDICATION)))
    assert msg.method == 0xFEF
    assert msg.msg_class is MessageClass.INDICATION
    assert msg.method_name == "0xfef"


# --- after MESSAGE-INTEGRITY: kept, marked, skipped by get() -----------------------------


def test_attributes_after_integrity_are_marked_and_skipped() -> None:
    data = with_attrs(
        attr(0x0006, b"user"),
        attr(0x0008, bytes(20)),
        attr(0x0012, bytes(8)),  # XOR-PEER-ADDRESS after MI: unauthenticated
        attr(0x001C, bytes(32)),  # MI-SHA256 after MI: allowed
        attr(0x8022, b"late"),
        attr(0x8028, bytes(4)),  # FINGERPRINT: allowed
    )
    msg = decode_message(data)
    assert msg.after_integrity == (2, 4)
    assert msg.get(AttrType.XOR_PEER_ADDRESS) is None
    assert msg.get(AttrType.SOFTWARE) is None
    assert msg.get(AttrType.MESSAGE_INTEGRITY_SHA256) is not None
    assert msg.get(AttrType.FINGERPRINT) is not None
    assert AttrType.USERNAME in msg
    assert AttrType.SOFTWARE not in msg
    assert len(msg.get_all(AttrType.SOFTWARE)) == 1
    flags = [i.after_integrity for i in typed_attributes(msg)]
    assert flags == [False, False, True, False, True, False]


def test_after_sha256_only_fingerprint_counts() -> None:
    data = with_attrs(attr(0x001C, bytes(32)), attr(0x0008, bytes(20)), attr(0x8028, bytes(4)))
    msg = decode_message(data)
    assert msg.after_integrity == (1,)
    assert msg.get(AttrType.MESSAGE_INTEGRITY) is None


def test_duplicate_attribute_first_wins() -> None:
    msg = decode_message(with_attrs(attr(0x8022, b"one"), attr(0x8022, b"two")))
    first = msg.get(AttrType.SOFTWARE)
    assert first is not None
    assert first.value == b"one"


# --- typed codecs: wrong sizes and bad text raise StunParseError, the message survives ---

TYPED_BAD: list[tuple[int, bytes, str]] = [
    (0x0024, b"\0\0", "priority"),
    (0x0024, b"\0\0\0\0\0", "priority"),
    (0x8029, b"\0" * 4, "ice-controlled"),
    (0x802A, b"\0" * 9, "ice-controlling"),
    (0x0020, b"\x00\x03\x00\x00" + bytes(4), "xor-mapped-address"),
    (0x0020, b"\x00\x01\x00\x00" + bytes(16), "xor-mapped-address"),
    (0x0020, b"\x00\x02\x00\x00" + bytes(4), "xor-mapped-address"),
    (0x0020, b"\x00", "xor-mapped-address"),
    (0x0001, b"\x00\x00\x00\x00\x00\x00\x00\x00", "mapped-address"),
    (0x802B, b"\x00\x01\x00", "response-origin"),
    (0x0006, b"\xff\xfe", "username"),
    (0x0006, b"a" * 513, "username"),
    (0x0014, b"\xc3", "realm"),
    (0x0015, b"\xe3\x83", "nonce"),
    (0x8022, b"\x80", "software"),
    (0x0009, b"\0\0\x02\x00", "error-code"),
    (0x0009, b"\0\0\x04\x64", "error-code"),
    (0x0009, b"\0\0\x04", "error-code"),
    (0x0009, b"\0\0\x04\x01\xff", "error-code"),
    (0x000A, b"\0\0\0", "unknown-attributes"),
    (0x0008, bytes(19), "message-integrity"),
    (0x001C, bytes(15), "message-integrity-sha256"),
    (0x001C, bytes(18), "message-integrity-sha256"),
    (0x8028, bytes(3), "fingerprint"),
    (0x0019, b"\x11", "requested-transport"),
    (0x000C, b"\x40\x00", "channel-number"),
    (0x000D, b"\0", "lifetime"),
    (0x0025, b"\0", "use-candidate"),
    (0x001A, b"\0\0\0\0", "dont-fragment"),
    (0xC057, b"\0\0", "goog-network-info"),
    (0x0017, b"\x03\0\0\0", "requested-address-family"),
    (0x0018, b"", "even-port"),
    (0x0022, bytes(7), "reservation-token"),
    (0x001E, bytes(31), "userhash"),
    (0x8002, b"\0\1\0\x08", "password-algorithms"),
    (0x001D, b"\0\1\0\0\0\2\0\0", "password-algorithm"),
    (0x8004, bytes(4), "icmp"),
    (0x8001, b"\x01\x00", "address-error-code"),
]


@pytest.mark.parametrize(("attr_type", "value", "field"), TYPED_BAD)
def test_typed_codec_rejects(attr_type: int, value: bytes, field: str) -> None:
    with pytest.raises(StunParseError) as info:
        decode_attribute(attr_type, value, TID)
    assert info.value.field == field
    # the message itself decodes; the typed view notes the error and keeps the raw value
    msg = decode_message(with_attrs(attr(attr_type, value)))
    (described,) = typed_attributes(msg)
    assert described.error is not None
    assert described.value is None
    assert described.raw == value
