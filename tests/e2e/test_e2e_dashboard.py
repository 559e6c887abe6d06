"""End to end: the dashboard in real Chromium, over sessions real Chromium visits made.

An ``icewatch serve`` of its own (own ports and database, the sandbox's API key, an
operator list naming the proxy's address as a datacenter) runs in the server
namespace. Chromium visits its leak-test page three times: from the client directly,
from behind the NAT, and from behind the NAT through the HTTP proxy (HTTP from the
listed proxy, WebRTC from the NAT: ``high``). Then a Chromium driven like an
operator (``tests/e2e/drive_dashboard.py``) opens the dashboard: sent to the login
form, a wrong key refused, logged in, the overview, the sessions list, the IP filter
applied through the form (the rows change), a session's detail page, an unknown
dashboard page (the 404 page), the oldest session deleted through its page's button and
the confirmation page (the list without it, with a notice), logged out. A screenshot of
each page goes to ``test-artifacts/dashboard-*.png`` for review.

Run with ``pytest -m browser tests/e2e`` (root, chromium).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.drivers import _clean_env
from tests.browser.netns import CLIENT, NAT_CLIENT, PROXY_V4, SERVER_V4
from tests.e2e.harness import E2E, PROXY_FLAG, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PORTS = (8094, 3494)
BASE = f"http://{SERVER_V4}:{PORTS[0]}"
PAGES = ("login", "overview", "sessions", "sessions-filtered", "session-detail", "not-found",
         "delete-confirm", "deleted")  # fmt: skip


def _drive(sandbox: E2E, filter_ip: str) -> dict[str, Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    for name in PAGES:
        (ARTIFACTS / f"dashboard-{name}.png").unlink(missing_ok=True)
    key_file = sandbox.work / "dashboard-key.txt"
    key_file.write_text(sandbox.api_key)
    home = sandbox.work / "dashboard-driver"
    home.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "tests.e2e.drive_dashboard", "--base", BASE,
            "--key-file", str(key_file), "--out", str(ARTIFACTS),
            "--filter-ip", filter_ip]  # fmt: skip
    log = (home / "driver.log").open("wb")
    proc = sandbox.topo.run_in(CLIENT, argv, env=_clean_env(home), stderr=log)
    try:
        stdout, _ = proc.popen.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"dashboard driver timed out; see {home}/driver.log") from None
    finally:
        proc.stop()
        sandbox.topo.procs.remove(proc)
    if proc.popen.returncode != 0:
        tail = (home / "driver.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"dashboard driver failed ({proc.popen.returncode}): {tail}")
    out: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def operator(sandbox: E2E) -> tuple[dict[str, Visit], dict[str, Any]]:
    listed = sandbox.work / "dashboard-datacenter.txt"
    listed.write_text(f"# the sandbox proxy, listed as a datacenter address\n{PROXY_V4}/32\n")
    # Webhooks on, to a closed port of the server's own loopback: the high session's
    # event fails to go out and stays pending (the detail page shows it).
    hooks = ("--webhook-url", "http://127.0.0.1:9/icewatch-hook", "--webhook-secret",
             "e2e-webhook-secret-0123456789", "--webhook-retry-base", "3600")  # fmt: skip
    server = sandbox.start_extra_server(
        "dashboard", *PORTS, "--list", f"datacenter={listed}", *hooks
    )
    try:
        page = f"{BASE}/"
        visits = {
            "direct": sandbox.chromium(role=CLIENT, url=page),
            "nat": sandbox.chromium(role=NAT_CLIENT, url=page),
            "nat-proxy": sandbox.chromium([PROXY_FLAG], role=NAT_CLIENT, url=page),
        }
        return visits, _drive(sandbox, PROXY_V4)
    finally:
        server.stop()
        if server in sandbox.topo.procs:
            sandbox.topo.procs.remove(server)


def test_the_visits_are_what_the_dashboard_will_show(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    visits, _ = operator
    assert visits["direct"].result["verdict"]["level"] == "low"
    assert visits["nat"].result["verdict"]["level"] == "low"
    proxied = visits["nat-proxy"].result
    assert proxied["http"]["client_ip"] == PROXY_V4
    assert proxied["verdict"]["level"] == "high", proxied["verdict"]
    assert {"ip.webrtc_http_mismatch", "ip.datacenter"} <= visits["nat-proxy"].codes


def test_login_form_refuses_a_wrong_key_then_opens_the_overview(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    _, out = operator
    steps = out["steps"]
    assert steps["login"]["status"] == 200
    assert steps["login"]["url"] == f"{BASE}/dashboard/login?next=%2Fdashboard"
    assert steps["login"]["h1"] == "Log in to the dashboard"
    assert steps["wrong-key"]["status"] == 401
    assert "not the one configured" in steps["wrong-key"]["alert"]
    overview = steps["overview"]
    assert overview["status"] == 200
    assert overview["url"] == f"{BASE}/dashboard"
    assert overview["h1"] == "Overview"
    assert overview["svgs"] == 5
    assert overview["kpis"] == {"sessions": 3, "low": 2, "medium": 0, "high": 1, "pending": 0}
    assert overview["providers_chart_empty"] is False
    assert overview["data_tables"] == 5  # each chart's numbers as a table too
    assert overview["flagged"] == "33.3 %"  # one high of three
    # The style sheet applied (served by icewatch itself): the dark top bar.
    assert overview["stylesheets"] == 1
    assert overview["topbar_bg"] == "rgb(23, 32, 43)"


def test_sessions_list_and_the_filter_change_the_rows(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    visits, out = operator
    steps = out["steps"]
    ids = {name: v.result["id"] for name, v in visits.items()}
    listed = steps["sessions"]
    assert listed["status"] == 200
    assert listed["rows"] == [ids["nat-proxy"], ids["nat"], ids["direct"]]  # newest first
    assert listed["count"] == "3 sessions stored"
    assert listed["chips"] == []
    filtered = steps["sessions-filtered"]
    assert filtered["status"] == 200
    assert f"ip={PROXY_V4}" in filtered["url"]
    assert filtered["rows"] == [ids["nat-proxy"]]
    assert filtered["count"] == "1 session matches"
    assert [c.split("\u00d7")[0] for c in filtered["chips"]] == [f"IP: {PROXY_V4}"]


def test_session_detail_then_logout(operator: tuple[dict[str, Visit], dict[str, Any]]) -> None:
    visits, out = operator
    steps = out["steps"]
    detail = steps["session-detail"]
    proxied = visits["nat-proxy"].result["id"]
    assert detail["status"] == 200
    assert detail["url"] == f"{BASE}/dashboard/sessions/{proxied}"
    assert proxied in detail["h1"]
    assert detail["badge"] == "high"
    assert detail["svgs"] == 1  # the timeline
    # Its webhook could not be delivered (nothing listens there): pending, with the error.
    assert detail["webhook"] == "pending", detail["webhook_text"]
    text = detail["webhook_text"]
    assert text.startswith(("Pending: 1 failed attempt so far (last: ConnectError", "Queued")), text
    assert steps["after-logout"]["url"].startswith(f"{BASE}/dashboard/login")


def test_an_unknown_page_is_the_dashboards_404_page(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    _, out = operator
    missing = out["steps"]["not-found"]
    assert missing["status"] == 404
    assert missing["url"] == f"{BASE}/dashboard/no-such-page"
    assert missing["h1"] == "Not found"
    assert missing["topbar_bg"] == "rgb(23, 32, 43)"  # in the dashboard's layout


def test_a_session_deleted_through_its_button(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    visits, out = operator
    steps = out["steps"]
    gone = visits["direct"].result["id"]
    assert steps["delete-target"] == gone  # the oldest: last in the list
    confirm = steps["delete-confirm"]
    assert confirm["status"] == 200
    assert confirm["url"] == f"{BASE}/dashboard/sessions/{gone}/delete"
    assert confirm["h1"] == "Delete this session?"
    deleted = steps["deleted"]
    assert deleted["status"] == 200
    assert deleted["url"] == f"{BASE}/dashboard/sessions?deleted={gone}"
    assert deleted["notice"] == f"Session {gone} deleted."
    assert deleted["rows"] == [visits["nat-proxy"].result["id"], visits["nat"].result["id"]]
    assert deleted["count"] == "2 sessions stored"


def test_nothing_left_the_server_and_no_policy_violation(
    operator: tuple[dict[str, Visit], dict[str, Any]],
) -> None:
    _, out = operator
    assert out["requests"]
    assert all(url.startswith(f"{BASE}/") for url in out["requests"]), out["requests"]
    refused = [x for x in out["console"] if "Content Security Policy" in x or "Refused" in x]
    assert not refused, refused
    # The expected errors: the wrong key's 401 answer and the unknown page's 404.
    expected = ("status of 401", "status of 404")
    errors = [
        x for x in out["console"]
        if x.startswith("error") and not any(e in x for e in expected)
    ]  # fmt: skip
    assert not errors, errors


def test_a_screenshot_of_each_page(operator: tuple[dict[str, Visit], dict[str, Any]]) -> None:
    for name in PAGES:
        shot = ARTIFACTS / f"dashboard-{name}.png"
        assert shot.exists(), shot
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 20_000, (shot, len(data))  # a rendered page, not a blank one
