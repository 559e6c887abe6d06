"""Stored addresses made less personal: truncation or keyed pseudonyms (pure).

IP addresses are personal data. With ``store_addresses = truncated`` or ``hashed`` the
store rewrites every address inside what it keeps about a session — the evidence
document (HTTP sightings, forwarded-for chain, Host, the raw candidate lines, the SDP
text, candidate errors, getStats entries, IP-intelligence lookups), the observations and
the verdict's evidence and summaries — with :func:`rewrite_json`, which walks the JSON
and replaces the address tokens in every string.

* ``truncated``: IPv4 keeps its /24 (``203.0.113.77`` → ``203.0.113.0``), IPv6 its /48
  (``2001:db8:1234:5678::9`` → ``2001:db8:1234::``).
* ``hashed``: ``HMAC-SHA256(key, address)`` picks a *pseudonym* of the same family in a
  reserved range that no real host uses — IPv4 in ``240.0.0.0/4`` (reserved, 28 bits of
  the hash; never ``255.255.255.255``), IPv6 in ``100::/64`` (the discard-only prefix of
  RFC 6666, 64 bits). The same address under the same key always gives the same
  pseudonym, so per-address filters and statistics still work on pseudonyms; without
  the key nobody can tell which address it was (a dictionary of all 2^32 IPv4 addresses
  needs the key).

Pseudonyms and truncated addresses are valid addresses of the same family, so rewritten
evidence still parses (candidate lines, SDP, observations). The unspecified addresses
(``0.0.0.0``, ``::``) and loopback are kept: they identify no one and keep SDP and
candidate placeholders meaningful.

The token matcher finds IPv4 dotted quads and IPv6 in every textual form (full,
compressed, with an IPv4 tail, bracketed, with a zone id) and validates each with
:func:`icewatch.core.addr.parse_ip`; runs of hex digits and colons that are not
addresses (times ``12:34:56``, DTLS fingerprints ``AB:CD:…``, MACs), dotted version
numbers after a product name (``Chrome/120.0.0.0``) and the user-agent fields are left
alone. Data-source prefixes in IP-intelligence provenance are kept, except that a prefix
narrower than /24 (IPv4) or /48 (IPv6) is widened to it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from icewatch.core.addr import IPAddress, IPNetwork, ParsedIP, try_parse_ip

__all__ = [
    "ADDRESS_MODES",
    "AddressPolicy",
    "pseudonym",
    "rewrite_json",
    "rewrite_text",
    "truncate",
]

#: ``store_addresses`` values: ``full`` stores addresses as seen.
ADDRESS_MODES = ("full", "truncated", "hashed")

_V4_BASE = int(ipaddress.IPv4Address("240.0.0.0"))
_V4_SPAN = (1 << 28) - 1  # 240.0.0.0 .. 255.255.255.254
_V6_BASE = int(ipaddress.IPv6Address("100::"))

#: IPv4 dotted quad not inside a longer dotted/word run and not a product version.
_V4 = r"(?<![\w.])(?<!\w/)(?:\d{1,3}\.){3}\d{1,3}(?![\w.])"
#: Hex-and-colon runs (with an optional IPv4 tail and zone id) that may be IPv6.
_V6 = (
    r"(?<![\w:.%])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,8}"
    r"(?:\.\d{1,3}){0,3}(?:%[A-Za-z0-9_.-]{1,64})?(?![\w:.])"
)
_TOKEN = re.compile(f"{_V6}|{_V4}")

#: Keys whose string values are never address-bearing text (versions, UA strings).
_SKIP_KEYS = frozenset(
    {
        "user_agent",
        "http_user_agent",
        "ua_hints",
        "browser_version",
        "os_version",
        "collector_version",
        "parser",
        "software",
        "transaction_id",
        "version",
        "user-agent",
    }
)


def truncate(ip: IPAddress) -> IPAddress:
    """The /24 (IPv4) or /48 (IPv6) network address of ``ip``."""
    if ip.version == 4:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFF00)
    return ipaddress.IPv6Address(int(ip) & ~((1 << 80) - 1))


def pseudonym(ip: IPAddress, key: bytes) -> IPAddress:
    """The keyed pseudonym of ``ip``: same family, in 240.0.0.0/4 or 100::/64."""
    digest = hmac.new(key, ip.packed, hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big")
    if ip.version == 4:
        return ipaddress.IPv4Address(_V4_BASE + n % _V4_SPAN)
    return ipaddress.IPv6Address(_V6_BASE + n)


def _kept(ip: IPAddress) -> bool:
    return ip.is_unspecified or ip.is_loopback


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """How stored addresses are written: ``mode`` one of :data:`ADDRESS_MODES`; ``key``
    the pseudonym key (``hashed`` only; at least 16 bytes)."""

    mode: str
    key: bytes = b""

    def __post_init__(self) -> None:
        if self.mode not in ADDRESS_MODES:
            raise ValueError(f"store_addresses must be one of {', '.join(ADDRESS_MODES)}")
        if self.mode == "hashed" and len(self.key) < 16:
            raise ValueError("hashed addresses need a key of at least 16 bytes")

    @property
    def rewrites(self) -> bool:
        return self.mode != "full"

    def address(self, ip: IPAddress) -> IPAddress:
        """``ip`` as it is stored."""
        if self.mode == "full" or _kept(ip):
            return ip
        if self.mode == "truncated":
            return truncate(ip)
        return pseudonym(ip, self.key)

    def network_aliases(self, network: IPNetwork) -> tuple[IPNetwork, ...]:
        """What a filter for ``network`` must also match among stored addresses: the
        pseudonym of one address (``hashed``), the /24 or /48 an address or narrower
        prefix was truncated to (``truncated``); nothing for a wider network."""
        if self.mode == "full":
            return ()
        limit = 24 if network.version == 4 else 48
        if self.mode == "truncated":
            if network.prefixlen <= limit:
                return ()
            first = truncate(network.network_address)
            return (ipaddress.ip_network(f"{first}/{first.max_prefixlen}"),)
        if network.prefixlen != network.max_prefixlen:
            return ()
        alias = pseudonym(network.network_address, self.key)
        return (ipaddress.ip_network(f"{alias}/{alias.max_prefixlen}"),)

    def text(self, text: str) -> str:
        return rewrite_text(text, self.address)

    def json(self, value: Any) -> Any:
        return value if self.mode == "full" else rewrite_json(value, self.address)


def _format(parsed: ParsedIP, new: IPAddress, original: str) -> str:
    if parsed.mapped is not None and isinstance(new, ipaddress.IPv4Address):
        text = f"::ffff:{new}"
    else:
        text = str(new)
    if parsed.zone:
        text = f"{text}%{parsed.zone}"
    if original.isupper():
        text = text.upper()
    return text


def rewrite_text(text: str, rewrite: Callable[[IPAddress], IPAddress]) -> str:
    """``text`` with every address token replaced by ``rewrite(address)``."""
    if not text or ("." not in text and ":" not in text):
        return text

    def one(m: re.Match[str]) -> str:
        token = m.group(0)
        parsed = try_parse_ip(token)
        if parsed is None:
            return token
        new = rewrite(parsed.ip)
        return token if new == parsed.ip else _format(parsed, new, token)

    return _TOKEN.sub(one, text)


def _prefix(text: str) -> str:
    """A provenance prefix, widened to /24 or /48 when narrower (never more precise)."""
    address, sep, length = text.partition("/")
    parsed = try_parse_ip(address)
    if parsed is None:
        return text
    limit = 24 if parsed.ip.version == 4 else 48
    plen: int = parsed.ip.max_prefixlen
    if sep:
        if not length.isdigit():
            return text
        plen = int(length)
    if plen <= limit:
        return text
    return f"{truncate(parsed.ip)}/{limit}"


def rewrite_json(value: Any, rewrite: Callable[[IPAddress], IPAddress]) -> Any:
    """A copy of the JSON ``value`` with every address in every string rewritten
    (object keys are kept; see the module doc for what is left alone)."""
    if isinstance(value, str):
        return rewrite_text(value, rewrite)
    if isinstance(value, list | tuple):
        return [rewrite_json(v, rewrite) for v in value]
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and (k in _SKIP_KEYS or k.startswith("sec-ch-ua")):
                out[k] = v
            elif k == "prefix" and isinstance(v, str):
                out[k] = _prefix(v)
            else:
                out[k] = rewrite_json(v, rewrite)
        return out
    return value
