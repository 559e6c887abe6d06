"""GET /api/v1/sessions with the operator filters (the parser of icewatch.core.filters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from icewatch.core.filters import FILTER_NAMES

from .support import API_KEY, assert_error_shape, web_app

pytestmark = pytest.mark.anyio

KEY = {"X-API-Key": API_KEY}


async def test_filters_select_and_bad_filters_are_400(tmp_path: Path) -> None:
    async with web_app(tmp_path, api_key=API_KEY, report_wait=0) as web:
        ids: dict[str, str] = {}
        for name, peer in (("a", "198.51.100.7"), ("b", "203.0.113.50"), ("c", "2001:db8::5")):
            async with web.client(peer=peer) as client:
                ids[name] = (await web.create(client))["id"]
            web.clock.advance(10)
        async with web.client() as client:

            async def listing(**params: str) -> list[str]:
                response = await client.get("/api/v1/sessions", params=params, headers=KEY)
                assert response.status_code == 200, response.text
                return [s["id"] for s in response.json()["sessions"]]

            assert await listing() == [ids["c"], ids["b"], ids["a"]]
            assert await listing(ip="203.0.113.0/24") == [ids["b"]]
            assert await listing(ip="2001:db8::/32") == [ids["c"]]
            assert await listing(ip="198.51.100.7", level="pending") == [ids["a"]]
            assert await listing(level="high") == []
            start = web.clock.now - 30
            assert await listing(since=str(start + 5), until=str(start + 15)) == [ids["b"]]
            assert await listing(since="15s") == [ids["c"]]
            paged = await client.get(
                "/api/v1/sessions", params={"ip": "0.0.0.0/0", "limit": "1"}, headers=KEY
            )
            body = paged.json()
            assert [s["id"] for s in body["sessions"]] == [ids["b"]]
            assert body["next_cursor"]
            nxt = await client.get(
                "/api/v1/sessions",
                params={"ip": "0.0.0.0/0", "limit": "1", "cursor": body["next_cursor"]},
                headers=KEY,
            )
            assert [s["id"] for s in nxt.json()["sessions"]] == [ids["a"]]
            assert nxt.json()["next_cursor"] is None

            for name, value in (
                ("level", "urgent"),
                ("ip", "300.1.2.3"),
                ("since", "yesterday"),
                ("signal", "no spaces"),
                ("provider", "x" * 300),
            ):
                bad = await client.get("/api/v1/sessions", params={name: value}, headers=KEY)
                assert_error_shape(bad, 400, "bad_request")
                assert bad.json()["error"]["field"] == name
            closed = await client.get("/api/v1/sessions", params={"level": "low"})
            assert closed.status_code == 401


async def test_the_operator_deletes_one_session(tmp_path: Path) -> None:
    async with web_app(tmp_path, api_key=API_KEY, report_wait=0) as web, web.client() as client:
        keep = (await web.create(client))["id"]
        gone = await web.create(client)
        bare = await client.delete(f"/api/v1/sessions/{gone['id']}")
        assert bare.status_code == 401
        own_token = await client.delete(
            f"/api/v1/sessions/{gone['id']}",
            headers={"Authorization": f"Bearer {gone['token']}"},
        )
        assert own_token.status_code == 401  # only the operator deletes
        r = await client.delete(f"/api/v1/sessions/{gone['id']}", headers=KEY)
        assert r.status_code == 204
        assert r.content == b""
        again = await client.delete(f"/api/v1/sessions/{gone['id']}", headers=KEY)
        assert_error_shape(again, 404, "not_found")
        bogus = await client.delete("/api/v1/sessions/not-a-session-id!", headers=KEY)
        assert_error_shape(bogus, 404, "not_found")
        read = await client.get(f"/api/v1/sessions/{gone['id']}", headers=KEY)
        assert read.status_code == 404
        listing = await client.get("/api/v1/sessions", headers=KEY)
        assert [s["id"] for s in listing.json()["sessions"]] == [keep]


async def test_delete_is_closed_without_an_api_key(tmp_path: Path) -> None:
    async with web_app(tmp_path, report_wait=0) as web, web.client() as client:
        created = await web.create(client)
        r = await client.delete(f"/api/v1/sessions/{created['id']}", headers=KEY)
        assert_error_shape(r, 403, "operator_api_disabled")


async def test_openapi_declares_every_filter_the_parser_reads(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        spec = (await client.get("/openapi.json")).json()
    params = spec["paths"]["/api/v1/sessions"]["get"]["parameters"]
    declared = {p["name"] for p in params if p["in"] == "query"}
    assert declared == set(FILTER_NAMES) | {"limit", "cursor"}
    level = next(p for p in params if p["name"] == "level")
    assert level["schema"]["type"] == "array"
    assert all(p["description"] for p in params if p["name"] in FILTER_NAMES)
