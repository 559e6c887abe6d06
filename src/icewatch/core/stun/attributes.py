"""Typed attribute codecs, run on demand over :class:`RawAttribute` values.

Each ``decode_*`` takes the attribute *value* (padding already stripped) and returns a
typed value or raises :class:`~icewatch.core.errors.StunParseError` (field = the
attribute name); each ``encode_*`` returns the value bytes for
:func:`~icewatch.core.stun.message.build_message`. Fixed sizes are checked exactly: a
2-byte PRIORITY is an error, not a ``struct.error``.

:func:`typed_attributes` decodes every attribute of a message, in order, recording a
per-attribute error note instead of failing the whole message — forensic evidence
keeps what could not be understood.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from icewatch.core.errors import StunParseError
from icewatch.core.stun.constants import (
    ERROR_REASONS,
    MAGIC_COOKIE,
    MAGIC_COOKIE_BYTES,
    AddressFamily,
    AttrType,
    attribute_name,
)
from icewatch.core.stun.message import StunMessage

__all__ = [
    "MAX_REALM_BYTES",
    "MAX_TEXT_BYTES",
    "MAX_USERNAME_BYTES",
    "AddressError",
    "AttributeInfo",
    "ErrorCode",
    "Icmp",
    "NetworkInfo",
    "PasswordAlgorithm",
    "TransportAddress",
    "decode_address",
    "decode_address_error_code",
    "decode_attribute",
    "decode_channel_number",
    "decode_error_code",
    "decode_even_port",
    "decode_fingerprint",
    "decode_icmp",
    "decode_lifetime",
    "decode_message_integrity",
    "decode_message_integrity_sha256",
    "decode_network_info",
    "decode_password_algorithm",
    "decode_password_algorithms",
    "decode_priority",
    "decode_requested_address_family",
    "decode_requested_transport",
    "decode_reservation_token",
    "decode_text",
    "decode_tie_breaker",
    "decode_unknown_attributes",
    "decode_userhash",
    "decode_xor_address",
    "describe_attributes",
    "encode_address",
    "encode_channel_number",
    "encode_error_code",
    "encode_lifetime",
    "encode_network_info",
    "encode_priority",
    "encode_requested_transport",
    "encode_text",
    "encode_tie_breaker",
    "encode_unknown_attributes",
    "encode_xor_address",
    "typed_attributes",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: RFC 5389 §15.3: USERNAME is fewer than 513 bytes (RFC 8489 tightened it to 509;
#: the looser bound is kept so legacy peers are decoded, not rejected).
MAX_USERNAME_BYTES = 512
#: RFC 5389 §15.7-15.10: REALM, NONCE, SOFTWARE and reason phrases under 763 bytes.
MAX_TEXT_BYTES = 762
MAX_REALM_BYTES = MAX_TEXT_BYTES

_TEXT_LIMITS = {
    AttrType.USERNAME: MAX_USERNAME_BYTES,
    AttrType.REALM: MAX_TEXT_BYTES,
    AttrType.NONCE: MAX_TEXT_BYTES,
    AttrType.SOFTWARE: MAX_TEXT_BYTES,
    AttrType.ALTERNATE_DOMAIN: 255,
}


def _name(attr_type: int) -> str:
    return attribute_name(attr_type) or f"attribute 0x{attr_type:04x}"


def _need(value: bytes, size: int, field: str) -> None:
    if len(value) != size:
        raise StunParseError(field, f"value is {len(value)} bytes, expected {size}")


# --- addresses ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransportAddress:
    """An IP address and a port, as carried by the address attributes."""

    ip: IPAddress
    port: int

    @property
    def family(self) -> AddressFamily:
        return AddressFamily.IPV4 if self.ip.version == 4 else AddressFamily.IPV6

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}" if self.ip.version == 4 else f"[{self.ip}]:{self.port}"


def decode_address(value: bytes, field: str = "mapped-address") -> TransportAddress:
    """MAPPED-ADDRESS layout (RFC 8489 §14.1): 0, family, port, 4 or 16 address bytes.

    Also ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS. The reserved first byte is
    ignored as the RFC asks.
    """
    if len(value) < 4:
        raise StunParseError(field, f"value is {len(value)} bytes, an address needs 8 or 20")
    family = value[1]
    port = (value[2] << 8) | value[3]
    if family == AddressFamily.IPV4:
        _need(value, 8, field)
        return TransportAddress(ipaddress.IPv4Address(value[4:8]), port)
    if family == AddressFamily.IPV6:
        _need(value, 20, field)
        return TransportAddress(ipaddress.IPv6Address(value[4:20]), port)
    raise StunParseError(field, f"unknown address family 0x{family:02x}")


def decode_xor_address(
    value: bytes, transaction_id: bytes, field: str = "xor-mapped-address"
) -> TransportAddress:
    """XOR-MAPPED-ADDRESS layout (RFC 8489 §14.2), also XOR-PEER/RELAYED-ADDRESS.

    The port is XORed with the top 16 bits of the magic cookie, an IPv4 address with the
    cookie, an IPv6 address with the cookie followed by the 12-byte transaction id.
    """
    if len(value) < 4:
        raise StunParseError(field, f"value is {len(value)} bytes, an address needs 8 or 20")
    family = value[1]
    port = ((value[2] << 8) | value[3]) ^ (MAGIC_COOKIE >> 16)
    if family == AddressFamily.IPV4:
        _need(value, 8, field)
        ip4 = int.from_bytes(value[4:8], "big") ^ MAGIC_COOKIE
        return TransportAddress(ipaddress.IPv4Address(ip4), port)
    if family == AddressFamily.IPV6:
        _need(value, 20, field)
        if len(transaction_id) != 12:
            raise ValueError("transaction id must be 12 bytes")
        mask = int.from_bytes(MAGIC_COOKIE_BYTES + transaction_id, "big")
        ip6 = int.from_bytes(value[4:20], "big") ^ mask
        return TransportAddress(ipaddress.IPv6Address(ip6), port)
    raise StunParseError(field, f"unknown address family 0x{family:02x}")


def _check_port(port: int) -> None:
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"port {port} out of range 0..65535")


def encode_address(address: TransportAddress) -> bytes:
    """Value of MAPPED-ADDRESS / ALTERNATE-SERVER / RESPONSE-ORIGIN / OTHER-ADDRESS."""
    _check_port(address.port)
    return bytes((0, address.family)) + address.port.to_bytes(2, "big") + address.ip.packed


def encode_xor_address(address: TransportAddress, transaction_id: bytes) -> bytes:
    """Value of XOR-MAPPED-ADDRESS / XOR-PEER-ADDRESS / XOR-RELAYED-ADDRESS."""
    _check_port(address.port)
    if len(transaction_id) != 12:
        raise ValueError("transaction id must be 12 bytes")
    port = (address.port ^ (MAGIC_COOKIE >> 16)).to_bytes(2, "big")
    if address.ip.version == 4:
        ip = (int(address.ip) ^ MAGIC_COOKIE).to_bytes(4, "big")
    else:
        mask = int.from_bytes(MAGIC_COOKIE_BYTES + transaction_id, "big")
        ip = (int(address.ip) ^ mask).to_bytes(16, "big")
    return bytes((0, address.family)) + port + ip


# --- text -------------------------------------------------------------------------------


def decode_text(value: bytes, field: str = "software", limit: int = MAX_TEXT_BYTES) -> str:
    """USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN: UTF-8 text under a byte limit."""
    if len(value) > limit:
        raise StunParseError(field, f"{len(value)} bytes, the limit is {limit}")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StunParseError(field, f"not UTF-8 ({exc.reason} at value byte {exc.start})") from None


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of a text attribute (caller picks the type)."""
    return text.encode("utf-8")


# --- error codes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """ERROR-CODE (RFC 8489 §14.8): a 300-699 code and its reason phrase."""

    code: int
    reason: str


def decode_error_code(value: bytes, field: str = "error-code") -> ErrorCode:
    """21 reserved bits, class (3 bits, 3-6), number (0-99), UTF-8 reason phrase."""
    if len(value) < 4:
        raise StunParseError(field, f"value is {len(value)} bytes, it needs at least 4")
    klass = value[2] & 0x07
    number = value[3]
    if not 3 <= klass <= 6:
        raise StunParseError(field, f"class {klass} is outside 3..6")
    if number > 99:
        raise StunParseError(field, f"number {number} is above 99")
    return ErrorCode(klass * 100 + number, decode_text(value[4:], field, MAX_TEXT_BYTES))


def encode_error_code(code: int, reason: str | None = None) -> bytes:
    """ERROR-CODE value; ``reason`` defaults to the RFC phrase for well-known codes."""
    if not 300 <= code <= 699:
        raise ValueError(f"error code {code} outside 300..699")
    if reason is None:
        reason = ERROR_REASONS.get(code, "")
    return bytes((0, 0, code // 100, code % 100)) + reason.encode("utf-8")


@dataclass(frozen=True, slots=True)
class AddressError:
    """ADDRESS-ERROR-CODE (RFC 8656 §18.12): a family and an error code."""

    family: int
    code: int
    reason: str


def decode_address_error_code(value: bytes) -> AddressError:
    field = "address-error-code"
    if len(value) < 4:
        raise StunParseError(field, f"value is {len(value)} bytes, it needs at least 4")
    inner = decode_error_code(bytes(2) + value[2:], field)
    return AddressError(value[0], inner.code, inner.reason)


def decode_unknown_attributes(value: bytes) -> tuple[int, ...]:
    """UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): a list of 16-bit types."""
    if len(value) & 1:
        raise StunParseError("unknown-attributes", f"odd length {len(value)}")
    return tuple((value[i] << 8) | value[i + 1] for i in range(0, len(value), 2))


def encode_unknown_attributes(types: tuple[int, ...] | list[int]) -> bytes:
    return b"".join(t.to_bytes(2, "big") for t in types)


# --- integers ---------------------------------------------------------------------------


def _u32(value: bytes, field: str) -> int:
    _need(value, 4, field)
    return int.from_bytes(value, "big")


def decode_priority(value: bytes) -> int:
    """PRIORITY (RFC 8445 §16.1): u32."""
    return _u32(value, "priority")


def encode_priority(priority: int) -> bytes:
    return priority.to_bytes(4, "big")


def decode_lifetime(value: bytes) -> int:
    """LIFETIME (RFC 8656 §18.2): seconds, u32."""
    return _u32(value, "lifetime")


def encode_lifetime(seconds: int) -> bytes:
    return seconds.to_bytes(4, "big")


def decode_fingerprint(value: bytes) -> int:
    """FINGERPRINT (RFC 8489 §14.7): the CRC-32 XOR 0x5354554E, u32."""
    return _u32(value, "fingerprint")


def decode_tie_breaker(value: bytes, field: str = "ice-controlling") -> int:
    """ICE-CONTROLLED / ICE-CONTROLLING (RFC 8445 §16.1): u64 tie-breaker."""
    _need(value, 8, field)
    return int.from_bytes(value, "big")


def encode_tie_breaker(tie_breaker: int) -> bytes:
    return tie_breaker.to_bytes(8, "big")


def decode_message_integrity(value: bytes) -> bytes:
    """MESSAGE-INTEGRITY (RFC 8489 §14.5): 20-byte HMAC-SHA1."""
    _need(value, 20, "message-integrity")
    return value


def decode_message_integrity_sha256(value: bytes) -> bytes:
    """MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): 16-32 bytes, a multiple of 4."""
    if not 16 <= len(value) <= 32 or len(value) & 3:
        raise StunParseError(
            "message-integrity-sha256", f"value is {len(value)} bytes, expected 16..32 by 4"
        )
    return value


def decode_requested_transport(value: bytes) -> int:
    """REQUESTED-TRANSPORT (RFC 8656 §18.8): protocol number (17 UDP, 6 TCP) + 3 RFFU."""
    _need(value, 4, "requested-transport")
    return value[0]


def encode_requested_transport(protocol: int = 17) -> bytes:
    return bytes((protocol, 0, 0, 0))


def decode_channel_number(value: bytes) -> int:
    """CHANNEL-NUMBER (RFC 8656 §18.1): u16 + 2 RFFU (validity is the server's call)."""
    _need(value, 4, "channel-number")
    return (value[0] << 8) | value[1]


def encode_channel_number(channel: int) -> bytes:
    return channel.to_bytes(2, "big") + b"\x00\x00"


def decode_requested_address_family(value: bytes, field: str = "requested-address-family") -> int:
    """REQUESTED-/ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.6, §18.11): family + 3 RFFU."""
    _need(value, 4, field)
    if value[0] not in (1, 2):
        raise StunParseError(field, f"unknown address family 0x{value[0]:02x}")
    return value[0]


def decode_even_port(value: bytes) -> bool:
    """EVEN-PORT (RFC 8656 §18.7): one byte, the R (reserve next port) bit first."""
    _need(value, 1, "even-port")
    return bool(value[0] & 0x80)


def decode_reservation_token(value: bytes) -> bytes:
    """RESERVATION-TOKEN (RFC 8656 §18.10): 8 opaque bytes."""
    _need(value, 8, "reservation-token")
    return value


def decode_userhash(value: bytes) -> bytes:
    """USERHASH (RFC 8489 §14.4): SHA-256 of username ":" realm, 32 bytes."""
    _need(value, 32, "userhash")
    return value


def _empty(value: bytes, field: str) -> None:
    _need(value, 0, field)


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """GOOG-NETWORK-INFO (0xC057, libwebrtc): u32 = network id << 16 | network cost.

    libwebrtc ``p2p/base/connection.cc`` reads ``network_info >> 16`` as the id and the
    low 16 bits as the cost (``rtc_base/network_constants.h``: 0 wired, 10 Wi-Fi,
    50 unknown, 900 cellular, 999 any-address; +1 behind a VPN adapter).
    """

    network_id: int
    network_cost: int


def decode_network_info(value: bytes) -> NetworkInfo:
    raw = _u32(value, "goog-network-info")
    return NetworkInfo(raw >> 16, raw & 0xFFFF)


def encode_network_info(info: NetworkInfo) -> bytes:
    return ((info.network_id << 16) | info.network_cost).to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class PasswordAlgorithm:
    """PASSWORD-ALGORITHM / one entry of PASSWORD-ALGORITHMS (RFC 8489 §14.11-§14.12)."""

    algorithm: int
    parameters: bytes


def decode_password_algorithms(
    value: bytes, field: str = "password-algorithms"
) -> tuple[PasswordAlgorithm, ...]:
    """Entries of algorithm (u16), parameter length (u16), parameters padded to 4."""
    out: list[PasswordAlgorithm] = []
    pos = 0
    n = len(value)
    while pos < n:
        if n - pos < 4:
            raise StunParseError(field, f"entry header truncated at value byte {pos}")
        alg = (value[pos] << 8) | value[pos + 1]
        plen = (value[pos + 2] << 8) | value[pos + 3]
        end = pos + 4 + plen
        if end > n:
            raise StunParseError(field, f"parameters run past the value at value byte {pos}")
        out.append(PasswordAlgorithm(alg, value[pos + 4 : end]))
        pos = pos + 4 + ((plen + 3) & ~3)
    return tuple(out)


def decode_password_algorithm(value: bytes) -> PasswordAlgorithm:
    entries = decode_password_algorithms(value, "password-algorithm")
    if len(entries) != 1:
        raise StunParseError("password-algorithm", f"{len(entries)} entries, expected 1")
    return entries[0]


@dataclass(frozen=True, slots=True)
class Icmp:
    """ICMP (RFC 8656 §18.13): ICMP type, code and 4 bytes of error data."""

    icmp_type: int
    icmp_code: int
    error_data: bytes


def decode_icmp(value: bytes) -> Icmp:
    _need(value, 8, "icmp")
    return Icmp(value[2], value[3], value[4:8])


# --- dispatch ---------------------------------------------------------------------------

_Decoder = Callable[[bytes, bytes], Any]


def _text_decoder(attr: AttrType) -> _Decoder:
    field = _name(attr)
    limit = _TEXT_LIMITS[attr]
    return lambda v, _tid: decode_text(v, field, limit)


def _addr(field: str) -> _Decoder:
    return lambda v, _tid: decode_address(v, field)


def _xaddr(field: str) -> _Decoder:
    return lambda v, tid: decode_xor_address(v, tid, field)


def _fixed_empty(field: str) -> _Decoder:
    return lambda v, _tid: _empty(v, field)


A = AttrType
_DECODERS: dict[int, _Decoder] = {
    A.MAPPED_ADDRESS: _addr("mapped-address"),
    A.SOURCE_ADDRESS: _addr("source-address"),
    A.CHANGED_ADDRESS: _addr("changed-address"),
    A.CHANGE_REQUEST: lambda v, _t: _u32(v, "change-request"),
    A.USERNAME: _text_decoder(A.USERNAME),
    A.MESSAGE_INTEGRITY: lambda v, _t: decode_message_integrity(v),
    A.ERROR_CODE: lambda v, _t: decode_error_code(v),
    A.UNKNOWN_ATTRIBUTES: lambda v, _t: decode_unknown_attributes(v),
    A.CHANNEL_NUMBER: lambda v, _t: decode_channel_number(v),
    A.LIFETIME: lambda v, _t: decode_lifetime(v),
    A.XOR_PEER_ADDRESS: _xaddr("xor-peer-address"),
    A.DATA: lambda v, _t: v,
    A.REALM: _text_decoder(A.REALM),
    A.NONCE: _text_decoder(A.NONCE),
    A.XOR_RELAYED_ADDRESS: _xaddr("xor-relayed-address"),
    A.REQUESTED_ADDRESS_FAMILY: lambda v, _t: decode_requested_address_family(v),
    A.EVEN_PORT: lambda v, _t: decode_even_port(v),
    A.REQUESTED_TRANSPORT: lambda v, _t: decode_requested_transport(v),
    A.DONT_FRAGMENT: _fixed_empty("dont-fragment"),
    A.MESSAGE_INTEGRITY_SHA256: lambda v, _t: decode_message_integrity_sha256(v),
    A.PASSWORD_ALGORITHM: lambda v, _t: decode_password_algorithm(v),
    A.USERHASH: lambda v, _t: decode_userhash(v),
    A.XOR_MAPPED_ADDRESS: _xaddr("xor-mapped-address"),
    A.RESERVATION_TOKEN: lambda v, _t: decode_reservation_token(v),
    A.PRIORITY: lambda v, _t: decode_priority(v),
    A.USE_CANDIDATE: _fixed_empty("use-candidate"),
    A.RESPONSE_PORT: lambda v, _t: _u32(v, "response-port") >> 16,
    A.CONNECTION_ID: lambda v, _t: _u32(v, "connection-id"),
    A.ADDITIONAL_ADDRESS_FAMILY: lambda v, _t: decode_requested_address_family(
        v, "additional-address-family"
    ),
    A.ADDRESS_ERROR_CODE: lambda v, _t: decode_address_error_code(v),
    A.PASSWORD_ALGORITHMS: lambda v, _t: decode_password_algorithms(v),
    A.ALTERNATE_DOMAIN: _text_decoder(A.ALTERNATE_DOMAIN),
    A.ICMP: lambda v, _t: decode_icmp(v),
    A.SOFTWARE: _text_decoder(A.SOFTWARE),
    A.ALTERNATE_SERVER: _addr("alternate-server"),
    A.FINGERPRINT: lambda v, _t: decode_fingerprint(v),
    A.ICE_CONTROLLED: lambda v, _t: decode_tie_breaker(v, "ice-controlled"),
    A.ICE_CONTROLLING: lambda v, _t: decode_tie_breaker(v, "ice-controlling"),
    A.RESPONSE_ORIGIN: _addr("response-origin"),
    A.OTHER_ADDRESS: _addr("other-address"),
    A.GOOG_NETWORK_INFO: lambda v, _t: decode_network_info(v),
}
del A


def decode_attribute(attr_type: int, value: bytes, transaction_id: bytes) -> Any:
    """Typed value of one attribute; raw ``bytes`` for types without a codec.

    Returns ``None`` for the empty flag attributes (USE-CANDIDATE, DONT-FRAGMENT).
    Raises :class:`StunParseError` only.
    """
    decoder = _DECODERS.get(attr_type)
    if decoder is None:
        return bytes(value)
    return decoder(value, transaction_id)


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """One attribute described: what it is, where it was, and its typed value or error."""

    type: int
    name: str | None
    offset: int
    raw: bytes
    value: Any
    error: str | None
    known: bool
    after_integrity: bool


def typed_attributes(message: StunMessage) -> tuple[AttributeInfo, ...]:
    """Every attribute in order with its typed value; a decode failure is noted, not raised."""
    ignored = set(message.after_integrity)
    out: list[AttributeInfo] = []
    for index, attr in enumerate(message.attributes):
        value: Any = None
        error: str | None = None
        try:
            value = decode_attribute(attr.type, attr.value, message.transaction_id)
        except StunParseError as exc:
            error = exc.reason
        out.append(
            AttributeInfo(
                type=attr.type,
                name=attribute_name(attr.type),
                offset=attr.offset,
                raw=attr.value,
                value=value,
                error=error,
                known=attr.type in _DECODERS,
                after_integrity=index in ignored,
            )
        )
    return tuple(out)


#: Alias kept for readers who look for "describe".
describe_attributes = typed_attributes
