"""The newcomer's integration path in real Chromium, with the README's own snippet.

A shop site on another origin (``tests/e2e/site_server.py``, its own port in the server
namespace) embeds the snippet exactly as the README shows it (between the
``integration`` markers, icewatch's address filled in). Chromium in the client namespace
loads the shop page; the collector talks to icewatch across origins (CORS preflights,
``cors_origins``), the page posts the session id to the shop's backend, the backend asks
icewatch with ``icewatch.client``, and icewatch's webhook (level ``low``) reaches the
shop, signed. A shop origin that is not in ``cors_origins`` gets nothing.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.netns import CLIENT, CLIENT_V4, SERVER, SERVER_V4, Proc
from tests.e2e.harness import E2E, Visit, _expect_line

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ARTIFACTS.mkdir(exist_ok=True)

ICEWATCH_PORT = 8180
ICEWATCH_STUN_PORT = 3480
ICEWATCH_URL = f"http://{SERVER_V4}:{ICEWATCH_PORT}"
SITE_PORT = 8090  # in cors_origins
OTHER_PORT = 8091  # not in cors_origins
SITE = f"http://{SERVER_V4}:{SITE_PORT}"
OTHER = f"http://{SERVER_V4}:{OTHER_PORT}"
PLACEHOLDER = "https://icewatch.example.org"
WEBHOOK_SECRET = "shop-webhook-secret-0123456789"


def readme_snippet() -> str:
    """The HTML snippet of the README's integration section, pointed at this icewatch."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- integration:start -->", 1)[1].split("<!-- integration:end -->")[0]
    found = re.search(r"```html\n(.*?)```", section, re.DOTALL)
    assert found, "no ```html snippet between the README's integration markers"
    snippet = found.group(1)
    assert PLACEHOLDER in snippet
    assert "/icewatch-session" in snippet
    return snippet.replace(PLACEHOLDER, ICEWATCH_URL)


@dataclass
class Shop:
    env: E2E
    icewatch: Proc
    sites: list[Proc]
    log: Path

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]

    def wait_for(self, kind: str, session_id: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.entries():
                sid = entry.get("session_id") or entry.get("event", {}).get("session_id")
                if entry["kind"] == kind and sid == session_id:
                    return entry
            time.sleep(0.1)
        raise AssertionError(f"no {kind} for {session_id}: {self.entries()}")

    def request_in(self, role: str, method: str, url: str, headers: dict[str, str]) -> Any:
        """An HTTP request made from inside ``role``'s namespace: (status, headers)."""
        code = (
            "import json, sys, urllib.request, urllib.error\n"
            "req = urllib.request.Request(sys.argv[1], method=sys.argv[2],"
            " headers=json.loads(sys.argv[3]))\n"
            "try:\n"
            "    r = urllib.request.urlopen(req, timeout=5)\n"
            "    status, hdrs = r.status, dict(r.headers)\n"
            "except urllib.error.HTTPError as e:\n"
            "    status, hdrs = e.code, dict(e.headers)\n"
            "print(json.dumps([status, {k.lower(): v for k, v in hdrs.items()}]))\n"
        )
        out = self.env.topo.exec_in(
            role, [sys.executable, "-c", code, url, method, json.dumps(headers)]
        )
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def shop(sandbox: E2E) -> Iterator[Shop]:
    icewatch = sandbox.start_extra_server(
        "integration", ICEWATCH_PORT, ICEWATCH_STUN_PORT,
        "--cors-origins", SITE,
        "--webhook-url", f"{SITE}/hook", "--webhook-secret", WEBHOOK_SECRET,
        "--webhook-level", "low", "--webhook-retry-base", "0.2",
    )  # fmt: skip
    snippet = sandbox.work / "readme-snippet.html"
    snippet.write_text(readme_snippet())
    log = sandbox.work / "shop.jsonl"
    env = sandbox.icewatch_env() | {"SITE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    sites = []
    try:
        for port in (SITE_PORT, OTHER_PORT):
            proc = sandbox.topo.run_in(
                SERVER,
                [sys.executable, "-m", "tests.e2e.site_server",
                 "--listen", f"{SERVER_V4}:{port}", "--icewatch", ICEWATCH_URL,
                 "--snippet", str(snippet), "--log", str(log)],
                env=env,
            )  # fmt: skip
            sites.append(proc)
            _expect_line(proc, "ready", f"shop site on {port}")
        yield Shop(sandbox, icewatch, sites, log)
    finally:
        for proc in [*sites, icewatch]:
            proc.stop()
            if proc in sandbox.topo.procs:
                sandbox.topo.procs.remove(proc)


@pytest.fixture(scope="module")
def visit(shop: Shop) -> Visit:
    return shop.env.chromium(
        role=CLIENT, url=f"{SITE}/", screenshot=ARTIFACTS / "integration-shop-chromium.png"
    )


def test_the_shop_backend_gets_the_verdict_with_icewatch_client(shop: Shop, visit: Visit) -> None:
    answer = visit.result["backend"]
    assert answer["level"] in ("low", "medium", "high")
    assert isinstance(answer["score"], int)
    assert answer["client_ip"] == CLIENT_V4  # the browser created the session itself
    # Default Chromium, direct: low, no weighted signal (no false positive for newcomers).
    assert answer["level"] == "low", answer
    assert answer["decision"] == "allow"
    logged = shop.wait_for("backend", answer["session_id"])
    assert logged["score"] == answer["score"]
    for signal in answer["signals"]:
        assert signal["title"]
        assert signal["reason"]


def test_the_webhook_reaches_the_shop_signed(shop: Shop, visit: Visit) -> None:
    session_id = visit.result["backend"]["session_id"]
    hook = shop.wait_for("webhook", session_id)
    event = hook["event"]
    assert hook["event_id"] == event["id"]
    assert event["type"] == "session.verdict"
    assert event["level"] == visit.result["backend"]["level"]
    assert event["score"] == visit.result["backend"]["score"]
    assert event["client_ip"] == CLIENT_V4
    assert event["session_url"] == f"/api/v1/sessions/{session_id}"
    assert not [e for e in shop.entries() if e["kind"] == "webhook_refused"]


def test_cors_preflight_answers_the_listed_origin_only(shop: Shop, visit: Visit) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    url = f"{ICEWATCH_URL}/api/v1/sessions/x/report"
    status, headers = shop.request_in(CLIENT, "OPTIONS", url, {"Origin": SITE, **preflight})
    assert status == 200
    assert headers["access-control-allow-origin"] == SITE
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"].lower()
    status, headers = shop.request_in(CLIENT, "OPTIONS", url, {"Origin": OTHER, **preflight})
    assert status == 400
    assert "access-control-allow-origin" not in headers
    # A simple cross-origin GET: the answer names the listed origin, never another one.
    status, headers = shop.request_in(
        CLIENT, "GET", f"{ICEWATCH_URL}/api/v1/signals", {"Origin": SITE}
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == SITE


def test_a_shop_origin_not_in_cors_origins_gets_nothing(shop: Shop, visit: Visit) -> None:
    refused = shop.env.chromium(
        role=CLIENT, url=f"{OTHER}/", screenshot=ARTIFACTS / "integration-shop-not-allowed.png"
    )
    assert "backend" not in refused.result
    assert "Failed to fetch" in refused.result["error"]
    assert any("CORS" in line for line in refused.console), refused.console
