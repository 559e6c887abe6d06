"""The dashboard's second pass: unknown paths and wrong methods as HTML pages in the
dashboard's layout, the charts' data as tables, the session's webhook delivery state,
deleting a session from its page, the active filters as chips with a count, and the
overview's flagged share — on the real app over a real SQLite store."""

from __future__ import annotations

import asyncio
import http.server
import ipaddress
import re
import threading
from collections.abc import Callable, Sequence
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from icewatch.core.ports import OutboxItem, SessionFilter, SessionStore
from icewatch.core.scoring import RULES
from icewatch.core.verdict import Level
from icewatch.service.webhooks import WebhookConfig, WebhookWorker

from .dashboard_support import PROXY_PEER, dashboard_app, fill, keyed, session_links, visit
from .support import HOST
from .test_dashboard import assert_valid_page
from .test_dashboard_auth import login

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/nope",
        "/dashboard/sessions/AAAAAAAAAAAAAAAAAAAAAA/extra",
        "/dashboard/static/missing.css",
        "/dashboard/overview",
        "/dashboard/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ],
)
async def test_an_unknown_dashboard_path_is_an_html_404_page(tmp_path: Path, path: str) -> None:
    async with dashboard_app(tmp_path) as web:
        async with keyed(web) as client:
            response = await client.get(path)
        assert response.status_code == 404, response.text[:300]
        html = assert_valid_page(response)
        assert "<h1>Not found</h1>" in html
        assert "There is no dashboard page at this address." in html
        assert 'href="/dashboard/sessions"' in html  # the layout: nav and links
        assert '<header class="topbar">' in html
        assert "<script>" not in html
        # Without credentials too (it reveals nothing), without the log-out button.
        async with web.client() as anonymous:
            bare = await anonymous.get(path)
        assert bare.status_code == 404
        assert 'action="/dashboard/logout"' not in assert_valid_page(bare)


async def test_a_known_path_with_another_method_is_an_html_405(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, keyed(web) as client:
        for method, path in (
            ("POST", "/dashboard/sessions"),
            ("DELETE", "/dashboard"),
            ("PUT", "/dashboard/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
        ):
            response = await client.request(method, path)
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == "GET"
            html = assert_valid_page(response)
            assert "Method not allowed" in html
        slash = await client.get("/dashboard/")
        assert slash.status_code == 307
        assert slash.headers["location"] == "/dashboard"


def _data_table(html: str, uid: str) -> list[list[str]]:
    """The rows (header row first) of the data table under chart ``uid``."""
    found = re.search(rf'<table class="compact" id="{uid}-data">(.*?)</table>', html, re.S)
    assert found is not None, uid
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [[unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


async def test_each_chart_has_its_data_as_a_table(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            html = assert_valid_page(await client.get("/dashboard?range=7d"))
    # Every chart: an SVG image labelled by its title and description, then its data.
    for uid in ("chart-timeline", "chart-signals", "chart-providers", "chart-ttv",
                "chart-surprisal"):  # fmt: skip
        svg = re.search(rf'<svg [^>]*aria-labelledby="{uid}-title {uid}-desc">', html)
        assert svg is not None, uid
        assert 'role="img"' in svg.group(0), uid
        assert f'<title id="{uid}-title">' in html
        assert f'<desc id="{uid}-desc">' in html
        if uid != "chart-providers":  # no IP data loaded here: no rows (below)
            assert svg.start() < html.index(f'id="{uid}-data"')
    assert html.count('role="img"') == 5
    assert html.count('<details class="chart-data">\n  <summary>Data</summary>') == 5
    # The timeline: one row per bucket, counts by level that add up to the sessions.
    timeline = _data_table(html, "chart-timeline")
    assert timeline[0] == ["Bucket start (UTC)", "high", "medium", "low", "pending", "Total",
                           "Flagged (medium or high)"]  # fmt: skip
    assert len(timeline) == 1 + 28
    totals = [int(row[5]) for row in timeline[1:]]
    assert sum(totals) == len(filled.all)
    assert sum(int(row[2]) for row in timeline[1:]) == len(filled.medium)
    busy = [row for row in timeline[1:] if row[5] != "0"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[0]) for row in timeline[1:])
    flagged_rows = [row for row in busy if row[2] != "0"]
    assert flagged_rows
    assert all(row[6].endswith("%") for row in busy)
    assert all(row[6] == "\u2014" for row in timeline[1:] if row[5] == "0")
    # Top signals: the code, its title, the count; the mismatch carried by every medium.
    signals = _data_table(html, "chart-signals")
    assert signals[0] == ["Signal", "Title", "Sessions"]
    mismatch = next(r for r in signals[1:] if r[0] == "ip.webrtc_http_mismatch")
    rule = next(r for r in RULES if r.code.value == "ip.webrtc_http_mismatch")
    assert mismatch[1] == rule.title
    assert int(mismatch[2]) >= len(filled.medium)
    # Time to verdict: every reported session in one bin.
    ttv = _data_table(html, "chart-ttv")
    assert sum(int(r[1]) for r in ttv[1:]) == len(filled.all) - len(filled.pending)
    surprisal = _data_table(html, "chart-surprisal")
    assert surprisal[0] == ["Surprisal (bits)", "Sessions"]
    # No provider data loaded: the table says so instead of drawing an empty one.
    assert 'id="chart-providers-data"' not in html
    assert '<p class="empty">No data.</p>' in html


async def test_flagged_share_and_range_buttons_keep_the_other_filters(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            html = assert_valid_page(await client.get("/dashboard"))
            total = len(filled.all)
            medium = len(filled.medium)
            expected = f"{100 * medium / total:.1f} %"
            assert f"Flagged: <strong>{expected}</strong>" in html
            assert f"{medium} of {total} sessions at medium or high" in html
            assert f"include {len(filled.pending)} pending (no verdict yet)" in html
            only_low = assert_valid_page(await client.get("/dashboard?level=low"))
            assert "Flagged: <strong>0 %</strong>" in only_low
            web.clock.advance(40 * 86_400)
            empty = assert_valid_page(await client.get("/dashboard?range=30d"))
            assert "Flagged: <strong>\u2014</strong>" in empty
            # The range buttons keep every filter but since/until (which they replace).
            query = "level=medium&ip=10.77.1.0%2F24&ua=Chrome&since=2026-01-01&range=7d"
            page = assert_valid_page(await client.get(f"/dashboard?{query}"))
            for value in ("24h", "7d", "30d"):
                href = (
                    f'href="/dashboard?level=medium&amp;ip=10.77.1.0%2F24&amp;ua=Chrome'
                    f'&amp;range={value}"'
                )
                assert href in page, value
            follow = await client.get(
                "/dashboard?level=medium&ip=10.77.1.0%2F24&ua=Chrome&range=24h"
            )
            assert follow.status_code == 200


async def test_delete_a_session_from_its_page(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        filled = await fill(web)
        sid = filled.medium[0]
        other = filled.medium[1]
        async with web.client() as client:
            assert (await login(client)).status_code == 303  # a browser: the cookie
            detail = assert_valid_page(await client.get(f"/dashboard/sessions/{sid}"))
            assert f'<a class="button danger-outline" href="/dashboard/sessions/{sid}/delete">' \
                'Delete session</a>' in detail  # fmt: skip
            assert (
                f'<a class="button" href="/dashboard/sessions/{sid}?format=json&amp;download=1"'
                " download>Export this session (JSON)</a>" in detail
            )
            download = await client.get(f"/dashboard/sessions/{sid}?format=json&download=1")
            assert download.headers["content-disposition"] == (
                f'attachment; filename="icewatch-session-{sid}.json"'
            )
            assert download.json()["id"] == sid
            confirm = await client.get(f"/dashboard/sessions/{sid}/delete")
            assert confirm.status_code == 200
            html = assert_valid_page(confirm)
            assert "<h1>Delete this session?</h1>" in html
            assert f'<form method="post" action="/dashboard/sessions/{sid}/delete"' in html
            assert f'<a class="button" href="/dashboard/sessions/{sid}">Cancel</a>' in html
            # From another site: refused, nothing deleted.
            for headers in (
                {"Origin": "https://evil.example"},
                {"Origin": "null"},
                {"Origin": f"http://{HOST}", "Sec-Fetch-Site": "cross-site"},
                {"Origin": f"http://{HOST}", "Sec-Fetch-Site": "same-site"},
            ):
                refused = await client.post(f"/dashboard/sessions/{sid}/delete", headers=headers)
                assert refused.status_code == 403, headers
                assert "posted from another site" in assert_valid_page(refused)
                assert await web.store.get_session(sid) is not None
            # The form, as a browser posts it.
            done = await client.post(
                f"/dashboard/sessions/{sid}/delete",
                headers={"Origin": f"http://{HOST}", "Sec-Fetch-Site": "same-origin"},
            )
            assert done.status_code == 303
            assert done.headers["location"] == f"/dashboard/sessions?deleted={sid}"
            assert await web.store.get_session(sid) is None
            assert await web.store.get_session(other) is not None
            listed = assert_valid_page(await client.get(done.headers["location"]))
            assert f'<p class="notice" role="status">Session {sid} deleted.</p>' in listed
            assert sid not in session_links(listed)
            # Gone: its page, its confirmation and a second delete are 404 pages.
            for response in (
                await client.get(f"/dashboard/sessions/{sid}"),
                await client.get(f"/dashboard/sessions/{sid}/delete"),
                await client.post(f"/dashboard/sessions/{sid}/delete"),
            ):
                assert response.status_code == 404
                assert "No such session" in assert_valid_page(response)
            # The notice only when it is true: a live session, or a made-up id.
            for fake in (other, "AAAAAAAAAAAAAAAAAAAAAA&x", "<b>x</b>"):
                page = assert_valid_page(
                    await client.get("/dashboard/sessions", params={"deleted": fake})
                )
                assert 'class="notice"' not in page, fake
        # Without credentials: the login form, nothing deleted.
        async with web.client() as anonymous:
            response = await anonymous.post(f"/dashboard/sessions/{other}/delete")
            assert response.status_code == 303
            assert response.headers["location"].startswith("/dashboard/login?next=")
            wrong = await anonymous.post(
                f"/dashboard/sessions/{other}/delete", headers={"X-API-Key": "x" * 20}
            )
            assert wrong.status_code == 401
        assert await web.store.get_session(other) is not None
        # A script with the API key (no Origin header) deletes too.
        async with keyed(web) as client:
            response = await client.post(f"/dashboard/sessions/{other}/delete")
            assert response.status_code == 303
        assert await web.store.get_session(other) is None
        # The overview counts no more what is gone.
        async with keyed(web) as client:
            overview = assert_valid_page(await client.get("/dashboard"))
        assert f"of {len(filled.all) - 2} sessions" in overview


async def test_delete_with_a_failing_store_is_a_503_page(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, keyed(web) as client:
        await web.store.close()
        for method in ("GET", "POST"):
            response = await client.request(
                method, "/dashboard/sessions/AAAAAAAAAAAAAAAAAAAAAA/delete"
            )
            assert response.status_code == 503, method
            assert "Session storage is unavailable" in assert_valid_page(response)


class _Receiver:
    """A real HTTP server on loopback answering the given statuses in turn (then 200)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.seen: list[bytes] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.seen.append(body)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def _outbox_settles(
    store: SessionStore, sid: str, done: Callable[[Sequence[OutboxItem]], bool]
) -> Sequence[OutboxItem]:
    for _ in range(500):
        items = await store.outbox_for_session(sid)
        if done(items):
            return items
        await asyncio.sleep(0.01)
    raise AssertionError(f"the outbox of {sid} did not settle: {items}")


def _webhook_card(html: str) -> str:
    found = re.search(r'<section class="card" id="webhook">(.*?)</section>', html, re.S)
    assert found is not None
    return found.group(1)


async def test_the_session_page_shows_its_webhook_delivery(tmp_path: Path) -> None:
    receiver = _Receiver()
    workers: list[WebhookWorker] = []

    def hook(store: SessionStore, clock: Callable[[], float]) -> WebhookWorker:
        config = WebhookConfig(
            url=receiver.url, secret="webhook-secret-0123456789", level=Level.MEDIUM,
            retry_base=600.0, timeout=5.0,
        )  # fmt: skip
        workers.append(WebhookWorker(store, config, clock=clock))
        return workers[0]

    try:
        async with dashboard_app(tmp_path, webhooks=hook) as web:
            worker = workers[0]
            worker.start()
            try:
                low = await visit(web, "chromium-156-default", "10.77.1.2")
                async with web.client(peer="192.0.2.44") as client:
                    unreported = await web.create(client)
                delivered = await visit(web, "chromium-156-nat", PROXY_PEER)
                await _outbox_settles(web.store, delivered["id"], lambda items: not items)
                receiver.statuses.append(500)
                failing = await visit(web, "firefox-153-nat", PROXY_PEER)
                await _outbox_settles(
                    web.store, failing["id"], lambda items: bool(items) and items[0].attempts == 1
                )
                receiver.statuses.append(410)
                gone = await visit(web, "chromium-156-nat", PROXY_PEER)
                await _outbox_settles(
                    web.store, gone["id"], lambda items: bool(items) and items[0].status == "dead"
                )
            finally:
                await worker.close()
            queued = await visit(web, "firefox-153-nat", PROXY_PEER)  # the worker is stopped
            assert len(receiver.seen) == 3
            async with keyed(web) as client:
                cards = {
                    name: _webhook_card(
                        assert_valid_page(await client.get(f"/dashboard/sessions/{sid}"))
                    )
                    for name, sid in (
                        ("low", low["id"]),
                        ("unreported", unreported["id"]),
                        ("delivered", delivered["id"]),
                        ("failing", failing["id"]),
                        ("gone", gone["id"]),
                        ("queued", queued["id"]),
                    )
                }
            assert '<span class="badge webhook-below">below</span>' in cards["low"]
            assert (
                "Not sent: the verdict (low) is below the webhook level (medium)." in cards["low"]
            )
            assert "webhook-unscored" in cards["unreported"]
            assert "No verdict yet" in cards["unreported"]
            # Delivered rows are deleted: the page says what it infers, and its caveats.
            assert '<span class="badge webhook-delivered">delivered</span>' in cards["delivered"]
            assert "Delivered, as far as icewatch can tell" in cards["delivered"]
            assert "the outbox was full" in cards["delivered"]
            assert "<table" not in cards["delivered"]
            failing_card = cards["failing"]
            assert '<span class="badge webhook-pending">pending</span>' in failing_card
            assert "Pending: 1 failed attempt so far (last: HTTP 500); the next is due at " in (
                failing_card
            )
            items = await web.store.outbox_for_session(failing["id"])
            assert f'<td class="mono">{items[0].event.id}</td>' in failing_card
            assert '<td class="num">1</td>' in failing_card
            assert '<td class="mono">HTTP 500</td>' in failing_card
            assert '<span class="badge webhook-dead">dead</span>' in cards["gone"]
            assert "Dead: given up after 1 attempt (last: HTTP 410)." in cards["gone"]
            assert "Queued: not sent yet; the next attempt is due now." in cards["queued"]
            # Deleting the session deletes its undelivered event too.
            async with keyed(web) as client:
                response = await client.post(f"/dashboard/sessions/{queued['id']}/delete")
                assert response.status_code == 303
            assert await web.store.outbox_for_session(queued["id"]) == []
            assert await web.store.outbox_items(status="pending", limit=10) == list(
                await web.store.outbox_for_session(failing["id"])
            )
    finally:
        receiver.close()


async def test_no_webhook_card_when_webhooks_are_off(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        doc = await visit(web, "chromium-156-nat", PROXY_PEER)
        async with keyed(web) as client:
            html = assert_valid_page(await client.get(f"/dashboard/sessions/{doc['id']}"))
    assert 'id="webhook"' not in html


def _params(href: str) -> list[tuple[str, str]]:
    path, _, query = href.partition("?")
    assert path == "/dashboard/sessions"
    return sorted(parse_qsl(query))


def _chips(html: str) -> dict[str, str]:
    """``"Label: value"`` → the link that removes it."""
    return {
        f"{unescape(label)}: {unescape(value)}": unescape(href)
        for href, label, value in re.findall(
            r'<a class="chip" href="([^"]*)" title="Remove this filter">([^:<]*): '
            r"<strong>([^<]*)</strong>",
            html,
        )
    }


async def test_active_filters_are_removable_chips(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, page_size=4) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            plain = assert_valid_page(await client.get("/dashboard/sessions"))
            assert 'class="chips"' not in plain
            query = (
                "level=medium,pending&ip=10.77.1.0%2F24&ua=Firefox&signal=ip.webrtc_http_mismatch"
                "&provider=%3Cb%3EX&range=7d"
            )
            html = assert_valid_page(await client.get(f"/dashboard/sessions?{query}"))
            assert '<nav class="chips" aria-label="Active filters">' in html
            assert "<b>X" not in html
            chips = {label: _params(href) for label, href in _chips(html).items()}
            every = [("level", "medium,pending"), ("ip", "10.77.1.0/24"), ("ua", "Firefox"),
                     ("signal", "ip.webrtc_http_mismatch"), ("provider", "<b>X"),
                     ("range", "7d")]  # fmt: skip

            def without(pair: tuple[str, str], *extra: tuple[str, str]) -> list[tuple[str, str]]:
                return sorted([*(p for p in every if p != pair), *extra])

            assert chips == {
                "Level: medium": without(("level", "medium,pending"), ("level", "pending")),
                "Level: pending": without(("level", "medium,pending"), ("level", "medium")),
                "Signal: ip.webrtc_http_mismatch": without(("signal", "ip.webrtc_http_mismatch")),
                "IP: 10.77.1.0/24": without(("ip", "10.77.1.0/24")),
                "Provider: <b>X": without(("provider", "<b>X")),
                "Browser: Firefox": without(("ua", "Firefox")),
                "Range: 7d": without(("range", "7d")),
            }
            assert 'class="chips-clear" href="/dashboard/sessions">Clear all</a>' in html
            # Removing chips one by one walks back to the whole list.
            url = "/dashboard/sessions?level=medium&ip=10.77.1.3"
            medium = assert_valid_page(await client.get(url))
            assert set(session_links(medium)) == set(filled.medium) & set(
                filled.by_peer[PROXY_PEER]
            )
            links = _chips(medium)
            assert set(links) == {"Level: medium", "IP: 10.77.1.3"}
            wider = assert_valid_page(await client.get(links["Level: medium"]))
            assert set(session_links(wider)) == set(filled.by_peer[PROXY_PEER])
            assert set(_chips(wider)) == {"IP: 10.77.1.3"}
            everything = assert_valid_page(await client.get(_chips(wider)["IP: 10.77.1.3"]))
            assert 'class="chips"' not in everything


def _count(html: str) -> str | None:
    found = re.search(r'<span class="sessions-count" id="sessions-count">([^<]*)</span>', html)
    return None if found is None else found.group(1)


async def test_the_first_page_counts_the_matching_sessions(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, page_size=4) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            first = assert_valid_page(await client.get("/dashboard/sessions"))
            assert _count(first) == f"{len(filled.all)} sessions stored"
            # Later pages do not count again.
            older = re.search(r'<a class="button" href="([^"]+)" rel="next">', first)
            assert older is not None
            second = assert_valid_page(await client.get(unescape(older.group(1))))
            assert _count(second) is None
            proxied = set(filled.medium) & set(filled.by_peer[PROXY_PEER])
            medium = assert_valid_page(
                await client.get(f"/dashboard/sessions?level=medium&ip={PROXY_PEER}")
            )
            assert _count(medium) == f"{len(proxied)} sessions match"
            one = assert_valid_page(await client.get("/dashboard/sessions?ip=192.0.2.44"))
            assert _count(one) == "1 session matches"
            none = assert_valid_page(await client.get("/dashboard/sessions?level=high"))
            assert _count(none) == "0 sessions match"
        # The store's count is the listing's length, for every kind of filter.
        for where in (
            SessionFilter(),
            SessionFilter(levels=frozenset({"low", "pending"})),
            SessionFilter(signal="ip.webrtc_http_mismatch"),
            SessionFilter(network=ipaddress.ip_network("10.77.1.0/24")),
            SessionFilter(ua_family="firefox"),
            SessionFilter(since=web.clock() - 150, until=web.clock()),
        ):
            page = await web.store.query_sessions(where, limit=200)
            assert await web.store.count_matching(where) == len(page.sessions), where
            assert await web.store.count_matching(where, limit=1) == min(1, len(page.sessions))
        for bad in (0, -1, True, 10**8):
            with pytest.raises(ValueError, match="limit"):
                await web.store.count_matching(SessionFilter(), limit=bad)
