"""Keys, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT checks (RFC 8489 §9, §14.5-§14.7).

The checks answer ``True`` (valid) or ``False`` (present but wrong: bad MAC, bad CRC,
wrong attribute size) and raise :class:`~icewatch.core.errors.IntegrityError` when the
message carries no such attribute, so "absent" can never be mistaken for "invalid" nor
for "valid". Digests are compared with :func:`hmac.compare_digest`.

Password preparation
--------------------
RFC 5389 prepared passwords with SASLprep (RFC 4013); RFC 8489 moved to the PRECIS
OpaqueString profile (RFC 8265). :func:`prepare_password` implements the practical
common subset, which gives the same result as both for ASCII and for the RFC 5769 §2.4
vector:

1. map the "commonly mapped to nothing" characters (RFC 3454 table B.1: soft hyphen,
   zero-width joiners, variation selectors, BOM…) to nothing;
2. map non-ASCII spaces (table C.1.2) to U+0020;
3. normalise with NFKC;
4. refuse control, private-use, surrogate, non-character, bidi-format and tag
   characters with ``ValueError``.

The bidirectional-text rule (RFC 3454 §6) and the unassigned-code-point check are not
implemented. Usernames and realms are used as given: they travel in the message and the
key must be built from the same bytes the client used.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
import zlib

from icewatch.core.errors import IntegrityError
from icewatch.core.stun.constants import FINGERPRINT_XOR, HEADER_SIZE, AttrType
from icewatch.core.stun.message import StunMessage

__all__ = [
    "long_term_key",
    "prepare_password",
    "short_term_key",
    "verify_fingerprint",
    "verify_message_integrity",
    "verify_message_integrity_sha256",
]

_MAPPED_TO_NOTHING = dict.fromkeys(
    [
        0x00AD,
        0x034F,
        0x1806,
        0x180B,
        0x180C,
        0x180D,
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        *range(0xFE00, 0xFE10),
    ]
)
_NON_ASCII_SPACES = dict.fromkeys(
    [0x00A0, 0x1680, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B)], " "
)
_PREP_TABLE: dict[int, str | None] = {**_MAPPED_TO_NOTHING, **_NON_ASCII_SPACES}
# RFC 3454 C.8 (change display properties / deprecated) and C.9 (tagging characters)
_PROHIBITED_EXTRA = frozenset(
    [
        0x0340,
        0x0341,
        0x200E,
        0x200F,
        0x202A,
        0x202B,
        0x202C,
        0x202D,
        0x202E,
        0xE0001,
        *range(0x206A, 0x2070),
        *range(0xE0020, 0xE0080),
    ]
)


def prepare_password(password: str) -> str:
    """SASLprep/OpaqueString practical subset (see the module docstring)."""
    text = unicodedata.normalize("NFKC", password.translate(_PREP_TABLE))
    for ch in text:
        cp = ord(ch)
        if cp < 0x80:
            if cp < 0x20 or cp == 0x7F:
                raise ValueError(f"password: prohibited control character U+{cp:04X}")
            continue
        category = unicodedata.category(ch)
        if (
            category in ("Cc", "Co", "Cs")
            or cp in _PROHIBITED_EXTRA
            or 0xFDD0 <= cp <= 0xFDEF
            or (cp & 0xFFFE) == 0xFFFE
        ):
            raise ValueError(f"password: prohibited character U+{cp:04X}")
    return text


def short_term_key(password: str) -> bytes:
    """RFC 8489 §9.1.1: key = OpaqueString(password), UTF-8 (ICE uses the remote ice-pwd)."""
    return prepare_password(password).encode("utf-8")


def long_term_key(username: str, realm: str, password: str, *, sha256: bool = False) -> bytes:
    """RFC 8489 §9.2.2: MD5(username ":" realm ":" password) — 16 bytes.

    With ``sha256=True`` (PASSWORD-ALGORITHM SHA-256, RFC 8489 §18.5.1.2) the same input
    is hashed with SHA-256 (32 bytes).
    """
    data = f"{username}:{realm}:{prepare_password(password)}".encode()
    if sha256:
        return hashlib.sha256(data).digest()
    return hashlib.md5(data, usedforsecurity=False).digest()


def _covered(message: StunMessage, offset: int, attr_size: int) -> bytes:
    """Message bytes before ``offset`` with the length field counting the attribute."""
    raw = message.raw
    length = offset - HEADER_SIZE + 4 + attr_size
    return raw[:2] + length.to_bytes(2, "big") + raw[4:offset]


def verify_message_integrity(message: StunMessage, key: bytes) -> bool:
    """Check MESSAGE-INTEGRITY (HMAC-SHA1, 20 bytes); ``IntegrityError`` when absent."""
    attr = message.get(AttrType.MESSAGE_INTEGRITY)
    if attr is None:
        raise IntegrityError("the message has no MESSAGE-INTEGRITY attribute")
    if len(attr.value) != 20:
        return False
    mac = hmac.new(key, _covered(message, attr.offset, 20), hashlib.sha1).digest()
    return hmac.compare_digest(mac, attr.value)


def verify_message_integrity_sha256(message: StunMessage, key: bytes) -> bool:
    """Check MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly truncated to 16..32 bytes)."""
    attr = message.get(AttrType.MESSAGE_INTEGRITY_SHA256)
    if attr is None:
        raise IntegrityError("the message has no MESSAGE-INTEGRITY-SHA256 attribute")
    size = len(attr.value)
    if not 16 <= size <= 32 or size & 3:
        return False
    mac = hmac.new(key, _covered(message, attr.offset, size), hashlib.sha256).digest()
    return hmac.compare_digest(mac[:size], attr.value)


def verify_fingerprint(message: StunMessage) -> bool:
    """Check FINGERPRINT (CRC-32 XOR 0x5354554E); ``IntegrityError`` when absent."""
    raw = message.raw
    last = message._last_offset
    if last >= 0 and last + 8 == len(raw) and raw[last : last + 4] == b"\x80\x28\x00\x04":
        # Fast lane: FINGERPRINT is last (decode_message enforces it), so the length
        # field already counts it and the CRC covers raw[:last] as it is.
        crc = zlib.crc32(raw[:last]) ^ FINGERPRINT_XOR
        return crc == int.from_bytes(raw[last + 4 :], "big")
    attr = message.fingerprint()
    if attr is None:
        raise IntegrityError("the message has no FINGERPRINT attribute")
    value = attr.value
    if len(value) != 4:
        return False
    offset = attr.offset
    if offset + 8 == len(raw):
        # FINGERPRINT is last (decode_message enforces it): the length field is right.
        crc = zlib.crc32(raw[:offset])
    else:
        crc = zlib.crc32(_covered(message, offset, 4))
    return (crc ^ FINGERPRINT_XOR) == int.from_bytes(value, "big")
