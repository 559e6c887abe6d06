"""Cross-check with an independent implementation: aioice (test-only dependency)."""

from __future__ import annotations

import ipaddress

import pytest

from icewatch.core.stun import (
    AttrType,
    ErrorCode,
    MessageClass,
    Method,
    TransportAddress,
    build_message,
    decode_attribute,
    decode_message,
    encode_error_code,
    encode_priority,
    encode_text,
    encode_tie_breaker,
    encode_xor_address,
    long_term_key,
    verify_fingerprint,
    verify_message_integrity,
)

stun = pytest.importorskip("aioice.stun")

TID = bytes.fromhex("0102030405060708090a0b0c")
KEY = b"0123456789abcdef0123"

ADDRESSES = [
    TransportAddress(ipaddress.IPv4Address("203.0.113.7"), 54321),
    TransportAddress(ipaddress.IPv6Address("2001:db8::42"), 3478),
]


@pytest.mark.parametrize("address", ADDRESSES, ids=str)
def test_ours_encoded_aioice_decodes(address: TransportAddress) -> None:
    data = build_message(
        Method.BINDING,
        MessageClass.SUCCESS,
        TID,
        [
            (AttrType.XOR_MAPPED_ADDRESS, encode_xor_address(address, TID)),
            (AttrType.SOFTWARE, encode_text("icewatch")),
            (AttrType.PRIORITY, encode_priority(1853824767)),
            (AttrType.ICE_CONTROLLING, encode_tie_breaker(0x1122334455667788)),
            (AttrType.USE_CANDIDATE, b""),
        ],
        integrity_key=KEY,
        fingerprint=True,
    )
    msg = stun.parse_message(data)  # also checks FINGERPRINT, raising if wrong
    assert msg.message_method == stun.Method.BINDING
    assert msg.message_class == stun.Class.RESPONSE
    assert msg.transaction_id == TID
    assert msg.attributes["XOR-MAPPED-ADDRESS"] == (str(address.ip), address.port)
    assert msg.attributes["SOFTWARE"] == "icewatch"
    assert msg.attributes["PRIORITY"] == 1853824767
    assert msg.attributes["ICE-CONTROLLING"] == 0x1122334455667788
    assert "USE-CANDIDATE" in msg.attributes
    assert msg.check_message_integrity(KEY)
    assert not msg.check_message_integrity(b"other")


def test_ours_error_response_aioice_decodes() -> None:
    data = build_message(
        Method.ALLOCATE,
        MessageClass.ERROR,
        TID,
        [
            (AttrType.ERROR_CODE, encode_error_code(401)),
            (AttrType.REALM, encode_text("icewatch.test")),
            (AttrType.NONCE, b"abcdef0123456789"),
        ],
        fingerprint=True,
    )
    msg = stun.parse_message(data)
    assert msg.message_method == stun.Method.ALLOCATE
    assert msg.message_class == stun.Class.ERROR
    assert msg.attributes["ERROR-CODE"] == (401, "Unauthenticated")
    assert msg.attributes["REALM"] == "icewatch.test"


@pytest.mark.parametrize("address", ADDRESSES, ids=str)
def test_aioice_encoded_ours_decodes(address: TransportAddress) -> None:
    request = stun.Message(
        message_method=stun.Method.BINDING,
        message_class=stun.Class.REQUEST,
        transaction_id=TID,
    )
    request.attributes["USERNAME"] = "remote:local"
    request.attributes["PRIORITY"] = 1694498815
    request.attributes["ICE-CONTROLLED"] = 42
    request.attributes["XOR-PEER-ADDRESS"] = (str(address.ip), address.port)
    request.add_message_integrity(KEY)  # adds FINGERPRINT too
    data = bytes(request)
    msg = decode_message(data)
    assert msg.method == Method.BINDING
    assert msg.msg_class is MessageClass.REQUEST
    assert msg.transaction_id == TID
    types = [a.type for a in msg.attributes]
    assert types == [0x0006, 0x0024, 0x8029, 0x0012, 0x0008, 0x8028]
    values = {a.type: decode_attribute(a.type, a.value, TID) for a in msg.attributes}
    assert values[0x0006] == "remote:local"
    assert values[0x0024] == 1694498815
    assert values[0x8029] == 42
    assert values[0x0012] == address
    assert verify_message_integrity(msg, KEY)
    assert verify_fingerprint(msg)


def test_aioice_long_term_allocate_ours_verifies() -> None:
    key = long_term_key("1795825926:user", "icewatch.test", "secret")
    request = stun.Message(
        message_method=stun.Method.ALLOCATE,
        message_class=stun.Class.REQUEST,
        transaction_id=TID,
    )
    request.attributes["REQUESTED-TRANSPORT"] = 0x11000000
    request.attributes["USERNAME"] = "1795825926:user"
    request.attributes["REALM"] = "icewatch.test"
    request.attributes["NONCE"] = b"nonce-value"
    request.attributes["ERROR-CODE"] = (438, "Stale Nonce")
    request.add_message_integrity(key)
    msg = decode_message(bytes(request))
    assert msg.method == Method.ALLOCATE
    err = msg.get(AttrType.ERROR_CODE)
    assert err is not None
    assert decode_attribute(err.type, err.value, TID) == ErrorCode(438, "Stale Nonce")
    transport = msg.get(AttrType.REQUESTED_TRANSPORT)
    assert transport is not None
    assert decode_attribute(transport.type, transport.value, TID) == 17
    assert verify_message_integrity(msg, key)
    assert verify_fingerprint(msg)
