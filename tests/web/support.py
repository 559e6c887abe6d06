"""Helpers for the web tests: a real app on real SQLite, captures turned into reports."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from icewatch.core.addr import parse_ip
from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.core.ports import CorrelationState, SessionStore
from icewatch.store import open_state, open_store
from icewatch.web import WebContext, WebSettings, create_app
from icewatch.web.context import Enricher, WebhookHook
from icewatch.web.metrics import Metrics

CAPTURES = Path(__file__).resolve().parent.parent / "data" / "captures"
SECRET = b"icewatch-test-secret-0123456789abcdef"
API_KEY = "operator-key-0123456789"
PEER = "203.0.113.7"
HOST = "icewatch.test"


class Clock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Web:
    app: FastAPI
    ctx: WebContext
    clock: Clock
    store: SessionStore
    state: CorrelationState

    def client(
        self, peer: str = PEER, host: str = HOST, headers: dict[str, str] | None = None
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(peer, 51000))
        return httpx.AsyncClient(
            transport=transport, base_url=f"http://{host}", headers=headers or {}
        )

    async def create(self, client: httpx.AsyncClient) -> dict[str, Any]:
        response = await client.post("/api/v1/sessions")
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def report(
        self, client: httpx.AsyncClient, created: dict[str, Any], body: dict[str, Any]
    ) -> httpx.Response:
        return await client.post(
            f"/api/v1/sessions/{created['id']}/report",
            json=body,
            headers={"Authorization": f"Bearer {created['token']}"},
        )


@asynccontextmanager
async def web_app(
    tmp_path: Path,
    *,
    listener_ready: Callable[[], bool] = lambda: True,
    enrichers: tuple[Enricher, ...] = (),
    metrics: Metrics | None = None,
    webhooks: Callable[[SessionStore, Clock], WebhookHook] | None = None,
    **settings: Any,
) -> AsyncIterator[Web]:
    """The app on a fresh SQLite file and in-memory correlation state; ``webhooks``
    makes the webhook hook from the store and the clock."""
    store = await open_store(f"sqlite:///{tmp_path / 'icewatch.db'}")
    state = await open_state("memory://")
    clock = Clock()
    ctx = WebContext(
        store=store,
        state=state,
        secret=SECRET,
        clock=clock,
        random_bytes=secrets.token_bytes,
        listener_ready=listener_ready,
        settings=WebSettings(**settings),
        enrichers=enrichers,
        metrics=metrics,
        webhooks=None if webhooks is None else webhooks(store, clock),
    )
    try:
        yield Web(create_app(ctx), ctx, clock, store, state)
    finally:
        await state.close()
        await store.close()


async def replay(
    web: Web,
    client: httpx.AsyncClient,
    data: dict[str, Any],
    body: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], httpx.Response]:
    """A recorded capture replayed on a new session: created through ``client``, the
    listener's observations recorded, then the report (``body``, else the capture's
    own) sent; return the created session and the report's answer."""
    created = await web.create(client)
    for o in observations_from_capture(data, created["id"], web.clock() + 0.05):
        await web.state.add_observation(o)
    web.clock.advance(0.3)
    report = report_from_capture(data) if body is None else body
    return created, await web.report(client, created, report)


def capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())
    return data


def capture_names() -> list[str]:
    return sorted(p.stem for p in CAPTURES.glob("*.json"))


def report_from_capture(data: dict[str, Any]) -> dict[str, Any]:
    """The report the collector would have sent for a recorded gathering."""
    candidates = [
        {
            "candidate": c["candidate"],
            "ms": c["ms"],
            "sdp_mid": c.get("sdpMid"),
            "sdp_mline_index": c.get("sdpMLineIndex"),
            "username_fragment": c.get("usernameFragment"),
        }
        for c in data["candidates"]
        if not c.get("end")
    ]
    errors = [
        {
            "url": e.get("url") or "",
            "address": e.get("address"),
            "port": e.get("port"),
            "error_code": e.get("errorCode"),
            "error_text": e.get("errorText") or "",
            "ms": e.get("ms"),
        }
        for e in data["candidate_errors"]
    ]
    return {
        "webrtc": "ok",
        "candidates": candidates,
        "candidate_errors": errors,
        "sdp": data["sdp"],
        "user_agent": data["user_agent"],
        "ua_hints": {"platform": "Linux", "mobile": "false"},
        "error": None,
        "gathering_ms": data["gathering_ms"],
        "ended_by": "complete",
        "deadline_ms": 1500,
        "collector_version": "1",
    }


def _endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def observations_from_capture(
    data: dict[str, Any], session_id: str, at: float
) -> list[Observation]:
    """What icewatch's listener would have recorded for the capture's incoming packets."""
    found: list[Observation] = []
    for i, d in enumerate(x for x in data["datagrams"] if x["dir"] == "in"):
        ip, port = _endpoint(d["src"])
        summary = d["summary"]
        text = summary if isinstance(summary, str) else json.dumps(summary)
        tx = d["hex"][16:40]
        common = {
            "ip": parse_ip(ip).ip,
            "port": port,
            "transport": d["transport"],
            "at": at + i * 0.005,
            "transaction_id": tx,
        }
        if "binding" in text:
            found.append(Observation(ObservationSource.STUN, StunKind.BINDING, **common))
        elif "message-integrity" in text:
            found.append(
                Observation(
                    ObservationSource.TURN,
                    StunKind.ALLOCATE_AUTHENTICATED,
                    session_id=session_id,
                    integrity="valid",
                    **common,
                )
            )
        else:
            found.append(Observation(ObservationSource.TURN, StunKind.ALLOCATE, **common))
    return found


def http_peer_of(data: dict[str, Any]) -> str:
    return _endpoint(data["http_requests"][0]["src"])[0]


def assert_error_shape(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field"}, err
    assert isinstance(err["code"], str)
    assert err["code"]
    assert isinstance(err["message"], str)
    assert err["message"]
    assert err["field"] is None or isinstance(err["field"], str)
    if code is not None:
        assert err["code"] == code, err
