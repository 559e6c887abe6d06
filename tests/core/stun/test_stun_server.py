"""The pure STUN/TURN request handler: vectors, the TURN 401 flow, browser captures, junk."""

from __future__ import annotations

import ipaddress
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.stun.stun_vectors import CAPTURES, vector_bytes
from tests.core.stun.test_stun_malformed import MALFORMED

from icewatch.core.addr import IPAddress
from icewatch.core.evidence import ObservationSource, StunKind
from icewatch.core.session import (
    make_nonce,
    make_session_id,
    session_turn_credential,
    verify_nonce,
)
from icewatch.core.stun import (
    AttrType,
    MessageClass,
    Method,
    StunMessage,
    TransportAddress,
    build_message,
    decode_error_code,
    decode_message,
    decode_text,
    decode_unknown_attributes,
    decode_xor_address,
    encode_channel_data,
    encode_lifetime,
    encode_requested_transport,
    encode_text,
    encode_xor_address,
    long_term_key,
    verify_fingerprint,
    verify_message_integrity,
)
from icewatch.core.stun.server import (
    Drop,
    Integrity,
    ServerConfig,
    StunRequest,
    StunResult,
    handle_request,
)

SECRET = b"test-server-secret-0123456789abc"
REALM = "icewatch.test"
CFG = ServerConfig(secret=SECRET, realm=REALM)
NOW = 1_800_000_000.0
V4 = ipaddress.ip_address("198.51.100.7")
V6 = ipaddress.ip_address("2001:db8::7")
SESSION = make_session_id(bytes(range(16)))
TID = bytes(range(1, 13))


def request(
    data: bytes,
    ip: IPAddress = V4,
    port: int = 40000,
    now: float = NOW,
    transport: str = "udp",
) -> StunRequest:
    return StunRequest(data, ip, port, transport, now, ipaddress.ip_address("192.0.2.1"), 3478)


def answer(data: bytes, cfg: ServerConfig = CFG, **kw: Any) -> StunResult:
    result = handle_request(request(data, **kw), cfg)
    assert (result.reply is None) != (result.drop is None)  # exactly one of the two
    return result


def reply_of(result: StunResult) -> StunMessage:
    assert result.reply is not None, result.drop
    return decode_message(result.reply)


def error_code(msg: StunMessage) -> int:
    attr = msg.get(AttrType.ERROR_CODE)
    assert attr is not None
    return decode_error_code(attr.value).code


def text(msg: StunMessage, attr_type: int) -> str:
    attr = msg.get(attr_type)
    assert attr is not None, f"no attribute 0x{attr_type:04x}"
    return decode_text(attr.value)


# --- Binding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "port"), [(V4, 40000), (V6, 1), (ipaddress.ip_address("::1"), 65535)]
)
def test_binding_echoes_the_source(ip: IPAddress, port: int) -> None:
    result = answer(build_message(Method.BINDING, MessageClass.REQUEST, TID), ip=ip, port=port)
    msg = reply_of(result)
    assert (msg.method, msg.msg_class, msg.transaction_id) == (1, MessageClass.SUCCESS, TID)
    xma = msg.get(AttrType.XOR_MAPPED_ADDRESS)
    assert xma is not None
    assert decode_xor_address(xma.value, TID) == TransportAddress(ip, port)
    assert verify_fingerprint(msg)
    assert [a.type for a in msg.attributes] == [AttrType.XOR_MAPPED_ADDRESS, AttrType.FINGERPRINT]
    # the fast path builds exactly what the generic builder builds
    generic = build_message(
        Method.BINDING,
        MessageClass.SUCCESS,
        TID,
        [(AttrType.XOR_MAPPED_ADDRESS, encode_xor_address(TransportAddress(ip, port), TID))],
        fingerprint=True,
    )
    assert result.reply == generic
    assert result.reply_kind == "binding-success"
    obs = result.observation
    assert obs is not None
    assert (obs.source, obs.kind, obs.ip, obs.port) == (
        ObservationSource.STUN,
        StunKind.BINDING,
        ip,
        port,
    )
    assert (obs.transport, obs.at, obs.transaction_id) == ("udp", NOW, TID.hex())
    assert obs.session_id is None
    assert obs.username is None
    assert obs.integrity is None
    assert (str(obs.local_ip), obs.local_port) == ("192.0.2.1", 3478)


def test_binding_with_attributes_records_software() -> None:
    data = build_message(
        Method.BINDING,
        MessageClass.REQUEST,
        TID,
        [(AttrType.SOFTWARE, encode_text("probe 1.0")), (0xC0FE, b"opt")],  # optional unknown
        fingerprint=True,
    )
    result = answer(data, transport="tcp")
    msg = reply_of(result)
    assert msg.msg_class == MessageClass.SUCCESS
    assert verify_fingerprint(msg)
    assert result.observation is not None
    assert result.observation.software == "probe 1.0"
    assert result.observation.transport == "tcp"


def test_binding_reply_carries_configured_software() -> None:
    cfg = ServerConfig(secret=SECRET, realm=REALM, software="icewatch test")
    msg = reply_of(answer(build_message(Method.BINDING, MessageClass.REQUEST, TID), cfg))
    assert text(msg, AttrType.SOFTWARE) == "icewatch test"
    xma = msg.get(AttrType.XOR_MAPPED_ADDRESS)
    assert xma is not None
    assert decode_xor_address(xma.value, TID) == TransportAddress(V4, 40000)
    assert verify_fingerprint(msg)


def test_rfc5769_sample_request_is_answered() -> None:
    # RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
    # MESSAGE-INTEGRITY and FINGERPRINT (an ICE check): all understood, answered.
    result = answer(vector_bytes("sample_request"))
    msg = reply_of(result)
    assert msg.msg_class == MessageClass.SUCCESS
    assert result.observation is not None
    assert result.observation.software == "STUN test client"
    # §2.4: long-term credentials on a Binding are not checked; it is answered all the same
    assert reply_of(answer(vector_bytes("long_term_request"))).msg_class == MessageClass.SUCCESS
    # §2.2, §2.3: responses sent to the server are dropped
    for name in ("ipv4_response", "ipv6_response"):
        assert answer(vector_bytes(name)).drop is Drop.NOT_A_REQUEST


def test_bad_fingerprint_is_dropped() -> None:
    data = bytearray(build_message(Method.BINDING, MessageClass.REQUEST, TID, fingerprint=True))
    data[-1] ^= 1
    result = answer(bytes(data))
    assert result.drop is Drop.BAD_FINGERPRINT
    assert result.observation is None


@pytest.mark.parametrize(
    ("data", "drop"),
    [
        (build_message(Method.BINDING, MessageClass.INDICATION, TID), Drop.INDICATION),
        (build_message(Method.SEND, MessageClass.INDICATION, TID), Drop.INDICATION),
        (build_message(Method.BINDING, MessageClass.SUCCESS, TID), Drop.NOT_A_REQUEST),
        (build_message(Method.ALLOCATE, MessageClass.ERROR, TID), Drop.NOT_A_REQUEST),
        (build_message(0x0AB, MessageClass.REQUEST, TID), Drop.UNKNOWN_METHOD),
        (build_message(Method.DATA, MessageClass.REQUEST, TID), Drop.UNKNOWN_METHOD),
        (build_message(Method.REFRESH, MessageClass.REQUEST, TID), Drop.NO_ALLOCATION),
        (build_message(Method.CREATE_PERMISSION, MessageClass.REQUEST, TID), Drop.NO_ALLOCATION),
        (build_message(Method.CHANNEL_BIND, MessageClass.REQUEST, TID), Drop.NO_ALLOCATION),
        (encode_channel_data(0x4000, b"relay me"), Drop.CHANNEL_DATA),
        (encode_channel_data(0x4FFF, b""), Drop.CHANNEL_DATA),
        (b"GET / HTTP/1.1\r\n\r\n", Drop.CHANNEL_DATA),  # "G" is 0x47: RFC 7983 says so
        (b"POST / HTTP/1.1\r\n\r\n", Drop.NOT_STUN),
        (b"\x80\x60" + bytes(30), Drop.NOT_STUN),  # RTP
        (b"\x16\x03\x01\x02\x00" + bytes(40), Drop.NOT_STUN),  # a TLS ClientHello
        (b"", Drop.NOT_STUN),
        (b"\x00", Drop.NOT_STUN),
        (b"\x40\x00", Drop.NOT_STUN),  # too short even for ChannelData
    ],
    ids=lambda v: v.value if isinstance(v, Drop) else None,
)
def test_no_reply(data: bytes, drop: Drop) -> None:
    result = answer(data)
    assert result.drop is drop
    assert result.reply is None
    assert result.observation is None


@pytest.mark.parametrize(
    ("name", "data", "field", "offset"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_table_is_dropped_without_reply(
    name: str, data: bytes, field: str, offset: int | None
) -> None:
    result = answer(data)
    assert result.reply is None
    assert result.observation is None
    assert result.drop in (Drop.MALFORMED, Drop.NOT_STUN, Drop.CHANNEL_DATA)


# --- 420 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("unknown", [AttrType.CHANGE_REQUEST, 0x7F01, AttrType.PADDING])
def test_unknown_comprehension_required_attribute_gets_420(unknown: int) -> None:
    data = build_message(
        Method.BINDING, MessageClass.REQUEST, TID, [(unknown, bytes(4)), (0x8123, b"x")]
    )
    result = answer(data)
    msg = reply_of(result)
    assert msg.msg_class == MessageClass.ERROR
    assert error_code(msg) == 420
    listed = msg.get(AttrType.UNKNOWN_ATTRIBUTES)
    assert listed is not None
    assert decode_unknown_attributes(listed.value) == (unknown,)
    assert result.reply_kind == "binding-420"
    assert result.observation is not None  # the packet still arrived from that address


def test_unknown_attribute_after_message_integrity_is_ignored() -> None:
    body = build_message(
        Method.BINDING,
        MessageClass.REQUEST,
        TID,
        [(AttrType.USERNAME, b"a:b")],
        integrity_key=b"k",
    )
    # append an unknown comprehension-required attribute after MESSAGE-INTEGRITY
    extra = struct.pack("!HH", 0x7F02, 4) + bytes(4)
    data = body[:2] + struct.pack("!H", len(body) - 20 + 8) + body[4:] + extra
    assert reply_of(answer(data)).msg_class == MessageClass.SUCCESS


# --- Allocate: the TURN 401 flow ------------------------------------------------------------


def allocate(
    *extra: tuple[int, bytes],
    username: str | None = None,
    nonce: str | None = None,
    realm: str | None = REALM,
    key: bytes | None = None,
    fingerprint: bool = False,
    tid: bytes = TID,
) -> bytes:
    attrs: list[tuple[int, bytes]] = [(AttrType.REQUESTED_TRANSPORT, encode_requested_transport())]
    attrs.extend(extra)
    if username is not None:
        attrs.append((AttrType.USERNAME, encode_text(username)))
    if realm is not None and username is not None:
        attrs.append((AttrType.REALM, encode_text(realm)))
    if nonce is not None:
        attrs.append((AttrType.NONCE, encode_text(nonce)))
    return build_message(
        Method.ALLOCATE,
        MessageClass.REQUEST,
        tid,
        attrs,
        integrity_key=key,
        fingerprint=fingerprint,
    )


def credential(expires: float = NOW + 300, session: str = SESSION) -> tuple[str, str, bytes]:
    username, password = session_turn_credential(SECRET, session, int(expires))
    return username, password, long_term_key(username, REALM, password)


def authenticated(
    *,
    nonce_ip: IPAddress = V4,
    nonce_at: float = NOW,
    expires: float = NOW + 300,
    password: str | None = None,
    fingerprint: bool = False,
    extra: tuple[tuple[int, bytes], ...] = (),
) -> tuple[bytes, str]:
    username, _good_password, key = credential(expires)
    if password is not None:
        key = long_term_key(username, REALM, password)
    nonce = make_nonce(SECRET, nonce_ip, nonce_at, CFG.nonce_lifetime)
    data = allocate(*extra, username=username, nonce=nonce, key=key, fingerprint=fingerprint)
    return data, username


@pytest.mark.parametrize("fingerprint", [False, True])
def test_allocate_without_credentials_gets_401_with_realm_and_nonce(fingerprint: bool) -> None:
    result = answer(allocate(fingerprint=fingerprint))
    msg = reply_of(result)
    assert (msg.method, msg.msg_class) == (Method.ALLOCATE, MessageClass.ERROR)
    assert error_code(msg) == 401
    assert result.reply_kind == "allocate-401"
    assert text(msg, AttrType.REALM) == REALM
    nonce = text(msg, AttrType.NONCE)
    assert verify_nonce(SECRET, nonce, V4, NOW + 1)
    assert not verify_nonce(SECRET, nonce, V6, NOW + 1)  # bound to the source address
    assert not verify_nonce(SECRET, nonce, V4, NOW + CFG.nonce_lifetime)  # and it expires
    assert AttrType.MESSAGE_INTEGRITY not in msg
    assert (msg.fingerprint() is not None) is fingerprint
    if fingerprint:
        assert verify_fingerprint(msg)
    obs = result.observation
    assert obs is not None
    assert (obs.source, obs.kind, obs.session_id) == (
        ObservationSource.TURN,
        StunKind.ALLOCATE,
        None,
    )
    assert obs.integrity is None


def test_401_carries_configured_software() -> None:
    cfg = ServerConfig(secret=SECRET, realm=REALM, software="icewatch")
    assert text(reply_of(answer(allocate(), cfg)), AttrType.SOFTWARE) == "icewatch"


@pytest.mark.parametrize(("code", "fingerprint"), [(403, False), (486, True), (508, False)])
def test_authenticated_allocate_is_recorded_then_refused(code: int, fingerprint: bool) -> None:
    # the whole flow: 401 → nonce → authenticated Allocate → observation + refusal
    cfg = ServerConfig(secret=SECRET, realm=REALM, refuse_code=code)
    first = reply_of(answer(allocate(), cfg))
    nonce = text(first, AttrType.NONCE)
    username, _password, key = credential()
    tid2 = bytes(range(20, 32))
    data = allocate(
        (AttrType.LIFETIME, encode_lifetime(3600)),
        (AttrType.SOFTWARE, encode_text("Mozilla Firefox")),
        username=username,
        nonce=nonce,
        key=key,
        fingerprint=fingerprint,
        tid=tid2,
    )
    result = answer(data, cfg, now=NOW + 0.006)
    msg = reply_of(result)
    assert msg.msg_class == MessageClass.ERROR
    assert error_code(msg) == code
    assert result.reply_kind == f"allocate-{code}"
    assert verify_message_integrity(msg, key)  # the refusal is signed
    assert (msg.fingerprint() is not None) is fingerprint
    assert AttrType.XOR_RELAYED_ADDRESS not in msg  # never an allocation
    obs = result.observation
    assert obs is not None
    assert obs.source is ObservationSource.TURN
    assert obs.kind is StunKind.ALLOCATE_AUTHENTICATED
    assert (obs.session_id, obs.username, obs.integrity) == (SESSION, username, "valid")
    assert (obs.software, obs.ip, obs.port, obs.transaction_id) == (
        "Mozilla Firefox",
        V4,
        40000,
        tid2.hex(),
    )


def test_refuse_code_must_end_gathering() -> None:
    with pytest.raises(ValueError, match="refuse_code"):
        ServerConfig(secret=SECRET, refuse_code=200)
    with pytest.raises(ValueError, match="nonce_lifetime"):
        ServerConfig(secret=SECRET, nonce_lifetime=0)


def _challenge(result: StunResult, code: int) -> StunMessage:
    msg = reply_of(result)
    assert error_code(msg) == code
    assert AttrType.MESSAGE_INTEGRITY not in msg
    assert text(msg, AttrType.REALM) == REALM
    assert verify_nonce(SECRET, text(msg, AttrType.NONCE), V4, NOW + CFG.nonce_lifetime - 1)
    return msg


def test_stale_nonce_gets_438_with_a_fresh_nonce() -> None:
    data, username = authenticated(nonce_at=NOW - CFG.nonce_lifetime - 1)
    result = answer(data)
    _challenge(result, 438)
    obs = result.observation
    assert obs is not None
    assert (obs.kind, obs.session_id, obs.integrity) == (StunKind.ALLOCATE, None, "stale-nonce")
    assert obs.username == username


def test_nonce_made_for_another_address_gets_438() -> None:
    data, _ = authenticated(nonce_ip=ipaddress.ip_address("203.0.113.9"))
    result = answer(data)
    _challenge(result, 438)
    assert result.observation is not None
    assert result.observation.integrity == "stale-nonce"


def test_replayed_allocate_from_another_address_is_never_attributed() -> None:
    data, _ = authenticated()
    genuine = answer(data)
    assert genuine.observation is not None
    assert genuine.observation.session_id == SESSION
    # the same bytes from another address: the nonce was made for the first one
    replay = answer(data, ip=ipaddress.ip_address("203.0.113.66"), port=1234)
    assert error_code(reply_of(replay)) == 438
    assert replay.observation is not None
    assert replay.observation.session_id is None
    assert replay.observation.integrity == Integrity.STALE_NONCE


def test_replay_after_the_nonce_expired_gets_438() -> None:
    data, _ = authenticated()
    assert answer(data).observation.session_id == SESSION  # type: ignore[union-attr]
    later = answer(data, now=NOW + CFG.nonce_lifetime + 1)
    # (the username expired too by then; the nonce check comes first, RFC 8489 §9.2.4)
    _msg = reply_of(later)
    assert error_code(_msg) == 438
    assert later.observation is not None
    assert later.observation.session_id is None


def test_expired_username_gets_401() -> None:
    data, username = authenticated(expires=NOW - 1)
    result = answer(data)
    _challenge(result, 401)
    obs = result.observation
    assert obs is not None
    assert (obs.session_id, obs.integrity, obs.username) == (None, "expired", username)


def test_forged_password_is_recorded_as_invalid() -> None:
    data, username = authenticated(password="guessed")
    result = answer(data)
    _challenge(result, 401)
    obs = result.observation
    assert obs is not None
    assert (obs.kind, obs.session_id, obs.integrity, obs.username) == (
        StunKind.ALLOCATE,
        None,
        "invalid",
        username,
    )


def test_username_not_of_our_form_gets_401() -> None:
    nonce = make_nonce(SECRET, V4, NOW, 600)
    for username in ["alice", "12:not-a-session", "²:" + SESSION, ""]:
        key = long_term_key(username, REALM, "whatever")
        result = answer(allocate(username=username, nonce=nonce, key=key))
        assert error_code(reply_of(result)) == 401
        assert result.observation is not None
        assert result.observation.session_id is None


def test_valid_credential_for_another_realm_is_invalid() -> None:
    username, password, _ = credential()
    key = long_term_key(username, "other.realm", password)
    nonce = make_nonce(SECRET, V4, NOW, 600)
    result = answer(allocate(username=username, nonce=nonce, realm="other.realm", key=key))
    assert error_code(reply_of(result)) == 401
    assert result.observation is not None
    assert result.observation.integrity == "invalid"


def test_credential_from_another_server_secret_is_invalid() -> None:
    other = ServerConfig(secret=b"another-secret", realm=REALM)
    data, _ = authenticated()
    nonce_ok_elsewhere = answer(data, other)  # the nonce was made with SECRET: 438 there
    assert error_code(reply_of(nonce_ok_elsewhere)) == 438
    assert nonce_ok_elsewhere.observation is not None
    assert nonce_ok_elsewhere.observation.integrity == "invalid"


def test_message_integrity_without_nonce_is_400() -> None:
    username, _, key = credential()
    result = answer(allocate(username=username, key=key))
    msg = reply_of(result)
    assert error_code(msg) == 400
    assert AttrType.MESSAGE_INTEGRITY not in msg
    assert result.observation is not None
    assert result.observation.session_id is None


def test_username_without_message_integrity_is_401_and_recorded() -> None:
    username, _, _ = credential()
    nonce = make_nonce(SECRET, V4, NOW, 600)
    result = answer(allocate(username=username, nonce=nonce))
    assert error_code(reply_of(result)) == 401
    obs = result.observation
    assert obs is not None
    assert obs.username == username
    assert obs.integrity is None


def test_authenticated_allocate_with_unknown_attribute_gets_signed_420() -> None:
    data, _ = authenticated(extra=((0x7F03, b"????"),))
    result = answer(data)
    msg = reply_of(result)
    assert error_code(msg) == 420
    _, _, key = credential()
    assert verify_message_integrity(msg, key)
    assert result.observation is not None
    assert result.observation.integrity == "valid"


def test_unknown_attribute_in_unauthenticated_allocate_gets_401_first() -> None:
    assert error_code(reply_of(answer(allocate((0x7F03, b"????"))))) == 401


def test_undecodable_username_is_a_malformed_drop() -> None:
    nonce = make_nonce(SECRET, V4, NOW, 600)
    data = build_message(
        Method.ALLOCATE,
        MessageClass.REQUEST,
        TID,
        [
            (AttrType.USERNAME, b"\xff\xfe"),
            (AttrType.REALM, b"r"),
            (AttrType.NONCE, nonce.encode()),
        ],
        integrity_key=b"k",
    )
    assert answer(data).drop is Drop.MALFORMED


# --- real browsers' datagrams (made against another responder, another secret) ---------------


def _captured_in() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in CAPTURES:
        for d in json.loads(path.read_text())["datagrams"]:
            if d["dir"] == "in":
                out.append((f"{path.stem}@{d['ms']}", d))
    return out


CAPTURED = _captured_in()


def test_captures_hold_allocates() -> None:
    assert sum("allocate" in d["summary"] for _, d in CAPTURED) >= 12


@pytest.mark.parametrize(("name", "datagram"), CAPTURED, ids=[n for n, _ in CAPTURED])
def test_captured_browser_datagrams(name: str, datagram: dict[str, Any]) -> None:
    data = bytes.fromhex(datagram["hex"])
    host, _, port = datagram["src"].rpartition(":")
    ip = ipaddress.ip_address(host.strip("[]"))
    result = answer(data, ip=ip, port=int(port))
    msg = reply_of(result)
    obs = result.observation
    assert obs is not None
    assert obs.session_id is None
    if datagram["summary"].startswith("binding"):
        xma = msg.get(AttrType.XOR_MAPPED_ADDRESS)
        assert xma is not None
        assert decode_xor_address(xma.value, msg.transaction_id) == TransportAddress(ip, int(port))
        return
    assert msg.method == Method.ALLOCATE
    assert msg.msg_class == MessageClass.ERROR
    request_msg = decode_message(data)
    if AttrType.MESSAGE_INTEGRITY in request_msg:
        # their NONCE came from the capture responder: stale here, however valid the MAC
        assert error_code(msg) == 438
        assert obs.username == decode_text(request_msg.get(AttrType.USERNAME).value)  # type: ignore[union-attr]
        assert obs.integrity == "invalid"
    else:
        assert error_code(msg) == 401
    # Firefox puts FINGERPRINT in its Allocates, Chromium does not: echo the choice
    assert (msg.fingerprint() is not None) is (request_msg.fingerprint() is not None)


def test_captured_allocate_with_its_own_secret_is_still_438() -> None:
    # Even a server holding the capture's realm cannot accept it: the nonce is foreign.
    path = next(p for p in CAPTURES if "firefox" in p.name)
    doc = json.loads(path.read_text())
    authed = next(
        d for d in doc["datagrams"] if d["dir"] == "in" and "message-integrity" in d["summary"]
    )
    data = bytes.fromhex(authed["hex"])
    turn = doc["turn"]
    assert verify_message_integrity(
        decode_message(data), long_term_key(turn["username"], turn["realm"], turn["password"])
    )
    host, _, port = authed["src"].rpartition(":")
    result = answer(data, ip=ipaddress.ip_address(host.strip("[]")), port=int(port))
    assert error_code(reply_of(result)) == 438


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_give_a_result(data: bytes) -> None:
    answer(data)


_ATTR_TYPES = st.one_of(
    st.sampled_from([int(a) for a in AttrType]), st.integers(min_value=0, max_value=0xFFFF)
)


@settings(max_examples=600, deadline=None)
@given(
    method=st.sampled_from([1, 3, 4, 8, 9, 0x0AB]),
    klass=st.sampled_from(list(MessageClass)),
    attrs=st.lists(st.tuples(_ATTR_TYPES, st.binary(max_size=40)), max_size=8),
    key=st.one_of(st.none(), st.binary(min_size=1, max_size=16)),
    fingerprint=st.booleans(),
    v6=st.booleans(),
)
def test_stun_shaped_messages_give_a_result(
    method: int,
    klass: MessageClass,
    attrs: list[tuple[int, bytes]],
    key: bytes | None,
    fingerprint: bool,
    v6: bool,
) -> None:
    data = build_message(method, klass, TID, attrs, integrity_key=key, fingerprint=fingerprint)
    result = answer(data, ip=V6 if v6 else V4)
    if result.reply is not None:
        msg = decode_message(result.reply)
        assert msg.transaction_id == TID
        assert msg.msg_class in (
            MessageClass.SUCCESS,
            MessageClass.ERROR,
        )
        assert method in (Method.BINDING, Method.ALLOCATE)
        assert klass == MessageClass.REQUEST
        assert AttrType.XOR_RELAYED_ADDRESS not in msg  # never an allocation


@settings(max_examples=300, deadline=None)
@given(
    username=st.text(max_size=60),
    nonce=st.text(max_size=60),
    realm=st.text(max_size=30),
    password=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
)
def test_arbitrary_credentials_never_authenticate(
    username: str, nonce: str, realm: str, password: str
) -> None:
    key = long_term_key(username, realm, password)
    data = allocate(username=username, nonce=nonce, realm=realm, key=key)
    result = answer(data)
    if result.observation is not None:
        assert result.observation.session_id is None


def test_fast_observation_equals_the_dataclass() -> None:
    from icewatch.core.evidence import Observation
    from icewatch.core.stun.server import _new_observation

    values = (
        ObservationSource.TURN,
        StunKind.ALLOCATE_AUTHENTICATED,
        V6,
        5,
        "tcp",
        NOW,
        TID.hex(),
        SESSION,
        "u",
        "sw",
        "valid",
        V4,
        3478,
    )
    fast = _new_observation(*values)
    assert fast == Observation(*values)
    assert fast.as_dict() == Observation(*values).as_dict()
    assert hash(fast) == hash(Observation(*values))
