"""Per-client rate limits over real HTTP on the real app (real SQLite): POST
/api/v1/sessions and failed authentications (dashboard log-in, wrong API keys), 429 with
Retry-After, recovery as the injected clock moves, clients keyed by address (IPv6 per
/64, the forwarded client behind a trusted proxy), bounded memory, ``off``."""

from __future__ import annotations

import ipaddress
import tracemalloc
from pathlib import Path

import httpx
import pytest

from icewatch.core.addr import IPAddress
from icewatch.web import WebSettings
from icewatch.web.metrics import Metrics
from icewatch.web.ratelimit import RateLimiter, client_key

from .dashboard_support import dashboard_app
from .support import (
    API_KEY,
    Web,
    assert_error_shape,
    capture,
    capture_names,
    report_from_capture,
    web_app,
)

pytestmark = pytest.mark.anyio

PER_MINUTE_3 = (3, 60.0)


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


async def create(web: Web, peer: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with web.client(peer=peer, headers=headers) as client:
        return await client.post("/api/v1/sessions")


async def login(web: Web, peer: str, key: str) -> httpx.Response:
    async with web.client(peer=peer) as client:
        return await client.post(
            "/dashboard/login",
            content=str(httpx.QueryParams({"api_key": key})),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


# -- the limiter itself --------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refills_at_the_rate() -> None:
    limiter = RateLimiter(3, 60.0)
    client = ip("192.0.2.1")
    assert [limiter.hit(client, 1000.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.hit(client, 1000.0) == 20  # one token every 20 s
    assert limiter.blocked(client, 1000.0) == 20
    assert limiter.hit(client, 1010.0) == 10
    assert limiter.hit(client, 1020.0) == 0
    assert limiter.hit(client, 1020.0) == 20
    # A clock stepping back refills nothing and breaks nothing.
    assert limiter.hit(client, 900.0) == 20
    assert limiter.blocked(ip("192.0.2.2"), 1020.0) == 0


def test_keys_group_ipv6_by_64_and_unwrap_mapped_ipv4() -> None:
    assert client_key(ip("2001:db8:1:2::1")) == client_key(ip("2001:db8:1:2:ffff::9"))
    assert client_key(ip("2001:db8:1:2::1")) != client_key(ip("2001:db8:1:3::1"))
    assert client_key(ip("::ffff:192.0.2.7")) == client_key(ip("192.0.2.7"))
    assert client_key(ip("192.0.2.7")) != client_key(ip("192.0.2.8"))


def test_memory_stays_bounded_under_100k_distinct_clients() -> None:
    limiter = RateLimiter(1, 3600.0, max_keys=5000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100_000):
            # Every client is limited (a full hour to refill): none can be dropped as
            # "refilled"; the table still never holds more than max_keys.
            assert limiter.hit(ipaddress.IPv4Address(0x0A000000 + n), 1000.0) == 0
            assert len(limiter) <= 5000
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter) == 5000
    assert grown < 5000 * 400, grown  # a few hundred bytes per tracked client
    # The most recent clients are the ones still limited.
    assert limiter.blocked(ipaddress.IPv4Address(0x0A000000 + 99_999), 1000.0) > 0
    assert limiter.blocked(ipaddress.IPv4Address(0x0A000000), 1000.0) == 0


def test_refilled_buckets_are_dropped_as_traffic_goes_on() -> None:
    limiter = RateLimiter(30, 60.0)
    for n in range(1000):
        limiter.hit(ipaddress.IPv4Address(0x0A000000 + n), 1000.0)
    assert len(limiter) == 1000
    # Two minutes later every one of them has refilled: each new hit sweeps old ones.
    for n in range(600):
        limiter.hit(ipaddress.IPv4Address(0x0B000000 + n), 1120.0)
    assert len(limiter) < 1000


def test_bad_limits_are_refused() -> None:
    for count, period in ((0, 60.0), (3, 0.0)):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimiter(count, period)
    with pytest.raises(ValueError, match="rate_limit_sessions"):
        WebSettings(rate_limit_sessions=(0, 60.0))


# -- POST /api/v1/sessions -----------------------------------------------------------------


async def test_sessions_over_the_limit_get_429_with_retry_after(tmp_path: Path) -> None:
    async with web_app(tmp_path, rate_limit_sessions=PER_MINUTE_3) as web:
        for _ in range(3):
            assert (await create(web, "203.0.113.7")).status_code == 201
        refused = await create(web, "203.0.113.7")
        assert_error_shape(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "20"
        assert refused.headers["cache-control"] == "no-store"
        assert "try again in 20 s" in refused.json()["error"]["message"]
        # Nothing was stored for the refused request.
        listing = await web.store.list_sessions(limit=10)
        assert len(listing.sessions) == 3
        # Another client is not affected.
        assert (await create(web, "203.0.113.8")).status_code == 201
        # Time passes (the injected clock): one token is back, then the whole burst.
        web.clock.advance(19)
        assert (await create(web, "203.0.113.7")).status_code == 429
        web.clock.advance(1)
        assert (await create(web, "203.0.113.7")).status_code == 201
        assert (await create(web, "203.0.113.7")).status_code == 429
        web.clock.advance(60)
        for _ in range(3):
            assert (await create(web, "203.0.113.7")).status_code == 201
        # Other routes are not limited by it.
        async with web.client(peer="203.0.113.7") as client:
            assert (await client.get("/healthz")).status_code == 200


async def test_ipv6_clients_share_their_64(tmp_path: Path) -> None:
    async with web_app(tmp_path, rate_limit_sessions=PER_MINUTE_3) as web:
        for host in ("2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:abcd::99"):
            assert (await create(web, host)).status_code == 201
        # A fresh address in the same /64 is the same client.
        assert (await create(web, "2001:db8:5:6:ffff:ffff:ffff:ffff")).status_code == 429
        # The next /64 is somebody else.
        assert (await create(web, "2001:db8:5:7::1")).status_code == 201


async def test_behind_a_trusted_proxy_the_forwarded_client_is_the_key(tmp_path: Path) -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    async with web_app(tmp_path, rate_limit_sessions=PER_MINUTE_3, trusted_proxies=proxies) as web:
        # Through the proxy, two real clients each have their own bucket.
        for _ in range(3):
            r = await create(web, "10.0.0.2", {"X-Forwarded-For": "198.51.100.1"})
            assert r.status_code == 201
        r = await create(web, "10.0.0.2", {"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429
        r = await create(web, "10.0.0.2", {"X-Forwarded-For": "198.51.100.2"})
        assert r.status_code == 201
        # The same client through another proxy host is still the same client.
        r = await create(web, "10.0.0.3", {"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429
        # A client-written hop left of the real one changes nothing.
        r = await create(web, "10.0.0.2", {"X-Forwarded-For": "192.0.2.99, 198.51.100.1"})
        assert r.status_code == 429
        # An untrusted peer cannot rotate its key with a forged header.
        for n in range(3):
            r = await create(web, "203.0.113.50", {"X-Forwarded-For": f"192.0.2.{n}"})
            assert r.status_code == 201
        r = await create(web, "203.0.113.50", {"X-Forwarded-For": "192.0.2.200"})
        assert r.status_code == 429


async def test_off_does_not_limit(tmp_path: Path) -> None:
    async with web_app(tmp_path, rate_limit_sessions=None) as web:
        for _ in range(40):
            assert (await create(web, "203.0.113.7")).status_code == 201


async def test_refusals_are_counted_in_metrics(tmp_path: Path) -> None:
    async with web_app(
        tmp_path,
        metrics=Metrics(),
        api_key=API_KEY,
        rate_limit_sessions=(1, 60.0),
        rate_limit_login=(1, 60.0),
    ) as web:
        text = (await _metrics(web)).text
        assert 'icewatch_rate_limited_total{route="sessions"} 0.0' in text
        assert 'icewatch_rate_limited_total{route="login"} 0.0' in text
        assert (await create(web, "192.0.2.1")).status_code == 201
        assert (await create(web, "192.0.2.1")).status_code == 429
        assert (await create(web, "192.0.2.1")).status_code == 429
        assert (await login(web, "192.0.2.1", "wrong-key-0123456789")).status_code == 401
        assert (await login(web, "192.0.2.1", "wrong-key-0123456789")).status_code == 429
        text = (await _metrics(web)).text
        assert 'icewatch_rate_limited_total{route="sessions"} 2.0' in text
        assert 'icewatch_rate_limited_total{route="login"} 1.0' in text


async def _metrics(web: Web) -> httpx.Response:
    async with web.client(peer="127.0.0.1", headers={"X-API-Key": API_KEY}) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response


# -- failed authentications ----------------------------------------------------------------


async def test_dashboard_login_wrong_keys_are_limited(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, rate_limit_login=PER_MINUTE_3) as web:
        for _ in range(3):
            assert (await login(web, "198.51.100.9", "wrong-key-0123456789")).status_code == 401
        refused = await login(web, "198.51.100.9", "wrong-key-0123456789")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "20"
        assert refused.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in refused.headers["content-security-policy"]
        assert "Too many attempts" in refused.text
        assert "Try again in 20 seconds" in refused.text
        # While refused, even the right key is not looked at (nothing more is learnt).
        assert (await login(web, "198.51.100.9", API_KEY)).status_code == 429
        # Another address logs in as usual; a right key costs nothing.
        for _ in range(5):
            assert (await login(web, "198.51.100.10", API_KEY)).status_code == 303
        web.clock.advance(20)
        assert (await login(web, "198.51.100.9", API_KEY)).status_code == 303


async def test_wrong_api_keys_on_the_api_are_limited_too(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, rate_limit_login=PER_MINUTE_3) as web:
        wrong = {"X-API-Key": "wrong-key-0123456789"}
        async with web.client(peer="198.51.100.20", headers=wrong) as client:
            for _ in range(3):
                assert (await client.get("/api/v1/sessions")).status_code == 401
            refused = await client.get("/api/v1/sessions")
            assert_error_shape(refused, 429, "rate_limited")
            assert refused.headers["retry-after"] == "20"
            # The dashboard with the header is the same client: an HTML 429.
            page = await client.get("/dashboard/sessions")
            assert page.status_code == 429
            assert page.headers["content-type"].startswith("text/html")
        # Requests without credentials are not authentication attempts.
        async with web.client(peer="198.51.100.20") as client:
            assert (await client.get("/api/v1/signals")).status_code == 200
            assert (await client.post("/api/v1/sessions")).status_code == 201
        # The right key, many times, from elsewhere: never limited.
        async with web.client(peer="198.51.100.21", headers={"X-API-Key": API_KEY}) as client:
            for _ in range(10):
                assert (await client.get("/api/v1/sessions")).status_code == 200


async def test_a_key_guesser_does_not_stop_reports_from_the_same_address(tmp_path: Path) -> None:
    """Visitors behind one NAT share an address: someone there guessing the API key is
    refused, but the page's report and offer (session token only) are not limited."""
    async with dashboard_app(tmp_path, rate_limit_login=PER_MINUTE_3) as web:
        wrong = {"X-API-Key": "wrong-key-0123456789"}
        async with web.client(peer="198.51.100.30", headers=wrong) as client:
            for _ in range(3):
                assert (await client.get("/api/v1/sessions")).status_code == 401
            assert (await client.get("/api/v1/sessions")).status_code == 429
        async with web.client(peer="198.51.100.30") as client:
            created = await web.create(client)
            # A wrong session token is a 401, never a 429, and costs nothing.
            bad = dict(created, token=created["token"][:-4] + "AAAA")
            body = report_from_capture(capture(capture_names()[0]))
            for _ in range(5):
                assert (await web.report(client, bad, body)).status_code == 401
            answer = await web.report(client, created, body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["verdict"]["level"] in ("low", "medium", "high")


async def test_login_limit_off(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, rate_limit_login=None) as web:
        for _ in range(15):
            assert (await login(web, "198.51.100.9", "wrong-key-0123456789")).status_code == 401


async def test_a_429_from_another_origin_still_carries_cors_headers(tmp_path: Path) -> None:
    async with web_app(
        tmp_path, rate_limit_sessions=(1, 60.0), cors_origins=("https://shop.example",)
    ) as web:
        origin = {"Origin": "https://shop.example"}
        assert (await create(web, "192.0.2.5", origin)).status_code == 201
        refused = await create(web, "192.0.2.5", origin)
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == "https://shop.example"
