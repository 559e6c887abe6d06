"""Helpers for the dashboard tests: real sessions made through the real API (real
browser captures, the listener's observations), on a real SQLite store."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from icewatch.core.ports import SessionStore
from icewatch.web.context import Enricher, WebhookHook
from icewatch.web.useragent import enrich_user_agent

from .support import (
    API_KEY,
    Clock,
    Web,
    capture,
    capture_names,
    http_peer_of,
    replay,
    report_from_capture,
    web_app,
)

KEY_HEADERS = {"X-API-Key": API_KEY}
XSS = "<script>alert('x')</script>"
PROXY_PEER = "10.77.1.3"  # HTTP through a proxy while UDP leaves by the NAT


@dataclass
class Filled:
    """What :func:`fill` made: session ids by kind."""

    low: list[str] = field(default_factory=list)
    medium: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    hostile: str = ""
    by_peer: dict[str, list[str]] = field(default_factory=dict)

    @property
    def all(self) -> list[str]:
        return [*self.low, *self.medium, *self.pending]


async def visit(
    web: Web, name: str, peer: str, *, user_agent: str | None = None, extra_candidate: str = ""
) -> dict[str, Any]:
    """One real capture replayed: session created from ``peer``, the listener's packets
    recorded, the report sent; the session JSON returned."""
    data = capture(name)
    async with web.client(peer=peer) as client:
        body = report_from_capture(data)
        if user_agent is not None:
            body["user_agent"] = user_agent
        if extra_candidate:
            body = copy.deepcopy(body)
            body["candidates"].append(
                {"candidate": extra_candidate, "ms": 5.0, "sdp_mid": "0", "sdp_mline_index": 0}
            )
        _, response = await replay(web, client, data, body)
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc


async def fill(web: Web) -> Filled:
    """Every capture reported directly (low), the NAT capture through a proxy (medium),
    one session never reported (pending), and one with a hostile user agent."""
    out = Filled()
    for name in capture_names():
        peer = http_peer_of(capture(name))
        doc = await visit(web, name, peer)
        assert doc["verdict"]["level"] == "low", doc["verdict"]
        out.low.append(doc["id"])
        out.by_peer.setdefault(peer, []).append(doc["id"])
        web.clock.advance(60)
    for name in ("chromium-156-nat", "firefox-153-nat"):
        doc = await visit(web, name, PROXY_PEER)
        assert doc["verdict"]["level"] == "medium", doc["verdict"]
        out.medium.append(doc["id"])
        out.by_peer.setdefault(PROXY_PEER, []).append(doc["id"])
        web.clock.advance(60)
    doc = await visit(web, "chromium-156-default", "198.51.100.9", user_agent=XSS)
    out.hostile = doc["id"]
    out.low.append(doc["id"]) if doc["verdict"]["level"] == "low" else out.medium.append(doc["id"])
    out.by_peer.setdefault("198.51.100.9", []).append(doc["id"])
    web.clock.advance(60)
    async with web.client(peer="192.0.2.44") as client:
        created = await web.create(client)
        out.pending.append(created["id"])
        out.by_peer.setdefault("192.0.2.44", []).append(created["id"])
    web.clock.advance(1)
    return out


@asynccontextmanager
async def dashboard_app(
    tmp_path: Path,
    *,
    enrichers: tuple[Enricher, ...] = (),
    webhooks: Callable[[SessionStore, Clock], WebhookHook] | None = None,
    **settings: Any,
) -> AsyncIterator[Web]:
    """The app as :func:`tests.web.support.web_app` makes it, with the API key set and
    the user-agent enricher the service wires in (so the browser columns fill);
    ``webhooks`` makes the webhook hook from the store and the clock."""
    async with web_app(
        tmp_path,
        enrichers=(enrich_user_agent, *enrichers),
        webhooks=webhooks,
        **{"api_key": API_KEY, **settings},
    ) as web:
        yield web


def session_links(html: str) -> list[str]:
    """The session ids a sessions page links to, in page order."""
    return re.findall(r'href="/dashboard/sessions/([A-Za-z0-9_-]+)"', html)


def keyed(web: Web, **kw: Any) -> httpx.AsyncClient:
    """A client that sends the API key header on every request (scripted access)."""
    return web.client(headers=KEY_HEADERS, **kw)
