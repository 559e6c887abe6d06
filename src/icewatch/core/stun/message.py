"""STUN messages (RFC 8489 §5-§6) and TURN ChannelData (RFC 8656 §12): decode and build.

Decoding is a bounded walk in the order pion/stun's ``Message.Decode`` uses: header
length, magic cookie, message type, the length field against the bytes actually
received, then each attribute's length *before* its value is sliced. Every malformed
input raises :class:`~icewatch.core.errors.StunParseError` naming the field and the
byte offset; nothing else escapes.

Attributes are kept raw and in order (:class:`RawAttribute`); the typed codecs in
:mod:`icewatch.core.stun.attributes` run only when asked. That keeps the hot path of a
listener (decode, check FINGERPRINT, answer a Binding) to a few struct reads.

Ordering rules enforced or recorded:

* FINGERPRINT must be the last attribute (RFC 8489 §14.7); anything after it is an error.
* Attributes after MESSAGE-INTEGRITY are to be ignored by receivers, except
  MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; after MESSAGE-INTEGRITY-SHA256 everything but
  FINGERPRINT is ignored (RFC 8489 §14.5, §14.6). Such attributes are **kept** (they are
  evidence), their indices are listed in :attr:`StunMessage.after_integrity`, and
  :meth:`StunMessage.get` skips them, so code that acts on a message cannot be fooled
  by unauthenticated trailing attributes.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from icewatch.core.errors import StunParseError
from icewatch.core.stun.constants import (
    FINGERPRINT_XOR,
    HEADER_SIZE,
    MAGIC_COOKIE,
    MAX_ATTRIBUTES,
    MAX_BODY_LENGTH,
    AttrType,
    MessageClass,
    Method,
    method_name,
)

__all__ = [
    "CHANNEL_MAX",
    "CHANNEL_MIN",
    "ChannelData",
    "RawAttribute",
    "StunMessage",
    "build_message",
    "decode_channel_data",
    "decode_message",
    "decode_message_type",
    "encode_channel_data",
    "encode_message",
    "encode_message_type",
    "frame_length",
    "is_stun",
]

#: RFC 8656 §12: valid channel numbers; 0x5000-0xFFFF are reserved (RFC 7983).
CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x4FFF

_HEADER = struct.Struct("!HHI")
_ATTR = struct.Struct("!HH")
_unpack_header = _HEADER.unpack_from
_unpack_attr = _ATTR.unpack_from
_tuple_new = tuple.__new__
_pack_attr = _ATTR.pack
_CLASSES = (
    MessageClass.REQUEST,
    MessageClass.INDICATION,
    MessageClass.SUCCESS,
    MessageClass.ERROR,
)
_MI = AttrType.MESSAGE_INTEGRITY.value
_MI256 = AttrType.MESSAGE_INTEGRITY_SHA256.value
_FP = AttrType.FINGERPRINT.value
_SPECIAL = frozenset((_MI, _MI256, _FP))


class RawAttribute(NamedTuple):
    """One attribute as received: type, value (without padding) and header offset."""

    type: int
    value: bytes
    offset: int


@dataclass(frozen=True, slots=True)
class StunMessage:
    """A decoded STUN message (made by :func:`decode_message`).

    ``method`` stays an ``int`` so unknown methods survive (see :attr:`method_name`);
    ``raw`` is the exact datagram decoded (integrity checks need it);
    ``after_integrity`` holds the indices of attributes that follow
    MESSAGE-INTEGRITY(-SHA256) and must be ignored (RFC 8489 §14.5).

    :attr:`attributes` (every attribute, in wire order) is built from ``raw`` on first
    use: :func:`decode_message` has already checked every length, and a listener that
    only needs the header and FINGERPRINT never pays for attribute objects.
    """

    method: int
    msg_class: MessageClass
    transaction_id: bytes
    raw: bytes
    after_integrity: tuple[int, ...] = ()
    _last_offset: int = field(default=-2, repr=False, compare=False)  # -1: none, -2: unknown
    _attributes: tuple[RawAttribute, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def attributes(self) -> tuple[RawAttribute, ...]:
        """Every attribute in wire order (ignored ones included)."""
        attrs = self._attributes
        if attrs is None:
            attrs = _walk(self.raw)
            object.__setattr__(self, "_attributes", attrs)
        return attrs

    @property
    def method_name(self) -> str:
        """``"binding"``, ``"allocate"``…, or ``"0x0ab"`` for an unknown method."""
        return method_name(self.method) or f"0x{self.method:03x}"

    def get(self, attr_type: int) -> RawAttribute | None:
        """The first attribute of this type that counts, or ``None``."""
        skip = self.after_integrity
        if not skip:
            for attr in self.attributes:
                if attr[0] == attr_type:
                    return attr
            return None
        for index, attr in enumerate(self.attributes):
            if attr[0] == attr_type:
                return None if index in skip else attr
        return None

    def get_all(self, attr_type: int) -> tuple[RawAttribute, ...]:
        """Every attribute of this type, ignored ones included (evidence)."""
        return tuple(a for a in self.attributes if a[0] == attr_type)

    def fingerprint(self) -> RawAttribute | None:
        """The FINGERPRINT attribute (always the last one), found without a walk."""
        last = self._last_offset
        raw = self.raw
        if last < 0:
            return None if last == -1 else self.get(_FP)
        if raw[last : last + 2] != b"\x80\x28":
            return None
        return _tuple_new(RawAttribute, (_FP, raw[last + 4 :], last))

    def __contains__(self, attr_type: object) -> bool:
        return isinstance(attr_type, int) and self.get(attr_type) is not None


def _walk(raw: bytes) -> tuple[RawAttribute, ...]:
    """Slice the attributes of an already-checked message (stops at any truncation)."""
    out: list[RawAttribute] = []
    append = out.append
    n = len(raw)
    pos = HEADER_SIZE
    unpack_attr = _unpack_attr
    new_attr = _tuple_new
    raw_attribute = RawAttribute
    while pos + 4 <= n:
        attr_type, attr_len = unpack_attr(raw, pos)
        start = pos + 4
        append(new_attr(raw_attribute, (attr_type, raw[start : start + attr_len], pos)))
        pos = start + ((attr_len + 3) & ~3)
    return tuple(out)


def decode_message_type(msg_type: int) -> tuple[int, MessageClass]:
    """Split the 14-bit message type into (method, class) (RFC 8489 §5, figure 3)."""
    method = (msg_type & 0x000F) | ((msg_type >> 1) & 0x0070) | ((msg_type >> 2) & 0x0F80)
    return method, _CLASSES[((msg_type >> 4) & 1) | ((msg_type >> 7) & 2)]


def encode_message_type(method: int, msg_class: int) -> int:
    """Interleave a 12-bit method and the 2 class bits into the message type."""
    if not 0 <= method <= 0x0FFF:
        raise ValueError(f"method {method:#x} does not fit in 12 bits")
    if not 0 <= msg_class <= 3:
        raise ValueError(f"message class {msg_class} out of range 0..3")
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((msg_class & 1) << 4)
        | ((msg_class & 2) << 7)
    )


def is_stun(data: bytes) -> bool:
    """Cheap demultiplexing test (RFC 7983): top two bits zero and the magic cookie."""
    return len(data) >= HEADER_SIZE and data[0] < 0x40 and data[4:8] == b"\x21\x12\xa4\x42"


def decode_message(data: bytes | bytearray | memoryview) -> StunMessage:
    """Decode one STUN message; raise :class:`StunParseError` for anything malformed."""
    if not isinstance(data, bytes):
        data = bytes(data)
    n = len(data)
    if n < HEADER_SIZE:
        raise StunParseError("header", f"{n} bytes, a STUN header needs 20", offset=0)
    msg_type, length, cookie = _unpack_header(data, 0)
    if cookie != MAGIC_COOKIE:
        raise StunParseError("magic cookie", f"0x{cookie:08x} is not 0x2112a442", offset=4)
    if msg_type & 0xC000:
        raise StunParseError("message type", "the top two bits are not zero", offset=0)
    if length & 3:
        raise StunParseError("length", f"{length} is not a multiple of 4", offset=2)
    if length != n - HEADER_SIZE:
        raise StunParseError(
            "length", f"header says {length} bytes, {n - HEADER_SIZE} follow", offset=2
        )
    pos = HEADER_SIZE
    last = -1
    ignored: tuple[int, ...] = ()
    unpack_attr = _unpack_attr
    special = _SPECIAL
    for index in _ATTRIBUTE_SLOTS if n > HEADER_SIZE else ():
        if pos >= n:
            break
        # pos and n are multiples of 4 here, so a whole attribute header is present.
        attr_type, attr_len = unpack_attr(data, pos)
        following = pos + 4 + ((attr_len + 3) & ~3)
        if following > n:
            raise _overrun(attr_type, attr_len, pos)
        if attr_type in special:
            if attr_type == _FP and following == n:
                last = pos  # the usual case: FINGERPRINT closes the message
            else:
                ignored, last = _walk_tail(data, pos, index)
            break
        last = pos
        pos = following
    else:
        if pos < n:
            raise StunParseError("attributes", f"more than {MAX_ATTRIBUTES}", offset=pos)
    method_class = _KNOWN_TYPES.get(msg_type)
    if method_class is None:
        method_class = decode_message_type(msg_type)
    message = _new_message(StunMessage)
    _set_method(message, method_class[0])
    _set_class(message, method_class[1])
    _set_tid(message, data[8:20])
    _set_raw(message, data)
    _set_after_integrity(message, ignored)
    _set_last_offset(message, last)
    _set_attributes(message, None)
    return message


def _too_many(pos: int) -> int:
    raise StunParseError("attributes", f"more than {MAX_ATTRIBUTES}", offset=pos)


def _overrun(attr_type: int, attr_len: int, pos: int) -> StunParseError:
    return StunParseError(
        f"attribute 0x{attr_type:04x}",
        f"value of {attr_len} bytes (padded) runs past the end of the message",
        offset=pos,
    )


def _walk_tail(data: bytes, pos: int, index: int) -> tuple[tuple[int, ...], int]:
    """Finish the walk from the first integrity/FINGERPRINT attribute, in the slow lane.

    Enforces FINGERPRINT last (§14.7) and lists the attributes that follow
    MESSAGE-INTEGRITY(-SHA256) and must be ignored (§14.5, §14.6). Returns those indices
    and the offset of the last attribute.
    """
    n = len(data)
    if (
        pos + 32 == n
        and data[pos : pos + 4] == b"\x00\x08\x00\x14"
        and data[pos + 24 : pos + 28] == b"\x80\x28\x00\x04"
    ):
        # The usual case: MESSAGE-INTEGRITY (20 bytes) then FINGERPRINT, nothing else.
        return (), pos + 24 if index + 1 < MAX_ATTRIBUTES else _too_many(pos + 24)
    ignored: list[int] = []
    integrity = 0  # 0: none seen yet, 1: after MESSAGE-INTEGRITY, 2: after MI-SHA256
    last = pos
    while pos < n:
        if index >= MAX_ATTRIBUTES:
            raise StunParseError("attributes", f"more than {MAX_ATTRIBUTES}", offset=pos)
        attr_type, attr_len = _unpack_attr(data, pos)
        following = pos + 4 + ((attr_len + 3) & ~3)
        if following > n:
            raise _overrun(attr_type, attr_len, pos)
        if attr_type == _FP:
            if following != n:
                raise StunParseError("fingerprint", "not the last attribute", offset=pos)
        elif integrity:
            if attr_type == _MI256 and integrity == 1:
                integrity = 2
            else:
                ignored.append(index)
        elif attr_type == _MI:
            integrity = 1
        elif attr_type == _MI256:
            integrity = 2
        last = pos
        pos = following
        index += 1
    return tuple(ignored), last


_ATTRIBUTE_SLOTS = range(MAX_ATTRIBUTES)
#: (method, class) of every message type with a known method: a dict hit is cheaper
#: than the bit arithmetic of :func:`decode_message_type`.
_KNOWN_TYPES: dict[int, tuple[int, MessageClass]] = {
    encode_message_type(m, c): (int(m), c) for m in Method for c in MessageClass
}

# Fast construction for decode_message: the slot descriptors of the frozen dataclass,
# set once each on a fresh instance (what the generated __init__ does, minus its cost).
_new_message = object.__new__
(
    _set_method,
    _set_class,
    _set_tid,
    _set_raw,
    _set_after_integrity,
    _set_last_offset,
    _set_attributes,
) = (
    getattr(StunMessage, name).__set__
    for name in (
        "method",
        "msg_class",
        "transaction_id",
        "raw",
        "after_integrity",
        "_last_offset",
        "_attributes",
    )
)


def _check_tid(transaction_id: bytes) -> None:
    if len(transaction_id) != 12:
        raise ValueError(f"transaction id must be 12 bytes, not {len(transaction_id)}")


def build_message(
    method: int,
    msg_class: int,
    transaction_id: bytes,
    attributes: Iterable[tuple[int, bytes]] = (),
    *,
    integrity_key: bytes | None = None,
    integrity_sha256_key: bytes | None = None,
    fingerprint: bool = False,
    pad_byte: int = 0,
) -> bytes:
    """Encode a STUN message.

    ``attributes`` are ``(type, value)`` pairs in order (use the ``encode_*`` helpers of
    :mod:`icewatch.core.stun.attributes` for typed values); each value is padded to 4
    bytes with ``pad_byte`` (0, or e.g. 0x20 to reproduce RFC 5769 §2.1). Then, in the
    RFC order, MESSAGE-INTEGRITY (HMAC-SHA1 with ``integrity_key``, §14.5),
    MESSAGE-INTEGRITY-SHA256 (full 32 bytes with ``integrity_sha256_key``, §14.6) and
    FINGERPRINT (§14.7) are appended, each computed over the message so far with the
    length field already counting the attribute being added.

    Bad arguments (not untrusted input) raise ``ValueError``.
    """
    _check_tid(transaction_id)
    msg_type = encode_message_type(method, msg_class)
    if not 0 <= pad_byte <= 255:
        raise ValueError(f"pad byte {pad_byte} out of range 0..255")
    pad = bytes([pad_byte]) * 3
    parts: list[bytes] = []
    for attr_type, value in attributes:
        if not 0 <= attr_type <= 0xFFFF:
            raise ValueError(f"attribute type {attr_type:#x} does not fit in 16 bits")
        size = len(value)
        if size > 0xFFFF:
            raise ValueError(f"attribute 0x{attr_type:04x}: value of {size} bytes is too long")
        parts.append(_pack_attr(attr_type, size))
        parts.append(bytes(value))
        if size & 3:
            parts.append(pad[: 4 - (size & 3)])
    body = b"".join(parts)
    extra = (
        (24 if integrity_key is not None else 0)
        + (36 if integrity_sha256_key is not None else 0)
        + (8 if fingerprint else 0)
    )
    if len(body) + extra > MAX_BODY_LENGTH:
        raise ValueError(f"message body of {len(body) + extra} bytes exceeds {MAX_BODY_LENGTH}")
    tail = _HEADER.pack(msg_type, 0, MAGIC_COOKIE)[4:] + transaction_id
    type_bytes = msg_type.to_bytes(2, "big")

    def prefix(length: int) -> bytes:
        return type_bytes + length.to_bytes(2, "big") + tail + body

    if integrity_key is not None:
        mac = hmac.new(integrity_key, prefix(len(body) + 24), hashlib.sha1).digest()
        body += _pack_attr(_MI, 20) + mac
    if integrity_sha256_key is not None:
        mac = hmac.new(integrity_sha256_key, prefix(len(body) + 36), hashlib.sha256).digest()
        body += _pack_attr(_MI256, 32) + mac
    if fingerprint:
        crc = zlib.crc32(prefix(len(body) + 8)) ^ FINGERPRINT_XOR
        body += _pack_attr(_FP, 4) + crc.to_bytes(4, "big")
    return prefix(len(body))


def encode_message(message: StunMessage, *, pad_byte: int = 0) -> bytes:
    """Re-encode a decoded message's raw attributes as they are (no integrity recomputed)."""
    return build_message(
        message.method,
        message.msg_class,
        message.transaction_id,
        ((a.type, a.value) for a in message.attributes),
        pad_byte=pad_byte,
    )


# --- TCP framing and TURN ChannelData ------------------------------------------------


def frame_length(prefix: bytes) -> int | None:
    """Length of the frame starting a TCP stream buffer, or ``None`` if < 4 bytes are known.

    RFC 8489 §6.2.2 / RFC 8656 §12.5: over TCP, STUN messages and ChannelData messages
    share the stream. A first byte with top bits ``00`` starts a STUN message
    (20 + length); ``01`` starts ChannelData (4 + length, padded to 4 over TCP). Top bits
    ``10``/``11`` cannot start either, and a STUN length that is not a multiple of 4 is
    corrupt: both raise :class:`StunParseError` (the stream cannot be resynchronised).
    """
    if len(prefix) < 4:
        return None
    top = prefix[0] >> 6
    length = (prefix[2] << 8) | prefix[3]
    if top == 0:
        if length & 3:
            raise StunParseError("length", f"{length} is not a multiple of 4", offset=2)
        return HEADER_SIZE + length
    if top == 1:
        return 4 + ((length + 3) & ~3)
    raise StunParseError(
        "frame", f"first byte 0x{prefix[0]:02x} starts neither STUN nor ChannelData", offset=0
    )


@dataclass(frozen=True, slots=True)
class ChannelData:
    """A TURN ChannelData message (RFC 8656 §12.4): channel number and application data."""

    channel: int
    data: bytes


def decode_channel_data(data: bytes, *, tcp: bool = False) -> ChannelData:
    """Decode a ChannelData message.

    Over UDP (``tcp=False``) up to 3 padding bytes after the data are accepted
    (RFC 8656 §12.5: padding MAY be present); over TCP the padding must be exactly there.
    The channel number must be in 0x4000-0x4FFF.
    """
    n = len(data)
    if n < 4:
        raise StunParseError("channel data header", f"{n} bytes, it needs 4", offset=0)
    channel = (data[0] << 8) | data[1]
    length = (data[2] << 8) | data[3]
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise StunParseError(
            "channel number", f"0x{channel:04x} is outside 0x4000-0x4FFF", offset=0
        )
    end = 4 + length
    padded = 4 + ((length + 3) & ~3)
    if n < end:
        raise StunParseError(
            "channel data length", f"header says {length} bytes, {n - 4} follow", offset=2
        )
    if (tcp and n != padded) or n > padded:
        raise StunParseError(
            "channel data length",
            f"{n - end} bytes follow the {length} data bytes",
            offset=end,
        )
    return ChannelData(channel, bytes(data[4:end]))


def encode_channel_data(channel: int, payload: bytes, *, tcp: bool = False) -> bytes:
    """Encode a ChannelData message; pad to 4 bytes when ``tcp`` is true."""
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise ValueError(f"channel number {channel:#x} is outside 0x4000-0x4FFF")
    if len(payload) > 0xFFFF:
        raise ValueError(f"channel data of {len(payload)} bytes is too long")
    out = _ATTR.pack(channel, len(payload)) + payload
    if tcp and len(payload) & 3:
        out += bytes(4 - (len(payload) & 3))
    return out
