"""Whatever a client posts as a report, the answer is a 200 or a 4xx in the one shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import Web, assert_error_shape, capture, capture_names, web_app

ALLOWED = {200, 400, 409, 413, 415, 422}

REAL_LINES = [
    c["candidate"]
    for name in capture_names()
    for c in capture(name)["candidates"]
    if c.get("candidate")
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(REAL_LINES))
    words = line.split(" ")
    i = draw(st.integers(0, len(words) - 1))
    words[i] = draw(st.text(max_size=20) | st.sampled_from(["", "0", "-1", "99999", "::", "x"]))
    return " ".join(words)


candidates = st.fixed_dictionaries(
    {"candidate": st.sampled_from(REAL_LINES) | mutated_line() | st.text(max_size=200)},
    optional={
        "ms": st.floats(-10, 1e7) | json_values,
        "sdp_mid": st.text(max_size=5) | st.none(),
        "sdp_mline_index": st.integers(-2, 70000) | st.none(),
        "username_fragment": st.text(max_size=8) | st.none(),
    },
)

reports = st.fixed_dictionaries(
    {"webrtc": st.sampled_from(["ok", "missing", "error"]) | json_values},
    optional={
        "candidates": st.lists(candidates, max_size=12) | json_values,
        "candidate_errors": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "url": st.text(max_size=30),
                    "port": st.integers(-1, 70000) | st.none(),
                    "error_code": st.integers(-1, 1000) | st.none(),
                    "address": st.text(max_size=20) | st.none(),
                },
            ),
            max_size=4,
        ),
        "sdp": st.text(max_size=300) | st.none(),
        "ended_by": st.sampled_from(["complete", "deadline", "error", "x"]) | st.none(),
        "ua_hints": st.dictionaries(st.text(max_size=70), st.text(max_size=20), max_size=4),
        "gathering_ms": st.floats(allow_nan=False) | st.none(),
        "user_agent": st.text(max_size=40),
        "junk": json_values,
    },
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.Runner, Web]]:
    runner = asyncio.Runner()
    app_cm = web_app(tmp_path_factory.mktemp("fuzz"), report_wait=0)
    web = runner.run(app_cm.__aenter__())
    try:
        yield runner, web
    finally:
        runner.run(app_cm.__aexit__(None, None, None))
        runner.close()


async def _post(web: Web, content: bytes) -> httpx.Response:
    async with web.client() as client:
        created = await web.create(client)
        return await client.post(
            f"/api/v1/sessions/{created['id']}/report",
            content=content,
            headers={
                "Authorization": f"Bearer {created['token']}",
                "Content-Type": "application/json",
            },
        )


def _check(response: httpx.Response) -> None:
    assert response.status_code in ALLOWED, response.text
    if response.status_code == 200:
        assert response.json()["verdict"]["level"] in {"low", "medium", "high"}
    else:
        assert_error_shape(response, response.status_code)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=reports)
def test_report_shaped_bodies(live: tuple[asyncio.Runner, Web], body: dict[str, Any]) -> None:
    runner, web = live
    _check(runner.run(_post(web, json.dumps(body).encode())))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values)
def test_any_json_value(live: tuple[asyncio.Runner, Web], body: Any) -> None:
    runner, web = live
    _check(runner.run(_post(web, json.dumps(body).encode())))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=300))
def test_any_bytes(live: tuple[asyncio.Runner, Web], content: bytes) -> None:
    runner, web = live
    _check(runner.run(_post(web, content)))
