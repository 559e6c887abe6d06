"""Typed codecs, constants, credentials and TCP/ChannelData framing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress

import pytest

from icewatch.core.errors import IntegrityError, StunParseError
from icewatch.core.stun import (
    ERROR_REASONS,
    AttrType,
    ErrorCode,
    ErrorCodeValue,
    MessageClass,
    Method,
    NetworkInfo,
    TransportAddress,
    attribute_name,
    build_message,
    comprehension_required,
    decode_address,
    decode_attribute,
    decode_channel_data,
    decode_error_code,
    decode_message,
    decode_message_type,
    decode_network_info,
    decode_xor_address,
    encode_address,
    encode_channel_data,
    encode_error_code,
    encode_message_type,
    encode_network_info,
    encode_xor_address,
    frame_length,
    is_stun,
    long_term_key,
    parse_turn_rest_username,
    prepare_password,
    short_term_key,
    turn_rest_expired,
    turn_rest_password,
    turn_rest_username,
    verify_fingerprint,
    verify_message_integrity,
    verify_message_integrity_sha256,
)

TID = bytes(range(12))


def test_constants_match_the_ground_truth() -> None:
    assert Method.BINDING.value == 0x001
    assert Method.CHANNEL_BIND.value == 0x009
    assert AttrType.GOOG_NETWORK_INFO.value == 0xC057
    assert AttrType.PASSWORD_ALGORITHMS.value == 0x8002
    assert AttrType.XOR_RELAYED_ADDRESS.value == 0x0016
    assert comprehension_required(AttrType.USE_CANDIDATE)
    assert not comprehension_required(AttrType.SOFTWARE)
    assert attribute_name(0x0020) == "xor-mapped-address"
    assert attribute_name(0xC0FF) is None
    assert set(ERROR_REASONS) == {int(c) for c in ErrorCodeValue}
    assert ERROR_REASONS[438] == "Stale Nonce"


@pytest.mark.parametrize("method", [0x000, 0x001, 0x009, 0xABC, 0xFFF])
@pytest.mark.parametrize("msg_class", list(MessageClass))
def test_message_type_round_trip(method: int, msg_class: MessageClass) -> None:
    assert decode_message_type(encode_message_type(method, msg_class)) == (method, msg_class)


def test_known_message_types() -> None:
    assert encode_message_type(Method.BINDING, MessageClass.SUCCESS) == 0x0101
    assert encode_message_type(Method.BINDING, MessageClass.ERROR) == 0x0111
    assert encode_message_type(Method.ALLOCATE, MessageClass.ERROR) == 0x0113
    assert encode_message_type(Method.SEND, MessageClass.INDICATION) == 0x0016


@pytest.mark.parametrize(
    "address",
    [
        TransportAddress(ipaddress.IPv4Address("10.77.1.2"), 0),
        TransportAddress(ipaddress.IPv4Address("255.255.255.255"), 65535),
        TransportAddress(ipaddress.IPv6Address("fd77:1::2"), 3478),
    ],
    ids=str,
)
def test_address_codecs_round_trip(address: TransportAddress) -> None:
    assert decode_address(encode_address(address)) == address
    assert decode_xor_address(encode_xor_address(address, TID), TID) == address
    assert encode_xor_address(address, TID) != encode_address(address)


def test_transport_address_str() -> None:
    assert str(TransportAddress(ipaddress.ip_address("2001:db8::1"), 80)) == "[2001:db8::1]:80"
    assert str(TransportAddress(ipaddress.ip_address("192.0.2.1"), 80)) == "192.0.2.1:80"


def test_error_code() -> None:
    assert decode_error_code(encode_error_code(401)) == ErrorCode(401, "Unauthenticated")
    assert decode_error_code(encode_error_code(699, "x")) == ErrorCode(699, "x")
    assert encode_error_code(420, "") == b"\0\0\x04\x14"
    with pytest.raises(ValueError, match="outside"):
        encode_error_code(700)


def test_network_info_layout() -> None:
    # libwebrtc: network id in the high 16 bits, cost in the low 16 bits
    assert decode_network_info(bytes.fromhex("0001 03e7")) == NetworkInfo(1, 999)
    assert encode_network_info(NetworkInfo(3, 10)) == bytes.fromhex("0003000a")


def test_unknown_attribute_is_raw() -> None:
    assert decode_attribute(0xC0FF, b"\x01\x02", TID) == b"\x01\x02"
    assert decode_attribute(AttrType.USE_CANDIDATE, b"", TID) is None


def test_integrity_absent_raises() -> None:
    msg = decode_message(build_message(1, 0, TID))
    with pytest.raises(IntegrityError):
        verify_fingerprint(msg)
    with pytest.raises(IntegrityError):
        verify_message_integrity(msg, b"k")
    with pytest.raises(IntegrityError):
        verify_message_integrity_sha256(msg, b"k")


def test_tampered_message_fails_checks() -> None:
    data = build_message(1, 0, TID, [(0x8022, b"abcd")], integrity_key=b"k", fingerprint=True)
    bad = bytearray(data)
    bad[25] ^= 1  # inside SOFTWARE
    msg = decode_message(bytes(bad))
    assert not verify_fingerprint(msg)
    assert not verify_message_integrity(msg, b"k")


def test_sha256_integrity_and_truncation() -> None:
    data = build_message(1, 0, TID, [(0x8022, b"x")], integrity_sha256_key=b"key")
    msg = decode_message(data)
    assert verify_message_integrity_sha256(msg, b"key")
    assert not verify_message_integrity_sha256(msg, b"other")
    # a truncated (16-byte) MI-SHA256 computed by hand with the length adjusted
    body = bytes.fromhex("80220001") + b"x\0\0\0"
    length = len(body) + 4 + 16
    head = bytes.fromhex("0001") + length.to_bytes(2, "big") + bytes.fromhex("2112a442") + TID
    mac = hmac.new(b"key", head + body, hashlib.sha256).digest()[:16]
    msg = decode_message(head + body + bytes.fromhex("001c0010") + mac)
    assert verify_message_integrity_sha256(msg, b"key")


def test_password_preparation() -> None:
    assert prepare_password("The\u00adM\u00aatr\u2168") == "TheMatrIX"
    assert prepare_password("a\u00a0b") == "a b"
    assert short_term_key("pässword") == "pässword".encode()
    with pytest.raises(ValueError, match="prohibited"):
        prepare_password("bad\x07")
    with pytest.raises(ValueError, match="prohibited"):
        prepare_password("bad\ue000")


def test_long_term_key_algorithms() -> None:
    assert long_term_key("u", "r", "p") == hashlib.md5(b"u:r:p").digest()  # noqa: S324
    assert long_term_key("u", "r", "p", sha256=True) == hashlib.sha256(b"u:r:p").digest()


def test_turn_rest_credentials() -> None:
    username = turn_rest_username(1795825926, "alice")
    assert username == "1795825926:alice"
    expected = base64.b64encode(hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest())
    assert turn_rest_password(b"s3cret", username) == expected.decode()
    assert parse_turn_rest_username(username) == (1795825926, "alice")
    assert parse_turn_rest_username("123:a:b") == (123, "a:b")
    assert parse_turn_rest_username("123") == (123, "")
    assert turn_rest_expired(username, now=1795825926)
    assert not turn_rest_expired(username, now=1795825925)
    for garbage in ("", ":x", "abc:x", "-1:x", "1e5:x", "\uff11\uff12:x", "1" * 13 + ":x"):
        with pytest.raises(StunParseError) as info:
            parse_turn_rest_username(garbage)
        assert info.value.field == "username"


# --- framing ---------------------------------------------------------------------------


def test_frame_length() -> None:
    data = build_message(1, 0, TID, [(0x8022, b"hello")])
    assert frame_length(data[:3]) is None
    assert frame_length(data[:4]) == len(data)
    assert frame_length(encode_channel_data(0x4000, b"abcde", tcp=True)[:4]) == 12
    assert frame_length(b"\x7f\xff\x00\x00") == 4
    with pytest.raises(StunParseError) as info:
        frame_length(b"\x80\x00\x00\x00")
    assert info.value.field == "frame"
    with pytest.raises(StunParseError) as info:
        frame_length(b"\x00\x01\x00\x03")
    assert info.value.field == "length"


def test_channel_data() -> None:
    udp = encode_channel_data(0x4001, b"abcde")
    assert len(udp) == 9
    assert decode_channel_data(udp).data == b"abcde"
    assert decode_channel_data(udp + b"\0\0\0").channel == 0x4001
    tcp = encode_channel_data(0x4001, b"abcde", tcp=True)
    assert decode_channel_data(tcp, tcp=True).data == b"abcde"
    cases = [
        (b"\x40", False, "channel data header"),
        (b"\x50\x00\x00\x00", False, "channel number"),
        (b"\x00\x01\x00\x00", False, "channel number"),
        (b"\x40\x00\x00\x08abc", False, "channel data length"),
        (udp, True, "channel data length"),
        (udp + b"\0\0\0\0", False, "channel data length"),
    ]
    for data, over_tcp, field in cases:
        with pytest.raises(StunParseError) as info:
            decode_channel_data(data, tcp=over_tcp)
        assert info.value.field == field


def test_is_stun() -> None:
    assert is_stun(build_message(1, 0, TID))
    assert not is_stun(encode_channel_data(0x4000, bytes(20)))
    assert not is_stun(b"\x16\x03\x01" + bytes(30))


def test_builder_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="transaction id"):
        build_message(1, 0, b"short")
    with pytest.raises(ValueError, match="12 bits"):
        build_message(0x1000, 0, TID)
    with pytest.raises(ValueError, match="too long"):
        build_message(1, 0, TID, [(0x13, bytes(70000))])
    with pytest.raises(ValueError, match="exceeds"):
        build_message(1, 0, TID, [(0x13, bytes(65532))], fingerprint=True)
