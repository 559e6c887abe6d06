"""The collector script, the leak-test page, /healthz and the OpenAPI document."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from icewatch.core.scoring import RULES

from .support import web_app

pytestmark = pytest.mark.anyio

COLLECTOR_GZIP_BUDGET = 4096
STATIC = Path(__file__).resolve().parents[2] / "src" / "icewatch" / "web" / "static"


async def test_collector_is_small_plain_javascript(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.get("/collector.js")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["x-content-type-options"] == "nosniff"
        size = len(gzip.compress(response.content, compresslevel=9))
        assert size <= COLLECTOR_GZIP_BUDGET, f"collector.js is {size} bytes gzipped"
        text = response.text
        assert "icewatch.collect" in text or "ns.collect" in text
        assert not re.search(r"\b(import|require)\s*\(", text)  # no third-party code


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in {"src", "href", "action", "srcset", "data", "poster"}:
                self.refs.append((tag, name, value))
            if name == "style" or name.startswith("on"):
                self.inline_styles += 1  # CSP would block it: must not be there
        if tag == "script" and not dict(attrs).get("src"):
            self._in = "script"
        if tag == "style":
            self._in = "style"

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline_scripts += 1
        if self._in == "style" and data.strip():
            self.inline_styles += 1

    def handle_endtag(self, tag: str) -> None:
        self._in = None


async def test_page_loads_nothing_from_other_origins(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "connect-src 'self'" in csp
        parser = _Refs()
        parser.feed(response.text)
        assert {v for _, _, v in parser.refs} >= {"/collector.js", "/page.js", "/page.css"}
        for tag, name, value in parser.refs:
            parts = urlsplit(value)
            assert not parts.scheme, f"<{tag} {name}={value!r}>"
            assert not parts.netloc, f"<{tag} {name}={value!r}>"
            assert not value.startswith("//")
            if tag in {"script", "link"}:  # and every one of them is served here
                assert (await client.get(value)).status_code == 200, value
        # CSP forbids inline code: the page must not depend on any.
        assert parser.inline_scripts == 0
        assert parser.inline_styles == 0


@pytest.mark.parametrize("name", ["index.html", "collector.js", "page.js", "page.css"])
def test_static_files_name_no_other_origin(name: str) -> None:
    text = (STATIC / name).read_text()
    urls = re.findall(r"(?:https?|wss?|stuns?|turns?):(?://)?[\w.\[\]:-]+", text)
    assert urls == [], urls
    assert "url(" not in text or name != "page.css"  # no fonts or images from anywhere
    assert "google" not in text.lower()


async def test_page_contract_for_tools_driving_it(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        page = (await client.get("/page.js")).text
        assert "icewatchState" in page
        assert '"done"' in page
        assert "ns.result = ns.collect(options)" in page
        html = (await client.get("/")).text
        for words in ("mDNS", "IPv6", "Local Network", "policy"):
            assert words in html


async def test_signal_catalog_for_the_page(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.get("/api/v1/signals")
        assert response.status_code == 200
        catalog = response.json()
        assert [r["code"] for r in catalog] == [r.code.value for r in RULES]
        for rule in catalog:
            assert rule["title"]
            assert rule["description"]
            assert isinstance(rule["fixes"], list)
            assert isinstance(rule["benign_causes"], list)


@pytest.mark.parametrize(("ready", "word"), [(True, "ready"), (False, "starting")])
async def test_healthz(tmp_path: Path, ready: bool, word: str) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        object.__setattr__(web.ctx, "listener_ready", lambda: ready)
        response = await client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["listener"] == word
        assert body["version"]


async def test_openapi_describes_the_models(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        spec = (await client.get("/openapi.json")).json()
        paths = spec["paths"]
        assert set(paths) >= {
            "/api/v1/sessions",
            "/api/v1/sessions/{session_id}",
            "/api/v1/sessions/{session_id}/report",
            "/api/v1/signals",
            "/healthz",
        }
        report = paths["/api/v1/sessions/{session_id}/report"]["post"]
        schema_ref = report["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert schema_ref.endswith("/ReportIn")
        assert report["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/SessionDocument"
        )
        for status in ("401", "413", "415", "422", "409"):
            assert report["responses"][status]["content"]["application/json"]["schema"][
                "$ref"
            ].endswith("/ErrorBody"), status
        schemas = spec["components"]["schemas"]
        report_in = schemas["ReportIn"]
        assert report_in["additionalProperties"] is False
        assert report_in["properties"]["candidates"]["maxItems"] == 200
        assert report_in["properties"]["candidate_errors"]["maxItems"] == 50
        created = paths["/api/v1/sessions"]["post"]["responses"]["201"]
        assert created["content"]["application/json"]["schema"]["$ref"].endswith("/CreatedSession")
        assert "SessionList" in schemas
        assert "Health" in schemas


async def test_cors_is_off_by_default(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.post(
            "/api/v1/sessions", headers={"Origin": "https://shop.example.org"}
        )
        assert response.status_code == 201
        assert "access-control-allow-origin" not in response.headers


async def test_cors_for_configured_origins(tmp_path: Path) -> None:
    origin = "https://shop.example.org"
    async with web_app(tmp_path, cors_origins=(origin,)) as web, web.client() as client:
        preflight = await client.options(
            "/api/v1/sessions/x/report",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        created = await client.post("/api/v1/sessions", headers={"Origin": origin})
        assert created.headers["access-control-allow-origin"] == origin
        other = await client.post("/api/v1/sessions", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_api_key_stays_out_of_repr() -> None:
    from icewatch.web import WebSettings

    assert "operator-secret-key-123" not in repr(WebSettings(api_key="operator-secret-key-123"))
