"""docs/api.md and docs/collector.md keep up with the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from icewatch.web.errors import ERROR_CODES

from .support import web_app

pytestmark = pytest.mark.anyio

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    missing = [
        code for code, status in ERROR_CODES.items() if f"| {status} | `{code}` |" not in text
    ]
    assert not missing, f"error codes missing from docs/api.md: {missing}"


def _paths(routes: list[Any]) -> list[str]:
    found: list[str] = []
    for route in routes:
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            found.extend(_paths(inner.routes))
        elif getattr(route, "path", ""):
            found.append(route.path)
    return found


async def test_every_route_is_documented(tmp_path: Path) -> None:
    text = (DOCS / "api.md").read_text()
    async with web_app(tmp_path) as web:
        paths = _paths(web.app.routes)
    assert len(paths) >= 10, paths
    documented = {p.replace("{session_id}", "{id}") for p in paths if p != "/favicon.ico"}
    missing = [p for p in sorted(documented) if f" {p}`" not in text]
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_collector_doc_names_the_page_contract() -> None:
    text = (DOCS / "collector.md").read_text()
    for needle in ("icewatch.collect", "window.icewatch.result", "icewatchState", "`done`"):
        assert needle in text, needle
