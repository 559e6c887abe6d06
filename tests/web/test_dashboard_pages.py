"""The dashboard's second pass: unknown paths and wrong methods as HTML pages in the
dashboard's layout, the charts' data as tables, the session's webhook delivery state,
deleting a session from its page, the active filters as chips with a count, and the
overview's flagged share — on the real app over a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from .dashboard_support import dashboard_app, keyed
from .test_dashboard import assert_valid_page

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
