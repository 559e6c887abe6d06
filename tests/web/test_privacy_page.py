"""The leak-test page and the collector make no request to any third party."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import web_app

pytestmark = pytest.mark.anyio

STATIC = Path(__file__).resolve().parents[2] / "src" / "icewatch" / "web" / "static"
#: An absolute URL or a scheme-relative one, or a public STUN/TURN server.
_ELSEWHERE = re.compile(r"""(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}|\b(?:stuns?|turns?):[a-z]""")


def test_static_files_name_no_other_site() -> None:
    files = [p for p in STATIC.iterdir() if p.suffix in {".html", ".js", ".css"}]
    assert files
    for path in files:
        text = path.read_text()
        assert not _ELSEWHERE.search(text), (path.name, _ELSEWHERE.search(text))


async def test_the_page_policy_allows_only_its_own_origin(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        r = await client.get("/")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        for directive in csp.split(";"):
            sources = directive.split()[1:]
            assert all(s in {"'self'", "'none'", "data:"} for s in sources), directive
        created = (await client.post("/api/v1/sessions")).json()
        urls = [u for s in created["ice_servers"] for u in s["urls"]]
        assert urls
        assert all("icewatch.test" in u for u in urls), urls  # its own STUN/TURN only
