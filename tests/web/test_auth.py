"""Who may read and write what: session tokens, the operator API key, pagination."""

from __future__ import annotations

from pathlib import Path

import pytest

from icewatch.core.session import make_token

from .support import API_KEY, SECRET, assert_error_shape, web_app

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_owner_reads_own_session_before_and_after_report(tmp_path: Path) -> None:
    async with web_app(tmp_path, report_wait=0) as web, web.client() as client:
        created = await web.create(client)
        url = f"/api/v1/sessions/{created['id']}"
        before = await client.get(url, headers=bearer(created["token"]))
        assert before.status_code == 200, before.text
        assert before.json()["id"] == created["id"]
        assert before.json()["verdict"] is None  # not reported yet
        await web.report(client, created, {"webrtc": "missing"})
        after = await client.get(url, headers=bearer(created["token"]))
        assert after.json()["verdict"]["level"] in {"low", "medium", "high"}


async def test_a_token_never_opens_another_session(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        mine, other = await web.create(client), await web.create(client)
        for method, suffix in (("GET", ""), ("POST", "/report")):
            response = await client.request(
                method,
                f"/api/v1/sessions/{other['id']}{suffix}",
                headers=bearer(mine["token"]),
                json={"webrtc": "missing"},
            )
            assert_error_shape(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_token_does_not_tell_whether_the_session_exists(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        real = await web.create(client)
        ghost = "A" * 22  # well-formed, never created
        forged_for_ghost = make_token(b"another secret, not the server's", ghost, 2**40)
        answers = set()
        for sid in (real["id"], ghost):
            for token in ("garbage", real["token"] if sid == ghost else forged_for_ghost):
                response = await client.get(f"/api/v1/sessions/{sid}", headers=bearer(token))
                assert response.status_code == 401
                answers.add(response.text)
        assert len(answers) == 1  # the same answer, whether the session exists or not


async def test_expired_token_is_410_for_its_owner(tmp_path: Path) -> None:
    async with web_app(tmp_path, session_ttl=60) as web, web.client() as client:
        created = await web.create(client)
        web.clock.advance(60)
        response = await client.get(
            f"/api/v1/sessions/{created['id']}", headers=bearer(created["token"])
        )
        assert_error_shape(response, 410, "session_expired")


async def test_token_with_a_forged_expiry_is_refused(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        sid, expires, mac = created["token"].split(".")
        forged = f"{sid}.{int(expires) + 86400}.{mac}"
        response = await client.get(f"/api/v1/sessions/{sid}", headers=bearer(forged))
        assert_error_shape(response, 401, "unauthorized")


async def test_session_with_no_store_row_is_404_even_with_a_valid_token(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        ghost = "B" * 22
        token = make_token(SECRET, ghost, int(web.clock()) + 600)
        response = await client.get(f"/api/v1/sessions/{ghost}", headers=bearer(token))
        assert_error_shape(response, 404, "not_found")


async def test_operator_endpoints_are_closed_without_an_api_key(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        listing = await client.get("/api/v1/sessions", headers={"X-API-Key": API_KEY})
        assert_error_shape(listing, 403, "operator_api_disabled")
        bare = await client.get("/api/v1/sessions")
        assert_error_shape(bare, 403, "operator_api_disabled")
        one = await client.get(f"/api/v1/sessions/{created['id']}", headers={"X-API-Key": API_KEY})
        assert_error_shape(one, 401, "unauthorized")  # only its token opens it then


@pytest.mark.parametrize(
    "headers", [{"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}]
)
async def test_operator_endpoints_open_with_the_api_key(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    async with web_app(tmp_path, api_key=API_KEY) as web, web.client() as client:
        created = await web.create(client)
        one = await client.get(f"/api/v1/sessions/{created['id']}", headers=headers)
        assert one.status_code == 200, one.text
        listing = await client.get("/api/v1/sessions", headers=headers)
        assert listing.status_code == 200, listing.text
        assert [s["id"] for s in listing.json()["sessions"]] == [created["id"]]
        wrong = await client.get("/api/v1/sessions", headers={"X-API-Key": API_KEY + "x"})
        assert_error_shape(wrong, 401, "unauthorized")


async def test_operator_may_read_expired_sessions(tmp_path: Path) -> None:
    async with web_app(tmp_path, api_key=API_KEY, session_ttl=60) as web, web.client() as client:
        created = await web.create(client)
        web.clock.advance(3600)
        response = await client.get(
            f"/api/v1/sessions/{created['id']}", headers={"X-API-Key": API_KEY}
        )
        assert response.status_code == 200, response.text


async def test_listing_is_paginated_newest_first(tmp_path: Path) -> None:
    async with (
        web_app(tmp_path, api_key=API_KEY, report_wait=0) as web,
        web.client() as client,
    ):
        ids = []
        for _ in range(7):
            ids.append((await web.create(client))["id"])
            web.clock.advance(1)
        reported = await client.post(
            f"/api/v1/sessions/{ids[-1]}/report",
            json={"webrtc": "missing"},
            headers=bearer(make_token(SECRET, ids[-1], int(web.clock()) + 600)),
        )
        assert reported.status_code == 200, reported.text

        seen: list[str] = []
        pages = []
        cursor = None
        while True:
            params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
            response = await client.get(
                "/api/v1/sessions", params=params, headers={"X-API-Key": API_KEY}
            )
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append(len(page["sessions"]))
            seen.extend(s["id"] for s in page["sessions"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [3, 3, 1]
        assert seen == list(reversed(ids))
        newest = (
            await client.get("/api/v1/sessions?limit=1", headers={"X-API-Key": API_KEY})
        ).json()["sessions"][0]
        assert newest["reported"] is True
        assert newest["level"] in {"low", "medium", "high"}
        assert isinstance(newest["score"], int)
        assert "webrtc.unavailable" in newest["signals"]
        assert newest["client_ip"] == "203.0.113.7"


async def test_default_page_size_comes_from_settings(tmp_path: Path) -> None:
    async with web_app(tmp_path, api_key=API_KEY, page_size=2) as web, web.client() as client:
        for _ in range(3):
            await web.create(client)
            web.clock.advance(1)
        page = (await client.get("/api/v1/sessions", headers={"X-API-Key": API_KEY})).json()
        assert len(page["sessions"]) == 2
        assert page["next_cursor"]
