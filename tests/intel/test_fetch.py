"""The downloader against a real local HTTP server: conditional requests, bounds, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from icewatch.intel.fetch import FetchError, Validators, discover_url, fetch, open_client
from tests.intel.feeds import Feed, FeedServer, feed_server

BODY = b"192.0.2.0/24\n2001:db8::/32\n"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


def test_first_download_returns_body_and_validators(server: FeedServer) -> None:
    server.feeds["/list"] = Feed(BODY)
    seen: list[tuple[int, int | None]] = []
    with open_client() as client:
        r = fetch(
            client, server.url("/list"), max_bytes=1000, progress=lambda a, b: seen.append((a, b))
        )
    assert r.status == 200
    assert r.body == BODY
    assert r.validators.etag == server.feeds["/list"].tag()
    assert r.validators.last_modified == "Sat, 22 Aug 2026 10:00:00 GMT"
    assert seen[0] == (0, len(BODY))
    assert seen[-1] == (len(BODY), len(BODY))
    assert server.hits("/list")[0].headers["user-agent"].startswith("icewatch/")


def test_conditional_request_gets_304_and_no_body(server: FeedServer) -> None:
    server.feeds["/list"] = Feed(BODY)
    with open_client() as client:
        first = fetch(client, server.url("/list"), max_bytes=1000)
        second = fetch(client, server.url("/list"), max_bytes=1000, validators=first.validators)
    assert second.not_modified
    assert second.status == 304
    sent = server.hits("/list")[1].headers
    assert sent["if-none-match"] == first.validators.etag
    assert sent["if-modified-since"] == first.validators.last_modified


def test_last_modified_alone_is_sent_back(server: FeedServer) -> None:
    server.feeds["/list"] = Feed(BODY)
    with open_client() as client:
        r = fetch(
            client,
            server.url("/list"),
            max_bytes=1000,
            validators=Validators(last_modified="Sat, 22 Aug 2026 10:00:00 GMT"),
        )
    assert r.not_modified


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        (Feed(BODY, status=500), "HTTP 500"),
        (Feed(BODY, status=404), "HTTP 404"),
        (Feed(BODY * 100), "too large: 2700 bytes announced"),
        (Feed(b"", endless=True), "too large: more than"),
        (Feed(BODY * 10, truncate_to=30), "truncated"),
    ],
)
def test_failures_raise_one_error_type(server: FeedServer, feed: Feed, message: str) -> None:
    server.feeds["/x"] = feed
    with open_client() as client, pytest.raises(FetchError, match=message):
        fetch(client, server.url("/x"), max_bytes=1000)


def test_timeout(server: FeedServer) -> None:
    server.feeds["/slow"] = Feed(BODY, delay=2.0)
    with open_client(timeout=0.3) as client, pytest.raises(FetchError, match="timed out"):
        fetch(client, server.url("/slow"), max_bytes=1000)


def test_overall_deadline_stops_a_trickle(server: FeedServer) -> None:
    server.feeds["/endless"] = Feed(b"", endless=True)
    ticks = iter(range(0, 10_000, 100))
    with open_client() as client, pytest.raises(FetchError, match="took longer than 250 s"):
        fetch(
            client,
            server.url("/endless"),
            max_bytes=1 << 30,
            deadline_s=250,
            clock=lambda: float(next(ticks)),
        )


def test_refuses_other_schemes() -> None:
    with open_client() as client, pytest.raises(FetchError, match="not an http"):
        fetch(client, "file:///etc/passwd", max_bytes=10)


def test_discover_picks_the_newest_dated_link(server: FeedServer) -> None:
    page = (
        b'<a href="https://download.example/x/ServiceTags_Public_20260810.json">old</a>'
        b'{"url":"https:\\/\\/download.example\\/y\\/ServiceTags_Public_20260817.json"}'
    )
    server.feeds["/details"] = Feed(page)
    pattern = r"https?://[^\s\"'<>]+/ServiceTags_Public_(\d{8})\.json"
    with open_client() as client:
        url = discover_url(client, server.url("/details"), pattern)
        assert url == "https://download.example/y/ServiceTags_Public_20260817.json"
        direct = server.url("/f/ServiceTags_Public_20260817.json")
        assert discover_url(client, direct, pattern) == direct  # a direct URL is kept
        server.feeds["/empty"] = Feed(b"<html>nothing</html>")
        with pytest.raises(FetchError, match="no file link"):
            discover_url(client, server.url("/empty"), pattern)
