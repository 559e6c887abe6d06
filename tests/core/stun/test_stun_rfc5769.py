"""RFC 5769 test vectors: decode, check every typed value, verify, and rebuild byte for byte."""

from __future__ import annotations

import ipaddress

import pytest
from tests.core.stun.stun_vectors import RFC5769, vector_bytes

from icewatch.core.errors import IntegrityError
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    TransportAddress,
    build_message,
    decode_attribute,
    decode_message,
    decode_xor_address,
    encode_xor_address,
    long_term_key,
    prepare_password,
    short_term_key,
    typed_attributes,
    verify_fingerprint,
    verify_message_integrity,
)

SHORT_KEY = short_term_key("VOkJxbRl1RmTxUk/WvJxBt")


def _value(name: str, attr: AttrType) -> object:
    msg = decode_message(vector_bytes(name))
    raw = msg.get(attr)
    assert raw is not None, attr
    return decode_attribute(raw.type, raw.value, msg.transaction_id)


def test_sample_request() -> None:
    v = RFC5769["sample_request"]
    msg = decode_message(vector_bytes("sample_request"))
    assert msg.method == Method.BINDING
    assert msg.method_name == "binding"
    assert msg.msg_class is MessageClass.REQUEST
    assert msg.transaction_id.hex() == "b7e7a701bc34d686fa87dfae"
    assert [a.type for a in msg.attributes] == [
        AttrType.SOFTWARE,
        AttrType.PRIORITY,
        AttrType.ICE_CONTROLLED,
        AttrType.USERNAME,
        AttrType.MESSAGE_INTEGRITY,
        AttrType.FINGERPRINT,
    ]
    assert [a.offset for a in msg.attributes] == [20, 40, 48, 60, 76, 100]
    assert _value("sample_request", AttrType.SOFTWARE) == v["software"]
    assert _value("sample_request", AttrType.PRIORITY) == v["priority"]
    assert _value("sample_request", AttrType.ICE_CONTROLLED) == int(v["ice_controlled"], 16)
    assert _value("sample_request", AttrType.USERNAME) == v["username"]
    assert msg.after_integrity == ()
    assert verify_fingerprint(msg)
    assert verify_message_integrity(msg, SHORT_KEY)
    assert not verify_message_integrity(msg, short_term_key("wrong"))


@pytest.mark.parametrize("name", ["ipv4_response", "ipv6_response"])
def test_responses(name: str) -> None:
    v = RFC5769[name]
    msg = decode_message(vector_bytes(name))
    assert msg.msg_class is MessageClass.SUCCESS
    assert msg.method == Method.BINDING
    assert _value(name, AttrType.SOFTWARE) == v["software"]
    ip, port = v["mapped"]
    expected = TransportAddress(ipaddress.ip_address(ip), port)
    assert _value(name, AttrType.XOR_MAPPED_ADDRESS) == expected
    assert verify_fingerprint(msg)
    assert verify_message_integrity(msg, SHORT_KEY)
    raw = msg.get(AttrType.XOR_MAPPED_ADDRESS)
    assert raw is not None
    assert encode_xor_address(expected, msg.transaction_id) == raw.value
    assert decode_xor_address(raw.value, msg.transaction_id) == expected


def test_long_term_request() -> None:
    v = RFC5769["long_term_request"]
    msg = decode_message(vector_bytes("long_term_request"))
    assert _value("long_term_request", AttrType.USERNAME) == v["username"]
    assert _value("long_term_request", AttrType.NONCE) == v["nonce"]
    assert _value("long_term_request", AttrType.REALM) == v["realm"]
    assert prepare_password(v["password"]) == v["password_prepared"] == "TheMatrIX"
    key = long_term_key(v["username"], v["realm"], v["password"])
    assert key == long_term_key(v["username"], v["realm"], "TheMatrIX")
    assert verify_message_integrity(msg, key)
    assert not verify_message_integrity(msg, long_term_key(v["username"], v["realm"], "x"))
    with pytest.raises(IntegrityError):
        verify_fingerprint(msg)


@pytest.mark.parametrize("name", sorted(RFC5769))
def test_rebuild_byte_for_byte(name: str) -> None:
    """Our builder, fed the decoded attributes and the key, reproduces the RFC bytes."""
    v = RFC5769[name]
    data = vector_bytes(name)
    msg = decode_message(data)
    body = [
        (a.type, a.value)
        for a in msg.attributes
        if a.type not in (AttrType.MESSAGE_INTEGRITY, AttrType.FINGERPRINT)
    ]
    if name == "long_term_request":
        key = long_term_key(v["username"], v["realm"], v["password"])
    else:
        key = SHORT_KEY
    rebuilt = build_message(
        msg.method,
        msg.msg_class,
        msg.transaction_id,
        body,
        integrity_key=key,
        fingerprint=msg.get(AttrType.FINGERPRINT) is not None,
        pad_byte=v["pad_byte"],
    )
    assert rebuilt == data


@pytest.mark.parametrize("name", sorted(RFC5769))
def test_typed_attributes_have_no_errors(name: str) -> None:
    infos = typed_attributes(decode_message(vector_bytes(name)))
    assert all(i.error is None and i.known for i in infos)
    assert all(i.name for i in infos)
