"""The HTTP client address: the socket peer, proxies only when trusted, both kept."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from icewatch.core.addr import parse_ip
from icewatch.web.client import resolve_client
from icewatch.web.host import normalise_host

from .support import web_app

pytestmark = pytest.mark.anyio

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return parse_ip(text).ip


@pytest.mark.parametrize(
    ("peer", "chain", "proxies", "client"),
    [
        ("203.0.113.7", ["198.51.100.1"], PROXIES, "203.0.113.7"),  # untrusted peer: ignored
        ("10.0.0.5", ["198.51.100.1"], (), "10.0.0.5"),  # no proxies configured
        ("10.0.0.5", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.5", ["1.1.1.1", "198.51.100.1", "10.0.0.9"], PROXIES, "198.51.100.1"),
        ("10.0.0.5", ["10.1.1.1", "10.0.0.9"], PROXIES, "10.1.1.1"),  # all trusted: left-most
        ("10.0.0.5", [], PROXIES, "10.0.0.5"),  # trusted but no header
        ("10.0.0.5", ["198.51.100.1", "unknown", "10.0.0.9"], PROXIES, "10.0.0.9"),
        ("10.0.0.5", ["garbage"], PROXIES, "10.0.0.5"),
        ("10.0.0.5", ["198.51.100.1:4711"], PROXIES, "198.51.100.1"),
        ("10.0.0.5", ["[2001:db8::1]:4711"], PROXIES, "2001:db8::1"),
        ("fd00::1", ["2001:db8::7"], PROXIES, "2001:db8::7"),
        ("10.0.0.5", ["::ffff:198.51.100.1"], PROXIES, "198.51.100.1"),
    ],
)
def test_resolve_client_walks_from_the_right(
    peer: str, chain: list[str], proxies: tuple[ipaddress.IPv4Network, ...], client: str
) -> None:
    assert resolve_client(ip(peer), chain, proxies) == ip(client)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.org", "example.org"),
        ("EXAMPLE.org:443", "example.org"),
        ("192.0.2.1:80", "192.0.2.1"),
        ("[2001:DB8::1]:80", "[2001:db8::1]"),
        ("[::ffff:192.0.2.1]", "[::ffff:c000:201]"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a" * 64 + ".example", None),
        ("1.2.3", None),
        ("01.2.3.4", None),
        ("example.org:0", None),
        ("[2001:db8::1]x", None),
        ("_srv.example", None),
        ("example.org.", None),
    ],
)
def test_normalise_host(text: str, expected: str | None) -> None:
    assert normalise_host(text) == expected


async def test_untrusted_peer_forwarded_headers_are_ignored(tmp_path: Path) -> None:
    headers = {"X-Forwarded-For": "198.51.100.1", "Forwarded": "for=198.51.100.2"}
    async with (
        web_app(tmp_path, trusted_proxies=PROXIES) as web,
        web.client(peer="203.0.113.7", headers=headers) as client,
    ):
        created = await web.create(client)
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        http = stored.evidence.http
        assert (str(http.peer_ip), str(http.client_ip)) == ("203.0.113.7", "203.0.113.7")
        assert http.forwarded_for == ()


async def test_trusted_proxy_x_forwarded_for_is_honoured(tmp_path: Path) -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 10.9.9.9"}
    async with (
        web_app(tmp_path, trusted_proxies=PROXIES) as web,
        web.client(peer="10.0.0.5", headers=headers) as client,
    ):
        created = await web.create(client)
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        http = stored.evidence.http
        assert str(http.peer_ip) == "10.0.0.5"
        assert str(http.client_ip) == "198.51.100.1"
        assert http.forwarded_for == ("6.6.6.6", "198.51.100.1", "10.9.9.9")
        # The session JSON shows both.
        doc = (
            await client.get(
                f"/api/v1/sessions/{created['id']}",
                headers={"Authorization": f"Bearer {created['token']}"},
            )
        ).json()
        assert (doc["http"]["peer_ip"], doc["http"]["client_ip"]) == ("10.0.0.5", "198.51.100.1")


async def test_only_the_configured_header_counts(tmp_path: Path) -> None:
    # The proxy writes Forwarded; an X-Forwarded-For the client sent passes through it.
    headers = {
        "X-Forwarded-For": "6.6.6.6",
        "Forwarded": 'for="[2001:db8::9]:1234";proto=https, for=10.1.2.3',
    }
    async with (
        web_app(tmp_path, trusted_proxies=PROXIES, forwarded_header="forwarded") as web,
        web.client(peer="10.0.0.5", headers=headers) as client,
    ):
        created = await web.create(client)
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert str(stored.evidence.http.client_ip) == "2001:db8::9"
        assert stored.evidence.http.forwarded_for == ("2001:db8::9", "10.1.2.3")


async def test_forwarding_chain_is_bounded(tmp_path: Path) -> None:
    chain = ", ".join(f"198.51.100.{i}" for i in range(200))
    async with (
        web_app(tmp_path, trusted_proxies=PROXIES) as web,
        web.client(peer="10.0.0.5", headers={"X-Forwarded-For": chain}) as client,
    ):
        created = await web.create(client)
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert len(stored.evidence.http.forwarded_for) == 16
        assert str(stored.evidence.http.client_ip) == "198.51.100.199"
