"""The dashboard's pages against the real app on a real SQLite store filled with real
sessions (browser captures replayed through the API): the sessions list and its
filters, pagination, the session detail, the overview, escaping, valid HTML, and the
Content-Security-Policy that keeps every page to this server."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from icewatch.core.scoring import RULES

from .dashboard_support import (
    KEY_HEADERS,
    PROXY_PEER,
    XSS,
    Filled,
    dashboard_app,
    fill,
    keyed,
    session_links,
    visit,
)
from .support import Web

pytestmark = pytest.mark.anyio

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
SVG_VOID = {"rect", "line", "circle", "path"}  # self-closed inside SVG


class _Checker(HTMLParser):
    """Well-formedness of the HTML5 we write: one doctype, every element closed in
    order, no duplicate ids, and the SVG islands parse as XML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: set[str] = set()
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                if value in self.ids:
                    self.errors.append(f"duplicate id {value}")
                self.ids.add(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID and tag not in SVG_VOID:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}>")
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} at {self.getpos()}")
            return
        self.stack.pop()


def assert_valid_page(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script at all
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    html = response.text
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.doctype, "no <!DOCTYPE html>"
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, checker.stack
    assert '<html lang="en">' in html
    assert "<script" not in html.lower()
    # Nothing loads from another origin (the SVG namespace is a name, not a request).
    urls = re.findall(r"""(?:src|href|action)=["']([^"']+)""", html)
    assert all(u.startswith(("/", "?", "#")) for u in urls), urls
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)  # noqa: S314 - our own markup
    return html


_FILLED: dict[int, Filled] = {}


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    """The app with a page size of 4, filled with :func:`fill`'s sessions."""
    async with dashboard_app(tmp_path, page_size=4) as web:
        _FILLED[id(web)] = await fill(web)
        try:
            yield web
        finally:
            del _FILLED[id(web)]


def filled_of(web: Web) -> Filled:
    return _FILLED[id(web)]


async def all_listed(client: httpx.AsyncClient, query: str = "") -> list[str]:
    """Every session id the list shows, following the pages."""
    ids: list[str] = []
    url: str | None = f"/dashboard/sessions{query}"
    while url is not None:
        response = await client.get(url)
        html = assert_valid_page(response)
        assert response.status_code == 200, html
        ids.extend(session_links(html))
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', html)
        url = None if found is None else found.group(1).replace("&amp;", "&")
        assert len(ids) < 100
    return ids


async def test_sessions_list_newest_first_in_pages(web: Web) -> None:
    filled = filled_of(web)
    async with keyed(web) as client:
        first = await client.get("/dashboard/sessions")
        html = assert_valid_page(first)
        assert len(session_links(html)) == 4  # page_size
        assert 'rel="next"' in html
        assert "« Newest" not in html
        ids = await all_listed(client)
    assert len(ids) == len(set(ids)) == len(filled.all)
    created = {}
    for sid in ids:
        stored = await web.store.get_session(sid)
        assert stored is not None
        created[sid] = stored.evidence.created_at
    assert ids == sorted(ids, key=lambda s: -created[s])


async def test_level_filter_changes_the_rows(web: Web) -> None:
    filled = filled_of(web)
    async with keyed(web) as client:
        medium = await all_listed(client, "?level=medium")
        assert set(medium) == set(filled.medium)
        both = await all_listed(client, "?level=medium&level=pending")
        assert set(both) == {*filled.medium, *filled.pending}
        comma = await all_listed(client, "?level=medium,pending")
        assert set(comma) == set(both)
        assert await all_listed(client, "?level=high") == []
        page = await client.get("/dashboard/sessions?level=high")
        assert "No session matches these filters." in page.text
        checked = await client.get("/dashboard/sessions?level=medium")
        assert 'value="medium" checked' in checked.text
        assert 'value="low" checked' not in checked.text


async def test_ip_signal_and_browser_filters(web: Web) -> None:
    filled = filled_of(web)
    async with keyed(web) as client:
        assert set(await all_listed(client, f"?ip={PROXY_PEER}")) == set(filled.by_peer[PROXY_PEER])
        # A prefix covers HTTP clients and addresses seen by STUN/TURN alike.
        assert set(await all_listed(client, "?ip=192.0.2.0/24")) == set(
            filled.by_peer["192.0.2.44"]
        )
        mismatch = await all_listed(client, "?signal=ip.webrtc_http_mismatch")
        assert set(filled.medium) <= set(mismatch)
        assert not set(filled.pending) & set(mismatch)
        firefox = await all_listed(client, "?ua=firefox")
        assert firefox
        for sid in firefox:
            stored = await web.store.get_session(sid)
            assert stored is not None
            assert stored.evidence.client is not None
            assert stored.evidence.client.browser == "Firefox"
        page = await client.get("/dashboard/sessions?ip=10.77.1.3&signal=net.mdns")
        assert 'value="10.77.1.3"' in page.text
        assert '<option value="net.mdns" selected>' in page.text
        # Every rule's code is offered in the signal select.
        for rule in RULES:
            assert f'<option value="{rule.code.value}"' in page.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("level=bogus", "level"),
        ("ip=999.1.1.1", "ip"),
        ("ip=10.0.0.0/99", "ip"),
        ("since=yesterday", "since"),
        ("range=1y", "range"),
        ("signal=%3Cscript%3E", "signal"),
        ("format=xlsx", "format"),
        ("cursor=not-a-cursor", "cursor"),
    ],
)
async def test_bad_filter_is_a_400_page_naming_the_field(web: Web, query: str, field: str) -> None:
    async with keyed(web) as client:
        response = await client.get(f"/dashboard/sessions?{query}")
        assert response.status_code == 400
        html = assert_valid_page(response)
        assert f"<code>{field}</code>" in html
        assert "<script>" not in html


async def test_session_detail_shows_the_session_json(web: Web) -> None:
    filled = filled_of(web)
    sid = filled.medium[0]
    async with keyed(web) as client:
        api = (await client.get(f"/api/v1/sessions/{sid}")).json()
        response = await client.get(f"/dashboard/sessions/{sid}")
        assert response.status_code == 200
        html = assert_valid_page(response)
        same = await client.get(f"/dashboard/sessions/{sid}?format=json")
        assert same.json() == api
    assert sid in html
    assert '<span class="badge big level-medium">medium</span>' in html
    for signal in api["verdict"]["signals"]:
        rule = next(r for r in RULES if r.code.value == signal["code"])
        assert signal["code"] in html
        assert _text(rule.title) in html
        assert _text(rule.description) in html
        assert _text(signal["summary"]) in html
    for candidate in api["candidates"]:
        assert f'<td class="mono">{candidate["address"]}</td>' in html
    for observed in api["observed"]:
        assert f"{observed['source'].upper()} {observed['kind']}" in html
    assert "HTTP: session created" in html
    assert "HTTP: report received" in html
    assert "gathering ended" in html
    assert "<svg" in html
    assert api["fingerprint"]["id"] in html
    assert _text(api["sdp"].splitlines()[1]) in html
    assert "a=candidate:" in html


def _text(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))


async def test_unknown_session_is_a_404_page(web: Web) -> None:
    async with keyed(web) as client:
        for sid in ("AAAAAAAAAAAAAAAAAAAAAA", "not-an-id", "%3Cscript%3E"):
            response = await client.get(f"/dashboard/sessions/{sid}")
            assert response.status_code == 404, sid
            html = assert_valid_page(response)
            assert "No such session" in html


async def test_pending_session_detail(web: Web) -> None:
    sid = filled_of(web).pending[0]
    async with keyed(web) as client:
        html = assert_valid_page(await client.get(f"/dashboard/sessions/{sid}"))
    assert "not reported yet" in html
    assert "level-pending" in html


async def test_hostile_text_is_escaped_everywhere(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        doc = await visit(
            web,
            "chromium-156-default",
            "10.77.1.2",
            user_agent=XSS,
            extra_candidate=f"candidate:1 1 udp 1 {XSS} 9 typ host",
        )
        sid = doc["id"]
        async with keyed(web) as client:
            pages = [
                await client.get(f"/dashboard/sessions/{sid}"),
                await client.get("/dashboard/sessions"),
                await client.get("/dashboard/sessions?provider=%3Cscript%3E"),
                await client.get("/dashboard/sessions?ua=%3Cb%3Ex"),
            ]
        for response in pages:
            assert response.status_code == 200
            html = assert_valid_page(response)
            assert "<script>" not in html
            assert "<b>x" not in html
        detail = pages[0].text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in detail  # the UA, shown
        assert "candidate:1 1 udp 1 &lt;script&gt;" in detail  # the malformed candidate
        assert 'value="&lt;script&gt;"' in pages[2].text


async def test_every_page_has_the_stylesheet_it_links(web: Web) -> None:
    async with keyed(web) as client:
        css = await client.get("/dashboard/static/dashboard.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "@import" not in css.text
        assert "url(" not in css.text  # no fonts or images from anywhere
        assert ".badge.level-high" in css.text
    async with web.client() as anonymous:  # the login page needs it before any login
        assert (await anonymous.get("/dashboard/static/dashboard.css")).status_code == 200


async def test_export_links_keep_the_filters(web: Web) -> None:
    async with keyed(web) as client:
        html = (await client.get("/dashboard/sessions?level=medium&ip=10.77.1.0/24")).text
    assert 'href="/dashboard/sessions?level=medium&amp;ip=10.77.1.0%2F24&amp;format=csv"' in html
    assert 'href="/dashboard/sessions?level=medium&amp;ip=10.77.1.0%2F24&amp;format=jsonl"' in html


async def test_login_page_is_valid_html(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        assert_valid_page(await client.get("/dashboard/login"))
    async with dashboard_app(tmp_path, api_key=None) as web, web.client() as client:
        response = await client.get("/dashboard", headers=KEY_HEADERS)
        assert response.status_code == 403
        assert_valid_page(response)


def _kpi(html: str, name: str) -> int:
    found = re.search(
        rf'<span class="kpi-label">{name}</span><span class="kpi-value">(\d+)</span>', html
    )
    assert found is not None, name
    return int(found.group(1))


def _svg_titles(html: str) -> list[str]:
    return re.findall(r'<title id="chart-[a-z-]+-title">([^<]*)</title>', html)


async def test_overview_counts_levels_and_draws_the_charts(web: Web) -> None:
    filled = filled_of(web)
    async with keyed(web) as client:
        response = await client.get("/dashboard")
        html = assert_valid_page(response)
    assert _kpi(html, "Sessions") == len(filled.all)
    assert _kpi(html, "medium") == len(filled.medium)
    assert _kpi(html, "low") == len(filled.low)
    assert _kpi(html, "pending") == len(filled.pending)
    assert _kpi(html, "high") == 0
    assert _svg_titles(html) == [
        "Verdict levels over time",
        "Top signals",
        "Top providers among flagged sessions",
        "Time to verdict",
        "Network-fingerprint surprisal",
    ]
    # The top signal is the one every medium session carries, drawn as a bar.
    assert ">ip.webrtc_http_mismatch</text>" in html
    assert "<title>ip.webrtc_http_mismatch: " in html
    # The 7-day range is the default, with one bar of the timeline holding every session.
    assert '<a href="/dashboard?range=7d" aria-current="true">7d</a>' in html
    assert html.count('class="series-0 level-high"') >= 1  # the legend at least
    for level in ("low", "medium", "pending"):
        assert (
            f'class="series-{("high", "medium", "low", "pending").index(level)} level-{level}"'
            in html
        )
    # KPI cards link to the sessions list filtered by their level.
    assert 'href="/dashboard/sessions?level=medium&amp;range=7d"' in html


async def test_overview_filters_and_ranges(web: Web) -> None:
    filled = filled_of(web)
    async with keyed(web) as client:
        medium = assert_valid_page(await client.get("/dashboard?level=medium"))
        assert _kpi(medium, "Sessions") == len(filled.medium)
        assert _kpi(medium, "low") == 0
        assert "Filters (active)" in medium
        proxied = assert_valid_page(await client.get(f"/dashboard?ip={PROXY_PEER}&range=24h"))
        assert _kpi(proxied, "Sessions") == len(filled.by_peer[PROXY_PEER])
        assert (
            '<a href="/dashboard?ip=10.77.1.3&amp;range=24h" aria-current="true">24h</a>' in proxied
        )
        web.clock.advance(2 * 86400)  # the sessions are now two days old
        day = assert_valid_page(await client.get("/dashboard?range=24h"))
        assert _kpi(day, "Sessions") == 0
        assert "No data" in day
        week = assert_valid_page(await client.get("/dashboard?range=7d"))
        assert _kpi(week, "Sessions") == len(filled.all)
        bad = await client.get("/dashboard?range=2y")
        assert bad.status_code == 400
        assert "<code>range</code>" in bad.text


NASTY = [
    "level=",
    "level=low&level=low,,medium",
    "level=" + ",".join(["low"] * 300),
    "ip=" + "1" * 5000,
    "ip=::ffff:10.77.1.3",
    "ip=fe80::1%25eth0",
    "ip=%00",
    "signal=" + "a" * 199,
    "signal=%E2%80%AE",
    "provider=%00%01%02",
    "provider=" + "%F0%9F%92%A5" * 40,
    "ua=" + "x" * 201,
    "since=9999-12-31T23:59:59Z",
    "since=0&until=1",
    "since=-99999999999999",
    "until=1e308",
    "since=2026-02-30",
    "range=all&since=7d",
    "range=24h&range=7d",
    "cursor=" + "A" * 255,
    "cursor=%FF%FE",
    "level=low&" * 20,
    "format=csv&format=jsonl",
    "%ZZ=1&=&&&",
]


@pytest.mark.parametrize("query", NASTY)
async def test_hostile_query_strings_answer_200_or_400(web: Web, query: str) -> None:
    async with keyed(web) as client:
        for path in ("/dashboard", "/dashboard/sessions"):
            response = await client.get(f"{path}?{query}")
            assert response.status_code in (200, 400), (path, query, response.text[:300])
            if response.headers["content-type"].startswith("text/html"):
                html = assert_valid_page(response)
                assert "\x00" not in html


async def test_unreported_and_webrtc_less_sessions_render(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        body = {"webrtc": "missing", "user_agent": "Old/1.0", "collector_version": "1"}
        assert (await web.report(client, created, body)).status_code == 200
        async with keyed(web) as operator:
            html = assert_valid_page(await operator.get(f"/dashboard/sessions/{created['id']}"))
            assert "webrtc.unavailable" in html
            assert "No candidates reported." in html
            assert "No SDP reported." in html
            overview = assert_valid_page(await operator.get("/dashboard"))
            assert _kpi(overview, "Sessions") == 1


async def test_a_failing_store_is_a_503_page(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, keyed(web) as client:
        await web.store.close()
        for path in (
            "/dashboard",
            "/dashboard/sessions",
            "/dashboard/sessions/AAAAAAAAAAAAAAAAAAAAAA",
        ):
            response = await client.get(path)
            assert response.status_code == 503, (path, response.text[:300])
            html = assert_valid_page(response)
            assert "Session storage is unavailable" in html
