"""Who is asking: the HTTP client address and the request headers kept as evidence.

The socket peer is the only address the network vouches for. ``X-Forwarded-For`` (or
RFC 7239 ``Forwarded``, whichever one the operator says the proxy writes) is honoured
only when the peer is a configured trusted proxy, and then uvicorn-style: walk the
chain from the right, skipping trusted hops; the first untrusted hop is the client.
Entries left of it were written by the client itself and prove nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.requests import Request

from icewatch.core.addr import IPAddress, IPNetwork, try_parse_ip
from icewatch.core.evidence import HttpSighting

__all__ = [
    "EVIDENCE_HEADERS",
    "MAX_CHAIN",
    "MAX_HEADER_VALUE",
    "client_ip",
    "forwarded_chain",
    "resolve_client",
    "sighting_from_request",
]

#: Longest header value kept as evidence (user agent, client hints, language).
MAX_HEADER_VALUE = 512
#: Most hops of a forwarding chain looked at and kept.
MAX_CHAIN = 16
#: Request headers kept with every sighting (exact names, or prefixes ending in ``*``).
EVIDENCE_HEADERS = ("sec-ch-ua*", "accept-language")
_MAX_EVIDENCE_HEADERS = 24
_UNSPECIFIED = ipaddress.IPv4Address(0)


def _bounded(text: str, limit: int = MAX_HEADER_VALUE) -> str:
    return text if len(text) <= limit else text[:limit]


def _trusted(ip: IPAddress, proxies: Iterable[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in proxies)


def _forwarded_for_values(values: Iterable[str]) -> list[str]:
    """The ``for=`` values of RFC 7239 ``Forwarded`` headers, in order, unquoted."""
    found: list[str] = []
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                name, sep, raw = pair.strip().partition("=")
                if sep and name.strip().lower() == "for":
                    found.append(_unwrap_forwarded_node(raw.strip()))
    return found


def _unwrap_forwarded_node(raw: str) -> str:
    """``"[2001:db8::1]:4711"`` → ``2001:db8::1``; ``192.0.2.1:80`` → ``192.0.2.1``."""
    node = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if node.startswith("["):
        end = node.find("]")
        return node[1:end] if end > 0 else node
    host, sep, _port = node.partition(":")
    return host if sep and node.count(":") == 1 else node


def forwarded_chain(request: Request, header: str) -> list[str]:
    """The forwarding chain (client first) from the configured header, as sent, bounded."""
    values = request.headers.getlist(header)
    if header == "forwarded":
        chain = _forwarded_for_values(values[-MAX_CHAIN:])
    else:
        chain = [hop.strip() for value in values[-MAX_CHAIN:] for hop in value.split(",")]
    return [_bounded(hop, 64) for hop in chain[-MAX_CHAIN:]]


def resolve_client(
    peer: IPAddress, chain: Sequence[str], proxies: Sequence[IPNetwork]
) -> IPAddress:
    """The client address: the peer, unless it is a trusted proxy (then walk ``chain``).

    Walking from the right, trusted hops are skipped; the first untrusted hop is the
    client. A hop that is not an IP address (``unknown``, an obfuscated identifier)
    stops the walk at the nearest trusted hop seen so far: nothing beyond it can be
    vouched for. When every hop is trusted the left-most one is the client.
    """
    if not proxies or not _trusted(peer, proxies):
        return peer
    nearest = peer
    for hop in reversed(chain):
        parsed = try_parse_ip(_unwrap_forwarded_node(hop))
        if parsed is None:
            return nearest
        if not _trusted(parsed.ip, proxies):
            return parsed.ip
        nearest = parsed.ip
    return nearest


def _peer(request: Request) -> IPAddress:
    client = request.client
    if client is None:
        return _UNSPECIFIED  # a Unix socket: no network peer to record
    parsed = try_parse_ip(client.host)
    return _UNSPECIFIED if parsed is None else parsed.ip


def client_ip(
    request: Request, *, proxies: Sequence[IPNetwork], forwarded_header: str
) -> IPAddress:
    """The client address of ``request`` (as :func:`sighting_from_request` resolves it)."""
    peer = _peer(request)
    if not proxies or not _trusted(peer, proxies):
        return peer
    return resolve_client(peer, forwarded_chain(request, forwarded_header), proxies)


def _evidence_headers(request: Request) -> tuple[tuple[str, str], ...]:
    kept: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        if any(
            name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1]))
            for pattern in EVIDENCE_HEADERS
        ):
            kept.append((name, _bounded(value)))
            if len(kept) >= _MAX_EVIDENCE_HEADERS:
                break
    return tuple(kept)


def sighting_from_request(
    request: Request,
    *,
    at: float,
    proxies: Sequence[IPNetwork],
    forwarded_header: str,
    host: str,
) -> HttpSighting:
    """The :class:`HttpSighting` of ``request`` (peer, resolved client, evidence headers)."""
    peer = _peer(request)
    trusted = bool(proxies) and _trusted(peer, proxies)
    chain = forwarded_chain(request, forwarded_header) if trusted else []
    return HttpSighting(
        peer_ip=peer,
        client_ip=resolve_client(peer, chain, proxies),
        at=at,
        user_agent=_bounded(request.headers.get("user-agent", "")),
        forwarded_for=tuple(chain),
        host=_bounded(host, 300),
        headers=_evidence_headers(request),
    )
