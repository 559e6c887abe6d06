"""Session creation: ids, tokens, ice_servers built from the request's own host."""

from __future__ import annotations

from pathlib import Path

import pytest

from icewatch.core.session import (
    is_session_id,
    session_turn_credential,
    turn_username_session,
    verify_token,
)

from .support import HOST, PEER, SECRET, assert_error_shape, web_app

pytestmark = pytest.mark.anyio


def _hosts(ice_servers: list[dict[str, object]]) -> set[str]:
    hosts = set()
    for server in ice_servers:
        urls = server["urls"]
        assert isinstance(urls, list)
        for url in urls:
            scheme, _, rest = url.partition(":")
            assert scheme in {"stun", "turn"}, url
            hostport = rest.split("?", 1)[0]
            hosts.add(hostport.rsplit(":", 1)[0])
    return hosts


async def test_create_session_hands_out_own_stun_and_turn(tmp_path: Path) -> None:
    async with web_app(tmp_path, stun_port=3479, session_ttl=600) as web, web.client() as client:
        now = web.clock()
        response = await client.post("/api/v1/sessions")
        assert response.status_code == 201
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        sid = body["id"]
        assert is_session_id(sid)
        assert body["expires_at"] == int(now) + 600
        assert verify_token(SECRET, body["token"], sid, now)
        assert not verify_token(SECRET, body["token"], sid, int(now) + 600)
        assert body["report_url"] == f"/api/v1/sessions/{sid}/report"
        assert body["deadline_ms"] == 1500

        stun, turn = body["ice_servers"]
        assert stun == {"urls": [f"stun:{HOST}:3479"]}
        assert turn["urls"] == [
            f"turn:{HOST}:3479?transport=udp",
            f"turn:{HOST}:3479?transport=tcp",
        ]
        username, password = session_turn_credential(SECRET, sid, int(now) + 600)
        assert (turn["username"], turn["credential"]) == (username, password)
        assert turn_username_session(turn["username"], now) == sid
        assert _hosts(body["ice_servers"]) == {HOST}  # no public STUN server, ever

        stored = await web.store.get_session(sid)
        assert stored is not None
        assert stored.expires_at == int(now) + 600
        assert stored.evidence.created_at == now
        assert str(stored.evidence.http.peer_ip) == PEER
        assert str(stored.evidence.http.client_ip) == PEER
        assert stored.evidence.http.host == HOST
        assert stored.evidence.report is None


async def test_two_sessions_differ(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        a, b = await web.create(client), await web.create(client)
        assert a["id"] != b["id"]
        assert a["token"] != b["token"]
        assert a["ice_servers"][1]["credential"] != b["ice_servers"][1]["credential"]


@pytest.mark.parametrize(
    ("host_header", "url_host"),
    [
        ("icewatch.test", "icewatch.test"),
        ("IceWatch.Example.ORG:8443", "icewatch.example.org"),
        ("10.77.1.1:8080", "10.77.1.1"),
        ("[fd77:1::1]:8080", "[fd77:1::1]"),
        ("[FD77:1:0::1]", "[fd77:1::1]"),
        ("localhost", "localhost"),
    ],
)
async def test_ice_servers_use_the_host_the_browser_used(
    tmp_path: Path, host_header: str, url_host: str
) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.post("/api/v1/sessions", headers={"Host": host_header})
        assert response.status_code == 201, response.text
        servers = response.json()["ice_servers"]
        assert servers[0]["urls"] == [f"stun:{url_host}:3478"]
        assert _hosts(servers) == {url_host}


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "evil.example/x",
        "evil.example?transport=tcp",
        "evil.example:3478?x",
        "a b.example",
        "evil.example:99999",
        "evil.example:",
        "evil.example:80:80",
        "[fd77::1",
        "fd77::1",
        "[fe80::1%eth0]:80",
        "user@evil.example",
        "évil.example",
        "-evil.example",
        "evil..example",
        "1.2.3.999",
        "x" * 300,
        "evil.example\r\nX: y",
        "turn:evil.example",
    ],
)
async def test_hostile_host_headers_are_refused(tmp_path: Path, hostile: str) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        raw = hostile.encode("utf-8")  # as bytes: httpx would refuse non-ASCII text
        response = await client.post("/api/v1/sessions", headers={b"Host": raw})
        assert_error_shape(response, 400, "bad_host")
        assert response.json()["error"]["field"] == "host"


async def test_public_host_overrides_the_host_header(tmp_path: Path) -> None:
    async with (
        web_app(tmp_path, public_host="turn.example.net", stun_port=443) as web,
        web.client() as client,
    ):
        for host in ("icewatch.test", "evil.example/x?y"):
            response = await client.post("/api/v1/sessions", headers={"Host": host})
            assert response.status_code == 201, response.text
            servers = response.json()["ice_servers"]
            assert servers[0]["urls"] == ["stun:turn.example.net:443"]
            assert _hosts(servers) == {"turn.example.net"}


async def test_public_host_ipv6_is_bracketed(tmp_path: Path) -> None:
    async with web_app(tmp_path, public_host="2001:db8::5") as web, web.client() as client:
        servers = (await web.create(client))["ice_servers"]
        assert servers[1]["urls"][0] == "turn:[2001:db8::5]:3478?transport=udp"


@pytest.mark.parametrize("bad", ["", "evil.example/x", "a b", "host:80", "[::1", "fe80::1%eth0"])
def test_invalid_public_host_is_refused_at_start(bad: str) -> None:
    from icewatch.web import WebSettings

    with pytest.raises(ValueError, match="public_host"):
        WebSettings(public_host=bad)


async def test_evidence_headers_are_kept_and_bounded(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        headers = {
            "User-Agent": "U" * 5000,
            "Sec-CH-UA": '"Chromium";v="156"',
            "Sec-CH-UA-Platform": '"Linux"',
            "Accept-Language": "en-GB," + "x" * 2000,
            "Cookie": "secret=1",
        }
        response = await client.post("/api/v1/sessions", headers=headers)
        assert response.status_code == 201
        created = response.json()
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        http = stored.evidence.http
        assert http.user_agent == "U" * 512
        kept = dict(http.headers)
        assert kept["sec-ch-ua"] == '"Chromium";v="156"'
        assert kept["sec-ch-ua-platform"] == '"Linux"'
        assert len(kept["accept-language"]) == 512
        assert "cookie" not in kept
