"""Every datagram real Chromium/Firefox exchanged with the test responder (tests/data/captures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.core.stun.stun_vectors import CAPTURES

from icewatch.core.errors import IntegrityError
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    decode_message,
    long_term_key,
    turn_rest_password,
    typed_attributes,
    verify_fingerprint,
    verify_message_integrity,
)


def test_captures_are_present() -> None:
    # the browser harness records these; an empty directory must not pass silently
    assert len(CAPTURES) >= 6


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_datagram_decodes_and_verifies(path: Path) -> None:
    capture = _load(path)
    turn = capture["turn"]
    key = long_term_key(turn["username"], turn["realm"], turn["password"])
    datagrams = [d for d in capture["datagrams"] if d.get("transport", "udp") == "udp"]
    assert datagrams
    seen_integrity = 0
    for datagram in datagrams:
        msg = decode_message(bytes.fromhex(datagram["hex"]))
        assert all(info.error is None and info.known for info in typed_attributes(msg))
        assert msg.after_integrity == ()
        try:
            assert verify_fingerprint(msg), datagram
        except IntegrityError:
            assert AttrType.FINGERPRINT not in msg
        if msg.get(AttrType.MESSAGE_INTEGRITY) is not None:
            assert verify_message_integrity(msg, key), datagram
            assert not verify_message_integrity(msg, key[::-1])
            seen_integrity += 1
            username = msg.get(AttrType.USERNAME)
            if msg.msg_class is MessageClass.REQUEST:
                assert username is not None
                assert username.value.decode() == turn["username"]
    # each run did the 401 dance: one signed Allocate in, one signed 403 out
    assert seen_integrity >= 2


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_browser_shapes(path: Path) -> None:
    capture = _load(path)
    incoming = [
        decode_message(bytes.fromhex(d["hex"]))
        for d in capture["datagrams"]
        if d["dir"] == "in" and d.get("transport", "udp") == "udp"
    ]
    bindings = [m for m in incoming if m.method == Method.BINDING]
    allocates = [m for m in incoming if m.method == Method.ALLOCATE]
    # the guide's observation: gathering sends attribute-less 20-byte Binding requests
    assert bindings
    assert all(len(m.raw) == 20 and m.attributes == () for m in bindings)
    assert len(allocates) >= 2
    if capture["browser"] == "firefox":
        # Firefox puts LIFETIME and FINGERPRINT in its Allocates
        assert all(AttrType.LIFETIME in m and AttrType.FINGERPRINT in m for m in allocates)
    else:
        assert all(AttrType.FINGERPRINT not in m for m in allocates)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_turn_rest_credential_is_consistent(path: Path) -> None:
    turn = _load(path)["turn"]
    # the harness hands out TURN REST credentials; the password must be derivable from the
    # username with *some* secret, and at least its shape must be base64(HMAC-SHA1) = 28 chars
    assert len(turn["password"]) == len(turn_rest_password(b"x", turn["username"])) == 28
