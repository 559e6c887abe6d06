"""STUN/TURN wire numbers (RFC 8489, RFC 8656, RFC 8445, IANA "STUN Parameters").

Every enum value carries the document and section that defines it. Unknown methods and
attribute types are *not* errors: the codec keeps them as plain ``int`` and only the
names below are recognised.

Size limits
-----------
The STUN header's 16-bit length field bounds a message at ``20 + 65532`` bytes (the
length is a multiple of 4), which is :data:`MAX_MESSAGE_SIZE`: the codec accepts
anything up to it. A UDP listener should refuse far smaller datagrams before decoding
(RFC 8489 §6.1 keeps STUN under the path MTU; browsers send 20-200 byte requests and
TURN Send indications stay below ~1500 bytes), so it is the listener's cap, not the
codec's, that protects the server. :data:`MAX_ATTRIBUTES` bounds the attribute walk.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ERROR_REASONS",
    "FINGERPRINT_XOR",
    "HEADER_SIZE",
    "MAGIC_COOKIE",
    "MAGIC_COOKIE_BYTES",
    "MAX_ATTRIBUTES",
    "MAX_BODY_LENGTH",
    "MAX_MESSAGE_SIZE",
    "AddressFamily",
    "AttrType",
    "ErrorCodeValue",
    "MessageClass",
    "Method",
    "PasswordAlgorithmId",
    "attribute_name",
    "comprehension_required",
    "method_name",
]

#: RFC 8489 §5: fixed value in bytes 4..8 of every STUN message.
MAGIC_COOKIE = 0x2112A442
MAGIC_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
#: RFC 8489 §5: message type (2) + length (2) + magic cookie (4) + transaction id (12).
HEADER_SIZE = 20
#: Largest value of the header's length field: 16 bits, and a multiple of 4.
MAX_BODY_LENGTH = 65532
#: Largest message the codec decodes or builds (header + the largest body).
MAX_MESSAGE_SIZE = HEADER_SIZE + MAX_BODY_LENGTH
#: Most attributes decoded from one message; real messages carry fewer than 20.
MAX_ATTRIBUTES = 128
#: RFC 8489 §14.7: FINGERPRINT is CRC-32 of the message XOR this value ("STUN").
FINGERPRINT_XOR = 0x5354554E


class Method(IntEnum):
    """STUN/TURN methods (12 bits)."""

    BINDING = 0x001  # RFC 8489 §18.2
    ALLOCATE = 0x003  # RFC 8656 §7 / §17
    REFRESH = 0x004  # RFC 8656 §8
    SEND = 0x006  # RFC 8656 §11.1 (indication only)
    DATA = 0x007  # RFC 8656 §11.3 (indication only)
    CREATE_PERMISSION = 0x008  # RFC 8656 §10
    CHANNEL_BIND = 0x009  # RFC 8656 §12


class MessageClass(IntEnum):
    """The two class bits C1 C0 of the message type (RFC 8489 §5)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class AddressFamily(IntEnum):
    """Family byte of the address attributes (RFC 8489 §14.1)."""

    IPV4 = 0x01
    IPV6 = 0x02


class AttrType(IntEnum):
    """Attribute types. Below 0x8000 comprehension-required, from 0x8000 optional."""

    # comprehension-required (0x0000-0x7FFF)
    MAPPED_ADDRESS = 0x0001  # RFC 8489 §14.1
    CHANGE_REQUEST = 0x0003  # RFC 5780 §7.2
    SOURCE_ADDRESS = 0x0004  # RFC 3489 §11.2.3 (legacy, reserved since RFC 5389)
    CHANGED_ADDRESS = 0x0005  # RFC 3489 §11.2.3 (legacy, reserved since RFC 5389)
    USERNAME = 0x0006  # RFC 8489 §14.3
    MESSAGE_INTEGRITY = 0x0008  # RFC 8489 §14.5
    ERROR_CODE = 0x0009  # RFC 8489 §14.8
    UNKNOWN_ATTRIBUTES = 0x000A  # RFC 8489 §14.13
    CHANNEL_NUMBER = 0x000C  # RFC 8656 §18.1
    LIFETIME = 0x000D  # RFC 8656 §18.2
    XOR_PEER_ADDRESS = 0x0012  # RFC 8656 §18.3
    DATA = 0x0013  # RFC 8656 §18.4
    REALM = 0x0014  # RFC 8489 §14.9
    NONCE = 0x0015  # RFC 8489 §14.10
    XOR_RELAYED_ADDRESS = 0x0016  # RFC 8656 §18.5
    REQUESTED_ADDRESS_FAMILY = 0x0017  # RFC 8656 §18.6
    EVEN_PORT = 0x0018  # RFC 8656 §18.7
    REQUESTED_TRANSPORT = 0x0019  # RFC 8656 §18.8
    DONT_FRAGMENT = 0x001A  # RFC 8656 §18.9
    MESSAGE_INTEGRITY_SHA256 = 0x001C  # RFC 8489 §14.6
    PASSWORD_ALGORITHM = 0x001D  # RFC 8489 §14.12
    USERHASH = 0x001E  # RFC 8489 §14.4
    XOR_MAPPED_ADDRESS = 0x0020  # RFC 8489 §14.2
    RESERVATION_TOKEN = 0x0022  # RFC 8656 §18.10
    PRIORITY = 0x0024  # RFC 8445 §16.1
    USE_CANDIDATE = 0x0025  # RFC 8445 §16.1
    PADDING = 0x0026  # RFC 5780 §7.6
    RESPONSE_PORT = 0x0027  # RFC 5780 §7.5
    CONNECTION_ID = 0x002A  # RFC 6062 §6.2.1
    # comprehension-optional (0x8000-0xFFFF)
    ADDITIONAL_ADDRESS_FAMILY = 0x8000  # RFC 8656 §18.11
    ADDRESS_ERROR_CODE = 0x8001  # RFC 8656 §18.12
    PASSWORD_ALGORITHMS = 0x8002  # RFC 8489 §14.11
    ALTERNATE_DOMAIN = 0x8003  # RFC 8489 §14.16
    ICMP = 0x8004  # RFC 8656 §18.13
    SOFTWARE = 0x8022  # RFC 8489 §14.14
    ALTERNATE_SERVER = 0x8023  # RFC 8489 §14.15
    FINGERPRINT = 0x8028  # RFC 8489 §14.7
    ICE_CONTROLLED = 0x8029  # RFC 8445 §16.1
    ICE_CONTROLLING = 0x802A  # RFC 8445 §16.1
    RESPONSE_ORIGIN = 0x802B  # RFC 5780 §7.3
    OTHER_ADDRESS = 0x802C  # RFC 5780 §7.4
    # Google/libwebrtc private range (api/transport/stun.h); seen from Chromium
    GOOG_NETWORK_INFO = 0xC057  # u32: network id (high 16 bits), network cost (low 16)
    GOOG_LAST_ICE_CHECK_RECEIVED = 0xC058
    GOOG_MISC_INFO = 0xC059


class PasswordAlgorithmId(IntEnum):
    """PASSWORD-ALGORITHM values (RFC 8489 §18.5)."""

    MD5 = 0x0001
    SHA256 = 0x0002


class ErrorCodeValue(IntEnum):
    """Well-known ERROR-CODE values; :data:`ERROR_REASONS` gives their reason phrases."""

    TRY_ALTERNATE = 300  # RFC 8489 §14.8
    BAD_REQUEST = 400  # RFC 8489 §14.8
    UNAUTHENTICATED = 401  # RFC 8489 §14.8 ("Unauthorized" in RFC 5389)
    FORBIDDEN = 403  # RFC 8656 §19
    UNKNOWN_ATTRIBUTE = 420  # RFC 8489 §14.8
    ALLOCATION_MISMATCH = 437  # RFC 8656 §19
    STALE_NONCE = 438  # RFC 8489 §14.8
    ADDRESS_FAMILY_NOT_SUPPORTED = 440  # RFC 8656 §19
    WRONG_CREDENTIALS = 441  # RFC 8656 §19
    UNSUPPORTED_TRANSPORT_PROTOCOL = 442  # RFC 8656 §19
    PEER_ADDRESS_FAMILY_MISMATCH = 443  # RFC 8656 §19
    ALLOCATION_QUOTA_REACHED = 486  # RFC 8656 §19
    ROLE_CONFLICT = 487  # RFC 8445 §7.3.1.1
    SERVER_ERROR = 500  # RFC 8489 §14.8
    INSUFFICIENT_CAPACITY = 508  # RFC 8656 §19


#: Recommended reason phrases (the RFCs' wording).
ERROR_REASONS: dict[int, str] = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthenticated",
    403: "Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    486: "Allocation Quota Reached",
    487: "Role Conflict",
    500: "Server Error",
    508: "Insufficient Capacity",
}

_ATTR_NAMES: dict[int, str] = {a.value: a.name.lower().replace("_", "-") for a in AttrType}
_METHOD_NAMES: dict[int, str] = {m.value: m.name.lower().replace("_", "-") for m in Method}


def comprehension_required(attr_type: int) -> bool:
    """RFC 8489 §14: types 0x0000-0x7FFF must be understood, 0x8000-0xFFFF may be skipped."""
    return attr_type < 0x8000


def attribute_name(attr_type: int) -> str | None:
    """Lower-case hyphenated name (``"xor-mapped-address"``), or ``None`` when unknown."""
    return _ATTR_NAMES.get(attr_type)


def method_name(method: int) -> str | None:
    """Lower-case hyphenated name (``"create-permission"``), or ``None`` when unknown."""
    return _METHOD_NAMES.get(method)
