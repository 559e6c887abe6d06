"""Strict validation of the report, and one JSON error shape for every 4xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import API_KEY, assert_error_shape, web_app

pytestmark = pytest.mark.anyio


async def _post_raw(
    web_client: httpx.AsyncClient,
    created: dict[str, Any],
    content: bytes,
    content_type: str | None = "application/json",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {created['token']}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await web_client.post(
        f"/api/v1/sessions/{created['id']}/report", content=content, headers=headers
    )


@pytest.mark.parametrize(
    "content",
    [b"{", b"", b"not json", b'{"webrtc": "ok",}', b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000],
)
async def test_bad_json_is_400(tmp_path: Path, content: bytes) -> None:
    async with web_app(tmp_path, max_body_bytes=512 * 1024) as web, web.client() as client:
        created = await web.create(client)
        response = await _post_raw(client, created, content)
        if content == b"":
            assert_error_shape(response, 422, "validation_failed")  # a body is required
        else:
            assert_error_shape(response, 400, "bad_json")


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_wrong_content_type_is_415(tmp_path: Path, content_type: str | None) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        response = await _post_raw(client, created, b'{"webrtc": "missing"}', content_type)
        assert_error_shape(response, 415, "unsupported_media_type")


async def test_json_with_charset_is_accepted(tmp_path: Path) -> None:
    async with web_app(tmp_path, report_wait=0) as web, web.client() as client:
        created = await web.create(client)
        response = await _post_raw(
            client, created, b'{"webrtc": "missing"}', "Application/JSON; charset=utf-8"
        )
        assert response.status_code == 200, response.text


async def test_declared_huge_body_is_refused_before_reading(tmp_path: Path) -> None:
    async with web_app(tmp_path, max_body_bytes=64 * 1024) as web, web.client() as client:
        created = await web.create(client)
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(1000):
                pulled += 1
                yield b"x" * 65536

        response = await client.post(
            f"/api/v1/sessions/{created['id']}/report",
            content=body(),
            headers={
                "Authorization": f"Bearer {created['token']}",
                "Content-Type": "application/json",
                "Content-Length": str(1000 * 65536),
            },
        )
        assert_error_shape(response, 413, "body_too_large")
        assert pulled <= 1  # nothing (or the transport's first chunk) was read


async def test_chunked_huge_body_is_cut_off_while_reading(tmp_path: Path) -> None:
    async with web_app(tmp_path, max_body_bytes=64 * 1024) as web, web.client() as client:
        created = await web.create(client)
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(1000):
                pulled += 1
                yield b"[" * 16384

        response = await client.post(
            f"/api/v1/sessions/{created['id']}/report",
            content=body(),
            headers={
                "Authorization": f"Bearer {created['token']}",
                "Content-Type": "application/json",
            },
        )
        assert_error_shape(response, 413, "body_too_large")
        assert pulled <= 6  # 64 KiB in 16 KiB chunks: stopped right after the cap


def _candidate(i: int) -> dict[str, Any]:
    return {"candidate": f"candidate:{i} 1 udp 2113937151 10.0.0.{i % 250} {1000 + i} typ host"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webrtc": "ok", "candidates": [_candidate(i) for i in range(201)]}, "candidates"),
        (
            {"webrtc": "ok", "candidate_errors": [{"url": "turn:x"} for _ in range(51)]},
            "candidate_errors",
        ),
        ({"webrtc": "ok", "candidates": [{"candidate": "c" * 2049}]}, "candidates.0.candidate"),
        ({"webrtc": "ok", "sdp": "v=0\r\n" * 14000}, "sdp"),
        ({"webrtc": "ok", "user_agent": "u" * 1025}, "user_agent"),
        ({"webrtc": "ok", "ua_hints": {f"k{i}": "v" for i in range(33)}}, "ua_hints"),
        ({"webrtc": "ok", "ua_hints": {"k": "v" * 1025}}, "ua_hints.k"),
        ({"webrtc": "ok", "ua_hints": {"k" * 999: "v"}}, f"ua_hints.{'k' * 64}.[key]"),
        ({"webrtc": "ok", "ua_hints": {"k": ["list"]}}, "ua_hints.k"),
        ({"webrtc": "maybe"}, "webrtc"),
        ({}, "webrtc"),
        ({"webrtc": "ok", "extra": 1}, "extra"),
        ({"webrtc": "ok", "candidates": [{"candidate": 5}]}, "candidates.0.candidate"),
        ({"webrtc": "ok", "candidates": [{"candidate": "", "ms": "5"}]}, "candidates.0.ms"),
        ({"webrtc": "ok", "candidates": [{"candidate": "", "ms": -1}]}, "candidates.0.ms"),
        (
            {"webrtc": "ok", "candidates": [{"candidate": "", "sdp_mline_index": True}]},
            "candidates.0.sdp_mline_index",
        ),
        ({"webrtc": "ok", "candidate_errors": [{"port": 70000}]}, "candidate_errors.0.port"),
        ({"webrtc": "ok", "candidates": "nope"}, "candidates"),
        ({"webrtc": "ok", "ended_by": "boredom"}, "ended_by"),
        ({"webrtc": "ok", "collector_version": "v" * 257}, "collector_version"),
        ([], None),
        ("ok", None),
    ],
)
async def test_invalid_reports_are_422_with_the_field(
    tmp_path: Path, body: Any, field: str | None
) -> None:
    async with web_app(tmp_path, max_body_bytes=1024 * 1024) as web, web.client() as client:
        created = await web.create(client)
        response = await _post_raw(client, created, json.dumps(body).encode())
        assert_error_shape(response, 422, "validation_failed")
        assert response.json()["error"]["field"] == field
        stored = await web.store.get_session(created["id"])
        assert stored is not None
        assert stored.evidence.report is None  # nothing was stored


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_finite_numbers_are_refused(tmp_path: Path, literal: bytes) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)
        content = b'{"webrtc": "ok", "gathering_ms": ' + literal + b"}"
        response = await _post_raw(client, created, content)
        assert_error_shape(response, 422, "validation_failed")
        assert response.json()["error"]["field"] == "gathering_ms"


async def test_operator_limits_below_the_hard_caps(tmp_path: Path) -> None:
    async with (
        web_app(tmp_path, max_candidates=3, max_sdp_chars=100, report_wait=0) as web,
        web.client() as client,
    ):
        created = await web.create(client)
        body = {"webrtc": "ok", "candidates": [_candidate(i) for i in range(4)]}
        response = await web.report(client, created, body)
        assert_error_shape(response, 422, "validation_failed")
        assert response.json()["error"]["field"] == "candidates"
        response = await web.report(client, created, {"webrtc": "ok", "sdp": "v=0\r\n" * 30})
        assert response.json()["error"]["field"] == "sdp"
        ok = await web.report(client, created, {"webrtc": "ok", "candidates": [_candidate(1)]})
        assert ok.status_code == 200, ok.text


# --- one error shape, parametrized over many bad requests ------------------------------

BAD_REQUESTS: list[tuple[str, str, str, dict[str, str], bytes | None, int, str]] = [
    # (name, method, path, headers, body, status, code); {id} and {token} are filled in
    ("unknown path", "GET", "/nope", {}, None, 404, "not_found"),
    ("unknown api path", "GET", "/api/v1/nope", {}, None, 404, "not_found"),
    ("wrong method", "DELETE", "/api/v1/sessions", {}, None, 405, "method_not_allowed"),
    ("put on healthz", "PUT", "/healthz", {}, None, 405, "method_not_allowed"),
    ("get report", "GET", "/api/v1/sessions/{id}/report", {}, None, 405, "method_not_allowed"),
    ("malformed id", "GET", "/api/v1/sessions/short", {}, None, 404, "not_found"),
    ("no token", "GET", "/api/v1/sessions/{id}", {}, None, 401, "unauthorized"),
    (
        "bad token",
        "GET",
        "/api/v1/sessions/{id}",
        {"Authorization": "Bearer nope"},
        None,
        401,
        "unauthorized",
    ),
    (
        "basic auth",
        "GET",
        "/api/v1/sessions/{id}",
        {"Authorization": "Basic dXNlcjpwYXNz"},
        None,
        401,
        "unauthorized",
    ),
    ("list without key", "GET", "/api/v1/sessions", {}, None, 401, "unauthorized"),
    (
        "list with wrong key",
        "GET",
        "/api/v1/sessions",
        {"X-API-Key": "wrong-key-0123456789"},
        None,
        401,
        "unauthorized",
    ),
    (
        "bad limit",
        "GET",
        "/api/v1/sessions?limit=0",
        {"X-API-Key": API_KEY},
        None,
        422,
        "validation_failed",
    ),
    (
        "bad limit type",
        "GET",
        "/api/v1/sessions?limit=many",
        {"X-API-Key": API_KEY},
        None,
        422,
        "validation_failed",
    ),
    (
        "bad cursor",
        "GET",
        "/api/v1/sessions?cursor=garbage",
        {"X-API-Key": API_KEY},
        None,
        400,
        "bad_cursor",
    ),
    ("bad host", "POST", "/api/v1/sessions", {"Host": "a/b"}, None, 400, "bad_host"),
    (
        "declared huge",
        "POST",
        "/api/v1/sessions",
        {"Content-Length": "99999999"},
        b"",
        413,
        "body_too_large",
    ),
    (
        "report without token",
        "POST",
        "/api/v1/sessions/{id}/report",
        {"Content-Type": "application/json"},
        b"{}",
        401,
        "unauthorized",
    ),
    (
        "report as text",
        "POST",
        "/api/v1/sessions/{id}/report",
        {"Authorization": "Bearer {token}", "Content-Type": "text/plain"},
        b"{}",
        415,
        "unsupported_media_type",
    ),
    (
        "report bad json",
        "POST",
        "/api/v1/sessions/{id}/report",
        {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
        b"{{",
        400,
        "bad_json",
    ),
    (
        "report invalid",
        "POST",
        "/api/v1/sessions/{id}/report",
        {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
        b'{"webrtc": 1}',
        422,
        "validation_failed",
    ),
    (
        "report to malformed id",
        "POST",
        "/api/v1/sessions/!!/report",
        {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
        b"{}",
        404,
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [r[1:] for r in BAD_REQUESTS],
    ids=[r[0] for r in BAD_REQUESTS],
)
async def test_every_error_has_the_one_shape(
    tmp_path: Path,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    async with web_app(tmp_path, api_key=API_KEY) as web, web.client() as client:
        created = await web.create(client)
        fill = {"id": created["id"], "token": created["token"]}
        request = client.build_request(
            method,
            path.format(**fill),
            headers={k: v.format(**fill) for k, v in headers.items()},
            content=body,
        )
        response = await client.send(request)
        assert_error_shape(response, status, code)


async def test_operator_api_closed_without_key_has_the_shape(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web, web.client() as client:
        response = await client.get("/api/v1/sessions", headers={"X-API-Key": API_KEY})
        assert_error_shape(response, 403, "operator_api_disabled")
        assert "--api-key" in response.json()["error"]["message"]


async def test_internal_errors_have_the_shape_and_no_internals(tmp_path: Path) -> None:
    async with web_app(tmp_path) as web:

        class Broken(Exception):
            pass

        async def boom(session_id: str) -> None:
            raise Broken("secret internals")

        web.ctx.store.get_session = boom  # type: ignore[method-assign]
        transport = httpx.ASGITransport(app=web.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://icewatch.test") as c:
            created = await web.create(c)
            response = await c.get(
                f"/api/v1/sessions/{created['id']}",
                headers={"Authorization": f"Bearer {created['token']}"},
            )
        assert_error_shape(response, 500, "internal_error")
        assert "secret" not in response.text


async def test_store_failure_is_503_without_internals(tmp_path: Path) -> None:
    from icewatch.store import StoreError

    async with web_app(tmp_path) as web, web.client() as client:
        created = await web.create(client)

        async def failing(*args: object, **kwargs: object) -> None:
            raise StoreError("database /srv/secret/icewatch.db: disk full")

        web.ctx.store.get_session = failing  # type: ignore[method-assign]
        web.ctx.store.create_session = failing  # type: ignore[method-assign]
        for response in (
            await client.get(
                f"/api/v1/sessions/{created['id']}",
                headers={"Authorization": f"Bearer {created['token']}"},
            ),
            await client.post("/api/v1/sessions"),
        ):
            assert_error_shape(response, 503, "unavailable")
            assert "/srv/secret" not in response.text
