"""Dashboard access: closed without an API key, the login form, the signed cookie
(HttpOnly, SameSite=Strict, Path=/dashboard, Secure over HTTPS, bounded life), CSRF
care on the form posts, scripted access with the API key header."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from icewatch.web.dashboard.auth import COOKIE_NAME, make_cookie, same_origin, verify_cookie

from .dashboard_support import KEY_HEADERS, dashboard_app
from .support import API_KEY, HOST, web_app

pytestmark = pytest.mark.anyio

PAGES = ["/dashboard", "/dashboard/sessions", "/dashboard/sessions/AAAAAAAAAAAAAAAAAAAAAA"]


async def login(client: httpx.AsyncClient, key: str = API_KEY, **form: str) -> httpx.Response:
    return await client.post(
        "/dashboard/login",
        content=httpx.QueryParams({"api_key": key, **form}).__str__(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def cookie_header(response: httpx.Response) -> str:
    values = [v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE_NAME)]
    assert len(values) == 1, response.headers
    return values[0]


async def test_no_api_key_closes_the_dashboard(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        for path in [*PAGES, "/dashboard/login"]:
            response = await client.get(path, headers=KEY_HEADERS)
            assert response.status_code == 403, path
            assert response.headers["content-type"].startswith("text/html")
            assert "api_key" in response.text
            assert "--api-key" in response.text
            assert "ICEWATCH_API_KEY" in response.text
        response = await login(client, "anything-at-all-1234")
        assert response.status_code == 403
        assert "set-cookie" not in response.headers


async def test_without_credentials_pages_send_to_the_login_form(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        response = await client.get("/dashboard/sessions?level=high")
        assert response.status_code == 303
        assert response.headers["location"] == (
            "/dashboard/login?next=%2Fdashboard%2Fsessions%3Flevel%3Dhigh"
        )
        form = await client.get(response.headers["location"])
        assert form.status_code == 200
        assert '<form method="post" action="/dashboard/login"' in form.text
        assert 'name="api_key" type="password"' in form.text
        assert 'value="/dashboard/sessions?level=high"' in form.text
        csv = await client.get("/dashboard/sessions?format=csv")
        assert csv.status_code == 303


async def test_wrong_key_gets_401_and_the_form_again(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        for key in ("", "wrong-key-0123456789", API_KEY + "x", API_KEY[:-1], "x" * 600):
            response = await login(client, key)
            assert response.status_code == 401, key
            assert "set-cookie" not in response.headers
            assert 'name="api_key"' in response.text
            assert "not the one configured" in response.text
        huge = await login(client, "x" * 5000)
        assert huge.status_code == 400
        assert "set-cookie" not in huge.headers


async def test_login_sets_a_strict_http_only_cookie_that_opens_the_dashboard(
    tmp_path: Path,
) -> None:
    async with dashboard_app(tmp_path, dashboard_login_ttl=3600) as web, web.client() as client:
        response = await login(client, next="/dashboard/sessions")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/sessions"
        header = cookie_header(response)
        attrs = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= attrs
        assert "secure" not in attrs  # plain HTTP: a Secure cookie would never come back
        assert "Path=/dashboard" in header
        assert "SameSite=strict" in header or "SameSite=Strict" in header
        assert "Max-Age=3600" in header
        for path in ("/dashboard/sessions", "/dashboard/sessions?level=low"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert 'action="/dashboard/logout"' in page.text


async def test_cookie_is_secure_over_https(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        transport = httpx.ASGITransport(app=web.app, client=("203.0.113.7", 51000))
        async with httpx.AsyncClient(transport=transport, base_url=f"https://{HOST}") as client:
            response = await login(client)
            assert response.status_code == 303
            assert "secure" in cookie_header(response).lower().split("; ")


async def test_cookie_is_secure_behind_a_trusted_tls_proxy_only(tmp_path: Path) -> None:
    import ipaddress

    trusted = (ipaddress.ip_network("10.0.0.0/8"),)
    async with dashboard_app(tmp_path, trusted_proxies=trusted) as web:
        headers = {"X-Forwarded-Proto": "https"}
        async with web.client(peer="10.1.2.3", headers=headers) as client:
            assert "secure" in cookie_header(await login(client)).lower().split("; ")
        async with web.client(peer="198.51.100.1", headers=headers) as client:
            assert "secure" not in cookie_header(await login(client)).lower().split("; ")


async def test_tampered_cookies_are_refused(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        value = cookie_header(await login(client)).split(";")[0].split("=", 1)[1]
        version, expiry, nonce, mac = value.split(".")
        flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
        tampered = [
            f"{version}.{expiry}.{nonce}.{flipped}",
            f"{version}.{int(expiry) + 86400}.{nonce}.{mac}",  # a longer life
            f"{version}.{expiry}.{nonce}x.{mac}",
            f"v2.{expiry}.{nonce}.{mac}",
            f"{version}.{expiry}.{nonce}",
            "",
            "x" * 300,
            f"{version}.-1.{nonce}.{mac}",
        ]
        client.cookies.clear()
        for bad in tampered:
            client.cookies.set(COOKIE_NAME, bad)
            response = await client.get("/dashboard/sessions")
            assert response.status_code == 303, bad
            assert response.headers["location"].startswith("/dashboard/login")
        client.cookies.set(COOKIE_NAME, value)
        ok = await client.get("/dashboard/sessions")
        assert ok.status_code == 200


async def test_cookie_expires(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, dashboard_login_ttl=600) as web, web.client() as client:
        await login(client)
        assert (await client.get("/dashboard/sessions")).status_code == 200
        web.clock.advance(599)
        assert (await client.get("/dashboard/sessions")).status_code == 200
        web.clock.advance(2)
        assert (await client.get("/dashboard/sessions")).status_code == 303


async def test_a_new_api_key_ends_old_logins(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        await login(client)
        value = client.cookies[COOKIE_NAME]
    other = "another-operator-key-987654"
    async with dashboard_app(tmp_path, api_key=other) as web, web.client() as client:
        client.cookies.set(COOKIE_NAME, value)
        response = await client.get("/dashboard/sessions")
        assert response.status_code == 303  # same store secret, different key
        client.cookies.clear()
        assert (await login(client, other)).status_code == 303
        assert (await client.get("/dashboard/sessions")).status_code == 200


async def test_logins_survive_a_restart(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        await login(client)
        value = client.cookies[COOKIE_NAME]
    async with dashboard_app(tmp_path) as web, web.client() as client:
        client.cookies.set(COOKIE_NAME, value)
        response = await client.get("/dashboard/sessions")
        assert response.status_code == 200  # the secret is the store's, not the process's


async def test_cross_site_form_posts_are_refused(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        for origin in ("https://evil.example", "null", f"http://{HOST}.evil.example", "http://x:y"):
            response = await client.post(
                "/dashboard/login",
                content=f"api_key={API_KEY}",
                headers={"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 403, origin
            assert "set-cookie" not in response.headers
        response = await client.post(
            "/dashboard/login",
            content=f"api_key={API_KEY}",
            headers={
                "Origin": f"http://{HOST}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert response.status_code == 303
        logout = await client.post("/dashboard/logout", headers={"Origin": "https://evil.example"})
        assert logout.status_code == 403
        assert (await client.get("/dashboard/sessions")).status_code == 200


async def test_logout_clears_the_cookie(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        await login(client)
        response = await client.post("/dashboard/logout", headers={"Origin": f"http://{HOST}"})
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login"
        header = cookie_header(response)
        assert "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header
        assert "Path=/dashboard" in header
        assert (await client.get("/dashboard/sessions")).status_code == 303


@pytest.mark.parametrize(
    "target",
    ["//evil.example/dashboard", "https://evil.example/", "/api/v1/sessions", "/dashboard\\@x"],
)
async def test_login_never_redirects_elsewhere(tmp_path: Path, target: str) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        response = await login(client, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard"


async def test_api_key_header_opens_every_page_without_a_cookie(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        async with web.client(headers=KEY_HEADERS) as client:
            response = await client.get("/dashboard/sessions")
            assert response.status_code == 200
            assert "set-cookie" not in response.headers
            assert 'action="/dashboard/logout"' not in response.text
        async with web.client(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            assert (await client.get("/dashboard/sessions")).status_code == 200
        async with web.client(headers={"X-API-Key": "wrong-key-0123456789"}) as client:
            response = await client.get("/dashboard/sessions")
            assert response.status_code == 401
            assert 'name="api_key"' in response.text


def test_cookie_unit() -> None:
    secret = b"s" * 32
    value = make_cookie(secret, API_KEY, 1000, b"n" * 16)
    assert verify_cookie(secret, API_KEY, value, 999.9)
    assert not verify_cookie(secret, API_KEY, value, 1000)
    assert not verify_cookie(b"t" * 32, API_KEY, value, 10)
    assert not verify_cookie(secret, API_KEY + "x", value, 10)
    for junk in (None, "", ".", "v1...", "v1.1e3.a.b", "v1.\u0661\u0660\u0660.a.b", "\x00" * 10):
        assert not verify_cookie(secret, API_KEY, junk, 10)


def test_same_origin_unit() -> None:
    from starlette.requests import Request

    def request(headers: dict[str, str]) -> Request:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        return Request({"type": "http", "method": "POST", "headers": raw, "scheme": "http"})

    assert same_origin(request({"host": "a.example"}))
    assert same_origin(request({"host": "a.example", "origin": "https://a.example"}))
    assert same_origin(request({"host": "a.example:8080", "origin": "http://a.example:8080"}))
    assert not same_origin(request({"host": "a.example:8080", "origin": "http://a.example"}))
    assert not same_origin(request({"host": "a.example", "origin": "http://b.example"}))
    assert not same_origin(request({"host": "a.example", "origin": "ftp://a.example"}))
    assert not same_origin(request({"origin": "http://a.example"}))


def test_login_lifetime_is_a_setting() -> None:
    from icewatch.service.runner import web_settings
    from icewatch.service.settings import Settings

    assert web_settings(Settings()).dashboard_login_ttl == 8 * 3600
    assert web_settings(Settings(dashboard_login_ttl=600)).dashboard_login_ttl == 600
