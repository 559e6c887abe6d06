"""The user-agent enricher: real user agents and client hints → the claimed client."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icewatch.core.addr import parse_ip
from icewatch.core.client import (
    MAX_UA_CHARS,
    ClientClaim,
    DeviceType,
    Engine,
    client_claim_from_dict,
)
from icewatch.core.errors import ParseError
from icewatch.core.evidence import (
    HttpSighting,
    PageReport,
    SessionEvidence,
    WebRtcStatus,
    session_evidence_from_dict,
)
from icewatch.web import create_app
from icewatch.web.useragent import PARSER, claim_for, enrich_user_agent, parse_user_agent

from .support import capture, http_peer_of, report_from_capture, web_app

# (user agent, browser family, major, engine, os, device)
TABLE: list[tuple[str, str, int | None, Engine, str, DeviceType]] = [
    (  # Chrome, Windows
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Chrome", 124, Engine.BLINK, "Windows", DeviceType.DESKTOP,
    ),
    (  # Chrome, macOS
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Chrome", 124, Engine.BLINK, "Mac OS X", DeviceType.DESKTOP,
    ),
    (  # Chrome for Android, reduced UA
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile", 124, Engine.BLINK, "Android", DeviceType.MOBILE,
    ),
    (  # Chrome on an Android tablet (no "Mobile")
        "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Chrome", 124, Engine.BLINK, "Android", DeviceType.TABLET,
    ),
    (  # Firefox, Linux
        "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0",
        "Firefox", 153, Engine.GECKO, "Linux", DeviceType.DESKTOP,
    ),
    (  # Firefox, Windows
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Firefox", 125, Engine.GECKO, "Windows", DeviceType.DESKTOP,
    ),
    (  # Firefox for Android
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        "Firefox Mobile", 125, Engine.GECKO, "Android", DeviceType.MOBILE,
    ),
    (  # Safari, macOS
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Safari/605.1.15",
        "Safari", 17, Engine.WEBKIT, "Mac OS X", DeviceType.DESKTOP,
    ),
    (  # Safari, iPhone
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mobile Safari", 17, Engine.WEBKIT, "iOS", DeviceType.MOBILE,
    ),
    (  # Safari, iPad (when it does not ask for the desktop site)
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mobile Safari", 17, Engine.WEBKIT, "iOS", DeviceType.TABLET,
    ),
    (  # Chrome for iOS is WebKit
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) CriOS/122.0.6261.89 Mobile/15E148 Safari/604.1",
        "Chrome Mobile iOS", 122, Engine.WEBKIT, "iOS", DeviceType.MOBILE,
    ),
    (  # Firefox for iOS is WebKit too
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
        "Firefox iOS", 125, Engine.WEBKIT, "iOS", DeviceType.MOBILE,
    ),
    (  # Edge (Chromium)
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
        "Edge", 124, Engine.BLINK, "Windows", DeviceType.DESKTOP,
    ),
    (  # Edge (EdgeHTML): another engine, no claim
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
        "Edge", 18, Engine.UNKNOWN, "Windows", DeviceType.DESKTOP,
    ),
    (  # Opera
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
        "Opera", 109, Engine.BLINK, "Windows", DeviceType.DESKTOP,
    ),
    (  # Samsung Internet
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like "
        "Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Samsung Internet", 23, Engine.BLINK, "Android", DeviceType.MOBILE,
    ),
    (  # Headless Chromium (the sandbox's)
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/156.0.0.0 Safari/537.36",
        "HeadlessChrome", 156, Engine.BLINK, "Linux", DeviceType.DESKTOP,
    ),
    (  # Chrome OS
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Chrome", 124, Engine.BLINK, "Chrome OS", DeviceType.DESKTOP,
    ),
    (  # a crawler
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot", 2, Engine.UNKNOWN, "", DeviceType.BOT,
    ),
    ("curl/8.5.0", "curl", 8, Engine.UNKNOWN, "", DeviceType.UNKNOWN),
    ("junk", "", None, Engine.UNKNOWN, "", DeviceType.UNKNOWN),
    ("", "", None, Engine.UNKNOWN, "", DeviceType.UNKNOWN),
]  # fmt: skip


def _evidence(
    ua: str = "",
    *,
    hints: tuple[tuple[str, str], ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
    http_ua: str | None = None,
    report: bool = True,
) -> SessionEvidence:
    http = HttpSighting(
        peer_ip=parse_ip("192.0.2.1").ip,
        client_ip=parse_ip("192.0.2.1").ip,
        at=1.0,
        user_agent=ua if http_ua is None else http_ua,
        headers=headers,
    )
    page = PageReport(WebRtcStatus.OK, user_agent=ua, ua_hints=hints) if report else None
    return SessionEvidence("s", 1.0, http, report=page, report_http=http)


@pytest.mark.parametrize(("ua", "browser", "major", "engine", "os", "device"), TABLE)
def test_user_agents_give_the_expected_claim(
    ua: str, browser: str, major: int | None, engine: Engine, os: str, device: DeviceType
) -> None:
    claim = claim_for(_evidence(ua))
    assert claim.browser == browser
    assert claim.browser_major == major
    assert claim.engine is engine, claim
    assert claim.os == os
    assert claim.device is device
    assert claim.user_agent == ua
    assert claim.user_agent_source == ("page" if ua else "")
    assert claim.parser == PARSER
    assert "ua-parser" in PARSER
    assert claim.notes == ()


def test_a_10_kib_user_agent_is_cut_and_parsed_quickly() -> None:
    ua = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 "
    ) + "(" * 10_000
    parse_user_agent.cache_clear()
    t0 = time.perf_counter()
    claim = claim_for(_evidence(ua))
    elapsed = time.perf_counter() - t0
    assert len(claim.user_agent) == MAX_UA_CHARS
    assert claim.engine is Engine.BLINK
    assert elapsed < 1.0  # bounded input: no pathological regex time


def test_control_characters_do_not_reach_the_claim() -> None:
    claim = claim_for(_evidence("Mozilla/5.0\x00\n\x1b[31m (X11; Linux x86_64) Firefox/1"))
    assert claim.user_agent.isprintable()


def test_http_user_agent_is_used_when_the_page_sent_none_and_kept_when_different() -> None:
    ff = TABLE[4][0]
    chrome = TABLE[0][0]
    no_page = claim_for(_evidence("", http_ua=chrome))
    assert no_page.browser == "Chrome"
    assert no_page.user_agent_source == "http"
    assert no_page.http_user_agent is None
    differs = claim_for(_evidence(ff, http_ua=chrome))
    assert differs.browser == "Firefox"
    assert differs.http_user_agent == chrome
    assert "http_user_agent_differs" in differs.notes
    # No report at all: the creating request's header.
    assert claim_for(_evidence(chrome, report=False)).user_agent_source == "http"


BRANDS = [{"brand": "Chromium", "version": "156"}, {"brand": "Not-A.Brand", "version": "24"}]
CHROMIUM_HINTS = (
    ("brands", json.dumps(BRANDS)),
    ("mobile", "false"),
    ("platform", "Linux"),
    ("fullVersionList", json.dumps([{"brand": "Chromium", "version": "156.0.8078.108"}])),
    ("platformVersion", "6.18.0"),
    ("model", ""),
    ("formFactors", json.dumps(["Desktop"])),
)  # fmt: skip
CHROMIUM_HEADERS = (
    ("sec-ch-ua", '"Chromium";v="156", "Not-A.Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Linux"'),
    ("accept-language", "en-US"),
)


def test_client_hints_from_the_page_and_the_headers() -> None:
    ua = TABLE[16][0]  # HeadlessChrome on Linux
    claim = claim_for(_evidence(ua, hints=CHROMIUM_HINTS, headers=CHROMIUM_HEADERS))
    hints = claim.hints
    assert hints is not None
    assert hints.brands == (("Chromium", "156"), ("Not-A.Brand", "24"))
    assert hints.real_brands == (("Chromium", "156"),)
    assert hints.header_brands == hints.brands
    assert hints.full_version_list == (("Chromium", "156.0.8078.108"),)
    assert hints.mobile is False
    assert hints.platform == "Linux"
    assert hints.platform_version == "6.18.0"
    assert hints.form_factors == ("Desktop",)
    assert hints.sources == ("page", "headers")
    assert hints.engine is Engine.BLINK
    assert claim.notes == ()  # all consistent

    headers_only = claim_for(_evidence(ua, headers=CHROMIUM_HEADERS)).hints
    assert headers_only is not None
    assert headers_only.sources == ("headers",)
    assert headers_only.brands == (("Chromium", "156"), ("Not-A.Brand", "24"))
    assert headers_only.platform == "Linux"
    assert headers_only.mobile is False
    assert claim_for(_evidence(ua)).hints is None


def test_contradictions_inside_the_claim_become_notes() -> None:
    firefox_ua = TABLE[4][0]
    # Chromium started with a Firefox user agent keeps its client hints.
    claim = claim_for(_evidence(firefox_ua, hints=CHROMIUM_HINTS, headers=CHROMIUM_HEADERS))
    assert claim.engine is Engine.GECKO
    assert claim.hints_engine is Engine.BLINK
    assert "hints_from_non_chromium" in claim.notes
    android = TABLE[2][0]
    claim = claim_for(_evidence(android, hints=CHROMIUM_HINTS))
    assert {"hints_platform_differs", "hints_mobile_differs", "hints_version_differs"} <= set(
        claim.notes
    )
    spoofed_js = (("brands", json.dumps([{"brand": "Google Chrome", "version": "156"}])),)
    claim = claim_for(_evidence(TABLE[16][0], hints=spoofed_js, headers=CHROMIUM_HEADERS))
    assert "hints_page_headers_differ" in claim.notes


@pytest.mark.parametrize(
    "value",
    [
        "",
        "[",
        "{}",
        "[1, 2, 3]",
        '[{"brand": 5}]',
        "[" * 5000,
        '"unterminated;v="1',
        '"A";v="1", garbage, "B"',
        "\x00" * 100,
    ],
)
def test_junk_hints_never_raise(value: str) -> None:
    claim = claim_for(
        _evidence(
            TABLE[0][0],
            hints=(("brands", value), ("mobile", value), ("formFactors", value)),
            headers=(("sec-ch-ua", value), ("sec-ch-ua-platform", value)),
        )
    )
    assert isinstance(claim, ClientClaim)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=600),
    st.lists(st.tuples(st.text(max_size=20), st.text(max_size=80)), max_size=8),
    st.lists(
        st.tuples(st.sampled_from(["sec-ch-ua", "sec-ch-ua-mobile", "x"]), st.text(max_size=80)),
        max_size=4,
    ),
)
def test_any_input_gives_a_claim_that_round_trips(
    ua: str, hints: list[tuple[str, str]], headers: list[tuple[str, str]]
) -> None:
    claim = claim_for(_evidence(ua, hints=tuple(hints), headers=tuple(headers)))
    data = json.loads(json.dumps(claim.as_dict()))
    assert client_claim_from_dict(data) == claim


def test_claim_is_stored_with_the_evidence_and_read_back() -> None:
    ev = _evidence(TABLE[2][0], hints=CHROMIUM_HINTS, headers=CHROMIUM_HEADERS)
    ev = replace(ev, client=claim_for(ev))
    stored = json.loads(json.dumps(ev.as_dict()))
    assert stored["client"]["engine"] == "blink"
    assert session_evidence_from_dict(stored) == ev
    # Older stored evidence has no claim: it reads back as None.
    del stored["client"]
    assert session_evidence_from_dict(stored).client is None


@pytest.mark.parametrize(
    "bad",
    [
        {"engine": "presto"},
        {"device": 3},
        {"browser_major": "12"},
        {"hints": []},
        {"hints": {"brands": [["a"]]}},
        {"notes": "x"},
        [],
    ],
)
def test_unreadable_stored_claims_raise_parse_error(bad: Any) -> None:
    with pytest.raises(ParseError):
        client_claim_from_dict(bad)


@pytest.mark.anyio
async def test_the_enricher_fills_the_claim_before_scoring(tmp_path: Path) -> None:
    data = capture("firefox-153-default")
    async with web_app(tmp_path) as web:
        app = create_app(replace(web.ctx, enrichers=(enrich_user_agent,)))
        transport = httpx.ASGITransport(app=app, client=(http_peer_of(data), 51000))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://icewatch.test",
            headers={"User-Agent": data["user_agent"]},
        ) as client:
            created = await web.create(client)
            body = report_from_capture(data)
            body["ua_hints"] = {}
            response = await web.report(client, created, body)
            assert response.status_code == 200, response.text
            doc = response.json()
            assert doc["client"]["browser"] == "Firefox"
            assert doc["client"]["engine"] == "gecko"
            assert doc["client"]["device"] == "desktop"
            assert doc["dialect"]["dialect"] == "firefox"
            assert doc["dialect"]["confident"] is True
            codes = {s["code"] for s in doc["verdict"]["signals"]}
            assert "candidate.shape_mismatch" not in codes
            stored = await web.store.get_session(created["id"])
            assert stored is not None
            assert stored.evidence.client is not None
            assert stored.evidence.client.browser == "Firefox"

            # Chromium's report with a Firefox user agent: the mismatch fires.
            chromium = capture("chromium-156-default")
            created = await web.create(client)
            body = report_from_capture(chromium)
            body["user_agent"] = data["user_agent"]
            body["ua_hints"] = {}
            doc = (await web.report(client, created, body)).json()
            codes = {s["code"] for s in doc["verdict"]["signals"]}
            assert "candidate.shape_mismatch" in codes
            assert doc["verdict"]["level"] != "low"
