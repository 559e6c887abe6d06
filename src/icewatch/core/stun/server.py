"""The STUN/TURN request handler: one datagram (or TCP frame) in, a reply and evidence out.

Pure, in the style of pion/turn's ``internal/server``: a :class:`StunRequest` carries
everything about one message (bytes, source, transport, local address, the time), a
:class:`ServerConfig` carries the server's secret and realm, and :func:`handle_request`
returns a :class:`StunResult` — the reply to send (or none), the :class:`Observation` to
record (or none) and, when nothing is answered, the counted reason (:class:`Drop`). One
small function per method. The adapter owns the sockets, the clock and the counters.

What is answered
----------------
* **Binding request** → success with XOR-MAPPED-ADDRESS (the source as seen here) and
  FINGERPRINT; observation ``stun``/``binding`` without a session (a Binding carries no
  credential; the correlator attributes it by address).
* **Allocate without USERNAME + MESSAGE-INTEGRITY** → 401 with REALM and a stateless
  NONCE bound to the source IP (:func:`~icewatch.core.session.make_nonce`). It is recorded
  as ``turn``/``allocate`` without a session: like a Binding, it is attributable only by
  its source address, and over TCP (a browser behind a proxy) it is the only message
  before the authenticated one.
* **Allocate with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY** → checked in the
  RFC 8489 §9.2.4 order: a nonce that is expired or was made for another address gives
  438 Stale Nonce with a fresh one; a MESSAGE-INTEGRITY that does not verify, or an
  expired or foreign USERNAME, gives 401 with a fresh nonce. Either way the USERNAME
  (sent in clear) is recorded with ``integrity`` = ``invalid`` / ``stale-nonce`` /
  ``expired`` and **no** session: forged or replayed credentials are visible, never
  attributed. When everything verifies the observation is ``turn``/
  ``allocate-authenticated`` with the session id and ``integrity="valid"``, and the
  allocation is **refused** (:attr:`ServerConfig.refuse_code`, 403 by default, signed):
  the browser ends gathering at once. icewatch never allocates and never relays.
* Refresh, CreatePermission, ChannelBind, Send/Data indications, ChannelData, Binding
  indications (ICE keepalives), responses, unknown methods: no reply, a counted drop.
* A request with an unknown comprehension-required attribute → 420 with
  UNKNOWN-ATTRIBUTES (after authentication for Allocate, RFC 8489 §6.3.1).
* Anything malformed, a wrong magic cookie or a bad FINGERPRINT: no reply, a counted
  drop. Nothing untrusted raises out of :func:`handle_request`.

Why the nonce is bound to the source IP: a MESSAGE-INTEGRITY that verifies proves that
the sender knows the session's password, or replays a packet that someone who knew it
sent. A replay from another address carries a nonce made for the original one, so it
gets 438 and is recorded as ``stale-nonce``, never as the session's address.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, NamedTuple

from icewatch.core.addr import IPAddress
from icewatch.core.errors import StunParseError
from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.core.session import derive_key, make_nonce, turn_username_session, verify_nonce
from icewatch.core.stun.attributes import (
    MAX_USERNAME_BYTES,
    TransportAddress,
    decode_text,
    encode_error_code,
    encode_text,
    encode_unknown_attributes,
    encode_xor_address,
)
from icewatch.core.stun.constants import (
    ERROR_REASONS,
    FINGERPRINT_XOR,
    MAGIC_COOKIE,
    MAGIC_COOKIE_BYTES,
    AttrType,
    MessageClass,
    Method,
    comprehension_required,
)
from icewatch.core.stun.credentials import turn_rest_password
from icewatch.core.stun.integrity import (
    long_term_key,
    verify_fingerprint,
    verify_message_integrity,
)
from icewatch.core.stun.message import StunMessage, build_message, decode_message

__all__ = [
    "REFUSE_CODES",
    "Drop",
    "Integrity",
    "ServerConfig",
    "StunRequest",
    "StunResult",
    "handle_request",
]

#: Error codes a refused Allocate may carry: all end a browser's TURN attempt at once.
REFUSE_CODES = frozenset({403, 486, 508})


class Drop(StrEnum):
    """Why a message got no reply (a counter label; stable)."""

    NOT_STUN = "not-stun"  # no magic cookie / wrong first bits: not STUN at all
    MALFORMED = "malformed"  # STUN-shaped but fails the bounded decode
    BAD_FINGERPRINT = "bad-fingerprint"  # RFC 8489 §7.3: discard silently
    NOT_A_REQUEST = "not-a-request"  # a success/error response sent to the server
    INDICATION = "indication"  # Binding indication (ICE keepalive), Send indication…
    UNKNOWN_METHOD = "unknown-method"
    NO_ALLOCATION = "no-allocation"  # Refresh/CreatePermission/ChannelBind: nothing to act on
    CHANNEL_DATA = "channel-data"  # TURN ChannelData: there is no channel, nothing is relayed


class Integrity(StrEnum):
    """Values of :attr:`Observation.integrity` set by this handler."""

    VALID = "valid"  # MESSAGE-INTEGRITY verified, fresh nonce for this IP, live username
    INVALID = "invalid"  # MESSAGE-INTEGRITY does not verify with this USERNAME's password
    STALE_NONCE = "stale-nonce"  # verifies, but the nonce expired or belongs to another IP
    EXPIRED = "expired"  # verifies, but the USERNAME expired or names no session


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the handler needs to know about the server.

    ``secret`` is the server master secret; TURN passwords are
    ``turn_rest_password(derive_key(secret, "turn"), username)`` (see
    :func:`~icewatch.core.session.session_turn_credential`) and nonces are keyed by
    ``derive_key(secret, "nonce")``.
    """

    secret: bytes
    realm: str = "icewatch"
    software: str | None = None  # SOFTWARE sent in replies; None sends none
    nonce_lifetime: int = 600  # seconds a 401/438 nonce stays valid
    refuse_code: int = 403  # the answer to an authenticated Allocate (see REFUSE_CODES)
    _turn_key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.refuse_code not in REFUSE_CODES:
            raise ValueError(f"refuse_code must be one of {sorted(REFUSE_CODES)}")
        if not 0 < self.nonce_lifetime <= 86400:
            raise ValueError("nonce_lifetime must be 1..86400 seconds")
        object.__setattr__(self, "_turn_key", derive_key(self.secret, "turn"))

    def turn_password(self, username: str) -> str:
        """The TURN REST password this server expects for ``username``."""
        return turn_rest_password(self._turn_key, username)


class StunRequest(NamedTuple):
    """One datagram or TCP frame as it arrived (the adapter fills it in).

    Immutable like the frozen dataclasses elsewhere, but a ``NamedTuple``: one is built
    for every datagram, and that costs a third of a frozen dataclass's ``__init__``.
    """

    data: bytes
    ip: IPAddress  # the source, IPv4-mapped addresses already unwrapped
    port: int
    transport: str  # "udp" | "tcp"
    now: float  # Unix seconds, when it was received
    local_ip: IPAddress | None = None
    local_port: int | None = None


class StunResult(NamedTuple):
    """What to do with a request: exactly one of ``reply`` and ``drop`` is set.

    ``reply_kind`` names the reply for counters (``"binding-success"``,
    ``"allocate-401"``…). A ``NamedTuple`` for the reason given in :class:`StunRequest`.
    """

    reply: bytes | None = None
    observation: Observation | None = None
    drop: Drop | None = None
    reply_kind: str | None = None


_RESULTS = {d: StunResult(drop=d) for d in Drop}
_REQUEST = MessageClass.REQUEST
_MI = AttrType.MESSAGE_INTEGRITY
#: Comprehension-required attributes this server understands (or knowingly ignores) in a
#: request. RFC 5780's CHANGE-REQUEST, RESPONSE-PORT and PADDING are absent on purpose:
#: a server without an alternate address must answer them with 420 (RFC 5780 §7.2).
_UNDERSTOOD = frozenset(
    int(a)
    for a in AttrType
    if comprehension_required(a)
    and a not in (AttrType.CHANGE_REQUEST, AttrType.RESPONSE_PORT, AttrType.PADDING)
)


def handle_request(req: StunRequest, cfg: ServerConfig) -> StunResult:
    """Answer one message. Untrusted input never raises: it is a :class:`Drop`."""
    data = req.data
    if data[:8] == _BARE_BINDING and len(data) == 20:
        return _binding(data[8:], None, req, cfg)  # the browsers' Binding: no attributes
    if len(data) < 20 or data[4:8] != MAGIC_COOKIE_BYTES or data[0] >= 0x40:
        # RFC 7983 demultiplexing: a first byte of 64..79 is TURN ChannelData.
        channel = len(data) >= 4 and 0x40 <= data[0] <= 0x4F
        return _RESULTS[Drop.CHANNEL_DATA if channel else Drop.NOT_STUN]
    try:
        msg = decode_message(data)
        if msg.fingerprint() is not None and not verify_fingerprint(msg):
            return _RESULTS[Drop.BAD_FINGERPRINT]
        if msg.msg_class is not _REQUEST:
            if msg.msg_class is MessageClass.INDICATION:
                return _RESULTS[Drop.INDICATION]
            return _RESULTS[Drop.NOT_A_REQUEST]
        method = msg.method
        if method == Method.BINDING:
            return _binding(msg.transaction_id, msg, req, cfg)
        if method == Method.ALLOCATE:
            return _allocate(msg, req, cfg)
        if method in (Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND):
            return _RESULTS[Drop.NO_ALLOCATION]
        return _RESULTS[Drop.UNKNOWN_METHOD]
    except StunParseError:
        return _RESULTS[Drop.MALFORMED]


# --- Binding ---------------------------------------------------------------------------


def _binding(
    tid: bytes, msg: StunMessage | None, req: StunRequest, cfg: ServerConfig
) -> StunResult:
    """RFC 8489 §7.3.1: echo the source as XOR-MAPPED-ADDRESS; record where it came from.

    ``msg`` is ``None`` for the 20-byte attribute-less request browsers send, answered
    without a decode (the hot path of a flood).
    """
    obs = _observation(tid, msg, req, ObservationSource.STUN, StunKind.BINDING)
    if msg is not None:
        unknown = _unknown_required(msg)
        if unknown:
            return _unknown_attributes(msg, cfg, unknown, obs, None)
    if cfg.software is None:
        reply = _binding_success(tid, req.ip, req.port)
    else:
        xma = encode_xor_address(TransportAddress(req.ip, req.port), tid)
        attrs = [(_XMA, xma), (_SOFTWARE, encode_text(cfg.software))]
        reply = build_message(Method.BINDING, MessageClass.SUCCESS, tid, attrs, fingerprint=True)
    return StunResult(reply, obs, None, "binding-success")


_BARE_BINDING = b"\x00\x01\x00\x00" + MAGIC_COOKIE_BYTES  # Binding request, length 0
_SUCCESS_V4 = struct.Struct("!HHI12sHHBBHI")  # header, XOR-MAPPED-ADDRESS (IPv4)
_SUCCESS_V6 = struct.Struct("!HHI12sHHBBH")  # header, XOR-MAPPED-ADDRESS up to the address
_FINGERPRINT_HEADER = b"\x80\x28\x00\x04"


def _binding_success(tid: bytes, ip: IPAddress, port: int) -> bytes:
    """Binding success with XOR-MAPPED-ADDRESS and FINGERPRINT (= ``build_message``, 4x faster).

    The listener's hot path: one struct pack and a CRC-32 instead of the generic builder.
    """
    xport = port ^ (MAGIC_COOKIE >> 16)
    if ip.version == 4:
        head = _SUCCESS_V4.pack(0x0101, 20, MAGIC_COOKIE, tid, _XMA, 8, 0, 1, xport,
                                int(ip) ^ MAGIC_COOKIE)  # fmt: skip
    else:
        xip = int(ip) ^ int.from_bytes(MAGIC_COOKIE_BYTES + tid, "big")
        head = _SUCCESS_V6.pack(0x0101, 32, MAGIC_COOKIE, tid, _XMA, 20, 0, 2, xport)
        head += xip.to_bytes(16, "big")
    crc = zlib.crc32(head) ^ FINGERPRINT_XOR
    return head + _FINGERPRINT_HEADER + crc.to_bytes(4, "big")


# --- Allocate --------------------------------------------------------------------------


def _allocate(msg: StunMessage, req: StunRequest, cfg: ServerConfig) -> StunResult:
    """RFC 8656 §7.2 with the RFC 8489 §9.2.4 checks; never allocates (see module doc)."""
    user_attr = msg.get(AttrType.USERNAME)
    username = None
    if user_attr is not None:
        username = decode_text(user_attr.value, "username", MAX_USERNAME_BYTES)
    realm_attr = msg.get(AttrType.REALM)
    nonce_attr = msg.get(AttrType.NONCE)

    def seen(kind: StunKind, integrity: Integrity | None, session_id: str | None) -> Observation:
        return _observation(
            msg.transaction_id,
            msg,
            req,
            _TURN,
            kind,
            username=username,
            integrity=integrity,
            session_id=session_id,
        )

    if msg.get(_MI) is None:
        return _challenge(msg, req, cfg, 401, seen(StunKind.ALLOCATE, None, None))
    if username is None or realm_attr is None or nonce_attr is None:
        # RFC 8489 §9.2.4: MESSAGE-INTEGRITY without its companions is a 400.
        return _error(msg, cfg, 400, seen(StunKind.ALLOCATE, None, None))
    decode_text(realm_attr.value, "realm")  # must be text; the key uses our realm
    nonce = decode_text(nonce_attr.value, "nonce")
    key = long_term_key(username, cfg.realm, cfg.turn_password(username))
    mi_ok = verify_message_integrity(msg, key)
    session_id = turn_username_session(username, req.now)
    if not verify_nonce(cfg.secret, nonce, req.ip, req.now):
        integrity, code = (Integrity.STALE_NONCE if mi_ok else Integrity.INVALID), 438
    elif not mi_ok:
        integrity, code = Integrity.INVALID, 401
    elif session_id is None:
        integrity, code = Integrity.EXPIRED, 401
    else:
        obs = seen(StunKind.ALLOCATE_AUTHENTICATED, Integrity.VALID, session_id)
        unknown = _unknown_required(msg)
        if unknown:
            return _unknown_attributes(msg, cfg, unknown, obs, key)
        return _error(msg, cfg, cfg.refuse_code, obs, key)
    return _challenge(msg, req, cfg, code, seen(StunKind.ALLOCATE, integrity, None))


# --- replies and evidence ------------------------------------------------------------------

_TURN = ObservationSource.TURN
_XMA = AttrType.XOR_MAPPED_ADDRESS.value
_SOFTWARE = AttrType.SOFTWARE.value
_ERROR_CODE = AttrType.ERROR_CODE.value


def _observation(
    tid: bytes,
    msg: StunMessage | None,
    req: StunRequest,
    source: ObservationSource,
    kind: StunKind,
    *,
    username: str | None = None,
    integrity: Integrity | None = None,
    session_id: str | None = None,
) -> Observation:
    return _new_observation(
        source,
        kind,
        req.ip,
        req.port,
        req.transport,
        req.now,
        tid.hex(),
        session_id,
        username,
        None if msg is None or len(msg.raw) == 20 else _software(msg),
        None if integrity is None else integrity.value,
        req.local_ip,
        req.local_port,
    )


_OBSERVATION_FIELDS = (
    "source", "kind", "ip", "port", "transport", "at", "transaction_id", "session_id",
    "username", "software", "integrity", "local_ip", "local_port",
)  # fmt: skip


def _observation_constructor() -> Callable[..., Observation]:
    """``Observation(*13 values)``, twice as fast as the frozen dataclass's ``__init__``.

    That ``__init__`` goes through ``object.__setattr__`` for each field; setting each
    slot descriptor once on a fresh instance (as ``decode_message`` does for
    :class:`StunMessage`) builds the same value. An observation is made for every
    Binding, so this is on the hot path of a flood. If :class:`Observation` ever gains a
    field or a ``__post_init__``, the class itself is used instead.
    """
    names = tuple(f.name for f in fields(Observation))
    if names != _OBSERVATION_FIELDS or hasattr(Observation, "__post_init__"):
        return Observation
    new = object.__new__
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12 = (
        getattr(Observation, name).__set__ for name in names
    )

    def construct(
        a: Any, b: Any, c: Any, d: Any, e: Any, f: Any, g: Any,
        h: Any, i: Any, j: Any, k: Any, m: Any, n: Any,
    ) -> Observation:  # fmt: skip
        obs: Observation = new(Observation)
        s0(obs, a), s1(obs, b), s2(obs, c), s3(obs, d), s4(obs, e), s5(obs, f), s6(obs, g)
        s7(obs, h), s8(obs, i), s9(obs, j), s10(obs, k), s11(obs, m), s12(obs, n)
        return obs

    return construct


_new_observation = _observation_constructor()


def _software(msg: StunMessage) -> str | None:
    """The request's SOFTWARE, or ``None`` (absent or not text: evidence, not a reason to drop)."""
    attr = msg.get(_SOFTWARE)
    if attr is None:
        return None
    try:
        return decode_text(attr.value, "software")
    except StunParseError:
        return None


def _unknown_required(msg: StunMessage) -> tuple[int, ...]:
    """Comprehension-required attribute types that this server does not understand."""
    if len(msg.raw) == 20:
        return ()
    ignored = msg.after_integrity
    return tuple(
        dict.fromkeys(
            a.type
            for i, a in enumerate(msg.attributes)
            if a.type < 0x8000 and a.type not in _UNDERSTOOD and i not in ignored
        )
    )


def _error(
    msg: StunMessage,
    cfg: ServerConfig,
    code: int,
    obs: Observation | None,
    key: bytes | None = None,
    extra: tuple[tuple[int, bytes], ...] = (),
) -> StunResult:
    """An error response; signed with ``key`` when the request authenticated with it."""
    attrs = [(_ERROR_CODE, encode_error_code(code, ERROR_REASONS.get(code))), *extra]
    if cfg.software is not None:
        attrs.append((_SOFTWARE, encode_text(cfg.software)))
    reply = build_message(
        msg.method,
        MessageClass.ERROR,
        msg.transaction_id,
        attrs,
        integrity_key=key,
        fingerprint=msg.fingerprint() is not None,
    )
    return StunResult(reply=reply, observation=obs, reply_kind=f"{msg.method_name}-{code}")


def _challenge(
    msg: StunMessage, req: StunRequest, cfg: ServerConfig, code: int, obs: Observation
) -> StunResult:
    """401 or 438 with REALM and a fresh NONCE bound to the source IP (never signed)."""
    nonce = make_nonce(cfg.secret, req.ip, req.now, cfg.nonce_lifetime)
    extra = (
        (AttrType.REALM.value, encode_text(cfg.realm)),
        (AttrType.NONCE.value, encode_text(nonce)),
    )
    return _error(msg, cfg, code, obs, None, extra)


def _unknown_attributes(
    msg: StunMessage,
    cfg: ServerConfig,
    unknown: tuple[int, ...],
    obs: Observation | None,
    key: bytes | None,
) -> StunResult:
    """420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1)."""
    extra = ((AttrType.UNKNOWN_ATTRIBUTES.value, encode_unknown_attributes(unknown[:32])),)
    return _error(msg, cfg, 420, obs, key, extra)
