"""The Host header, validated strictly before it goes into STUN/TURN URLs.

The browser's Host header is attacker-controlled text; it ends up inside the
``stun:``/``turn:`` URLs handed back to the page, so only a plain DNS name, an IPv4
literal or a bracketed IPv6 literal (no zone), with an optional decimal port, passes.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["normalise_host", "split_host_header"]

_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_MAX_HOST = 253


def _dns_name(text: str) -> bool:
    if not text or len(text) > _MAX_HOST:
        return False
    labels = text.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return False
    # A name whose last label is all digits would read as a (malformed) IPv4 address.
    return not labels[-1].isdigit()


def normalise_host(text: str, *, allow_port: bool = True) -> str | None:
    """``text`` as a URL host (lower-case name, IPv4, or ``[IPv6]``), or ``None`` if invalid.

    With ``allow_port`` a ``:port`` suffix is accepted and dropped. A bare IPv6 literal
    (no brackets) is accepted only without a port (it is the configured form, not a
    Host header form).
    """
    if not text or len(text) > _MAX_HOST + 8 or not text.isascii():
        return None
    host, port = split_host_header(text) if allow_port else (text, None)
    if port is not None and not (port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
        return None
    if host.startswith("["):
        if not host.endswith("]"):
            return None
        inner = host[1:-1]
    elif ":" in host:
        if allow_port:
            return None  # an unbracketed IPv6 in a Host header is malformed
        inner = host
    else:
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return host.lower() if _dns_name(host) else None
    if "%" in inner:
        return None  # a zone id ("%eth0") means nothing to anyone else: never in a URL
    try:
        return f"[{ipaddress.IPv6Address(inner)}]"
    except ValueError:
        return None


def split_host_header(text: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` / ``[v6][:port]`` into host and port text (not validated)."""
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            return text, None
        rest = text[end + 1 :]
        if rest.startswith(":"):
            return text[: end + 1], rest[1:]
        return (text, None) if not rest else (text, "")
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, None
    if ":" in host:
        return text, None  # bare IPv6: no port to split off
    return host, port
