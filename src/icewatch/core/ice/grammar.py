"""The ICE candidate grammar (RFC 8839 §5.1), its limits and the tolerances we allow.

The ABNF is quoted beside the code that implements it, the way pion/ice does. RFC 5234
makes quoted ABNF literals case-insensitive; where that matters it is said below.

::

    candidate-attribute   = "candidate" ":" foundation SP component-id SP
                            transport SP
                            priority SP
                            connection-address SP     ;from RFC 8866
                            port                      ;port from RFC 8866
                            SP cand-type
                            [SP rel-addr]
                            [SP rel-port]
                            *(SP cand-extension)

    foundation            = 1*32ice-char
    component-id          = 1*3DIGIT
    transport             = "UDP" / transport-extension
    transport-extension   = token              ; from RFC 3261
    priority              = 1*10DIGIT
    cand-type             = "typ" SP candidate-types
    candidate-types       = "host" / "srflx" / "prflx" / "relay" / token
    rel-addr              = "raddr" SP connection-address
    rel-port              = "rport" SP port
    cand-extension        = extension-att-name SP extension-att-value
    extension-att-name    = token
    extension-att-value   = *VCHAR
    ice-char              = ALPHA / DIGIT / "+" / "/"

Deliberate choices (each tested):

* ``a=`` before ``candidate:`` is accepted (libwebrtc does the same); the bare form
  without ``candidate:`` (aioice's ``to_sdp()``, the ``candidate`` attribute's value) is
  accepted too — :attr:`~icewatch.core.ice.candidate.Candidate.raw` keeps what was written.
* Transport is ``UDP`` or ``TCP`` (RFC 6544), any case; any other transport token is an
  error — no browser emits one, so it is malformed evidence, not a new protocol.
* Tokens are separated by exactly one space; an empty token (double, leading or trailing
  space) is an error. Extension names are case-sensitive (as in libwebrtc).
* ``raddr``/``rport`` are accepted anywhere after the type (libwebrtc does), once each.
* The whole line must be printable ASCII: ``extension-att-value`` is ``*VCHAR``; host
  names must be ASCII (punycode) anyway.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Final

from icewatch.core.addr import ParsedIP, parse_ip
from icewatch.core.errors import AddressParseError, CandidateParseError

__all__ = [
    "ICE_CHARS",
    "MAX_COMPONENT",
    "MAX_EXTENSIONS",
    "MAX_FOUNDATION_LENGTH",
    "MAX_HOSTNAME_LENGTH",
    "MAX_LINE_LENGTH",
    "MAX_PORT",
    "MAX_PRIORITY",
    "MAX_UFRAG_LENGTH",
    "MAX_UINT16",
    "MAX_UINT32",
    "REDACTED_NAMES",
    "AddressKind",
    "is_ice_chars",
    "is_token",
    "is_uuid4",
    "parse_connection_address",
]

# --- named limits ----------------------------------------------------------------------

#: Longest candidate line accepted. Real lines are under 200 characters; libwebrtc caps
#: a whole SDP line far higher, but one candidate never needs more than this.
MAX_LINE_LENGTH: Final = 1024
#: Most ``cand-extension`` pairs accepted (Chromium sends at most five).
MAX_EXTENSIONS: Final = 32
# foundation = 1*32ice-char
MAX_FOUNDATION_LENGTH: Final = 32
# component-id = 1*3DIGIT, and RFC 8445 §5.1.2.1 limits it to 1..256
MAX_COMPONENT_DIGITS: Final = 3
MAX_COMPONENT: Final = 256
# priority = 1*10DIGIT, a 32-bit unsigned value on the wire (RFC 8445 recommends
# 1..2**31-1; larger values are kept and flagged by the priority decode)
MAX_PRIORITY_DIGITS: Final = 10
MAX_UINT32: Final = 2**32 - 1
MAX_PRIORITY: Final = MAX_UINT32
# port = 1*DIGIT (RFC 8866), a 16-bit value
MAX_PORT_DIGITS: Final = 5
MAX_PORT: Final = 65535
MAX_UINT16: Final = 65535
#: ``ufrag`` carries an ice-ufrag: 4*256ice-char in RFC 8839; seen in the wild shorter
#: values only from hand-written lines, so 1..256 is accepted.
MAX_UFRAG_LENGTH: Final = 256
#: RFC 1035 limit on a textual domain name.
MAX_HOSTNAME_LENGTH: Final = 253

# --- character classes -----------------------------------------------------------------

_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGIT = "0123456789"
_HEX = "0123456789abcdefABCDEF"
# ice-char = ALPHA / DIGIT / "+" / "/"
ICE_CHARS: Final = _ALPHA + _DIGIT + "+/"
# token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E  (RFC 8866)
_TOKEN_CHARS = "".join(
    chr(c)
    for c in range(0x21, 0x7F)
    if c == 0x21
    or 0x23 <= c <= 0x27
    or 0x2A <= c <= 0x2B
    or 0x2D <= c <= 0x2E
    or 0x30 <= c <= 0x39
    or 0x41 <= c <= 0x5A
    or 0x5E <= c <= 0x7E
)


def is_ice_chars(text: str) -> bool:
    """``1*ice-char``: non-empty, only letters, digits, ``+`` and ``/``."""
    # str.strip removes only members of the set, so anything left over is foreign.
    return bool(text) and text.isascii() and not text.strip(ICE_CHARS)


def is_token(text: str) -> bool:
    """RFC 8866 ``token``: non-empty, only ``token-char``."""
    return bool(text) and text.isascii() and not text.strip(_TOKEN_CHARS)


def is_uuid4(text: str) -> bool:
    """A UUID version 4 in its 8-4-4-4-12 form, any case.

    Version nibble ``4`` and variant nibble ``8``, ``9``, ``a`` or ``b`` (RFC 9562 §5.4),
    as draft-ietf-rtcweb-mdns-ice-candidates §3.1.1 requires of mDNS host names.
    """
    if (
        len(text) != 36
        or text[8] != "-"
        or text[13] != "-"
        or text[18] != "-"
        or text[23] != "-"
        or text[14] != "4"
        or text[19] not in "89abAB"
    ):
        return False
    digits = text[:8] + text[9:13] + text[14:18] + text[19:23] + text[24:]
    return digits.isascii() and not digits.strip(_HEX)


# --- connection-address ------------------------------------------------------------------


class AddressKind(StrEnum):
    """What a ``connection-address`` (or ``raddr``) holds."""

    IP = "ip"  # IP4-address / IP6-address (RFC 8866)
    MDNS = "mdns"  # <UUIDv4>.local (draft-ietf-rtcweb-mdns-ice-candidates)
    REDACTED = "redacted"  # redacted-ip.invalid / redacted-literal.invalid (seen in the wild)
    FQDN = "fqdn"  # any other syntactically valid host name (RFC 8839 allows an FQDN)


#: Placeholder names for a hidden address: ``redacted-ip.invalid`` is what Chromium's
#: stats and signalling shims print, ``redacted-literal.invalid`` is used when a literal
#: is withheld (seen in the wild). Compared case-insensitively.
REDACTED_NAMES: Final = frozenset({"redacted-ip.invalid", "redacted-literal.invalid"})

# RFC 1123 host name label: letters, digits, hyphens, not starting or ending with "-".
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")

#: Parsed addresses are memoised: the same few texts recur on every line (``0.0.0.0``
#: and ``::`` as raddr, one mDNS name and one srflx address per visitor on every
#: component), and a parsed address is immutable, so sharing it is safe. The table is
#: bounded and simply emptied when full; only valid addresses are stored.
_ADDRESS_CACHE: dict[str, tuple[ParsedIP | str, AddressKind]] = {}
_ADDRESS_CACHE_LIMIT: Final = 4096


def parse_connection_address(text: str, field: str) -> tuple[ParsedIP | str, AddressKind]:
    """Parse a ``connection-address`` (IP, mDNS name, redacted placeholder or FQDN).

    Return the value (a :class:`ParsedIP` for an IP, else the name as written) and its
    :class:`AddressKind`; raise :class:`CandidateParseError` naming ``field``.
    """
    hit = _ADDRESS_CACHE.get(text)
    if hit is not None:
        return hit
    result = _parse_address(text, field)
    if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_LIMIT:
        _ADDRESS_CACHE.clear()
    _ADDRESS_CACHE[text] = result
    return result


def _parse_address(text: str, field: str) -> tuple[ParsedIP | str, AddressKind]:
    if not isinstance(text, str) or not text:
        raise CandidateParseError(field, "empty address")
    if len(text) > MAX_HOSTNAME_LENGTH:
        raise CandidateParseError(field, f"longer than {MAX_HOSTNAME_LENGTH} characters")
    if not text.isascii() or not text.isprintable():
        raise CandidateParseError(field, "non-ASCII or control characters")
    if ":" in text:
        # IP6-address, any textual form; a zone id (fe80::1%eth0) is seen in the wild
        # from non-browser agents. Brackets are URI syntax, not candidate grammar.
        if text[0] == "[":
            raise CandidateParseError(field, "bracketed IPv6 address")
        return _ip(text, field), AddressKind.IP
    lower = text.lower()
    if lower.endswith(".local"):
        if not is_uuid4(text[:-6]):
            raise CandidateParseError(field, f"mDNS name is not <UUIDv4>.local: {text!r}")
        return text, AddressKind.MDNS
    if lower in REDACTED_NAMES:
        return text, AddressKind.REDACTED
    if not text.replace(".", "").isdigit():
        if not _HOSTNAME.fullmatch(text):
            raise CandidateParseError(field, f"neither an IP address nor a host name: {text!r}")
        if text.rstrip(".").rpartition(".")[2].isdigit():
            raise CandidateParseError(field, f"all-numeric top-level label: {text!r}")
        return text, AddressKind.FQDN
    # All digits and dots: IP4-address or nothing (a numeric name is not an FQDN).
    return _ipv4(text) or _ip(text, field), AddressKind.IP


def _ipv4(text: str) -> ParsedIP | None:
    """Dotted-quad fast path (3x faster than ``ipaddress`` parsing the string).

    Returns exactly what :func:`parse_ip` returns for the same text, or ``None`` to let
    :func:`parse_ip` decide (and word the error): wrong part count, leading zeros
    (which :mod:`ipaddress` rejects), an octet above 255.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3 or (part[0] == "0" and len(part) > 1):
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = (value << 8) | octet
    return ParsedIP(ip=ipaddress.IPv4Address(value))


def _ip(text: str, field: str) -> ParsedIP:
    try:
        return parse_ip(text)
    except AddressParseError as exc:
        raise CandidateParseError(field, exc.reason) from None
