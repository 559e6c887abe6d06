"""Retention and store_addresses in a real ``icewatch serve``: old sessions go by the
background task; with hashed addresses the live session's verdict is computed on the
real addresses, and the database file no longer holds them."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from icewatch.core.ports import SessionFilter
from icewatch.service.duration import Duration, show_duration
from icewatch.service.settings import load_settings
from icewatch.store import open_store
from tests.service.proc import API_KEY, start
from tests.store.samples import full_session, new_session, verdict

pytestmark = pytest.mark.timeout(90)

KEY = {"X-API-Key": API_KEY}
CLIENT = "203.0.113.50"  # the HTTP client, through a trusted proxy on loopback
PUBLIC = "198.51.100.77"  # a srflx address the page reports
LOCAL = "192.168.77.20"  # a host address the page reports
RAW = (CLIENT, PUBLIC, LOCAL)


def _report() -> dict[str, Any]:
    return {
        "webrtc": "ok",
        "candidates": [
            {
                "candidate": f"candidate:1 1 udp 2122260223 {LOCAL} 53000 typ host generation 0",
                "ms": 10.0,
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            },
            {
                "candidate": f"candidate:2 1 udp 1686052607 {PUBLIC} 61000 typ srflx "
                f"raddr {LOCAL} rport 53000 generation 0",
                "ms": 20.0,
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            },
            {"candidate": "", "ms": 30.0},
        ],
        "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
        f"a=candidate:1 1 udp 2122260223 {LOCAL} 53000 typ host\r\n",
        "user_agent": "icewatch-test",
        "gathering_ms": 30.0,
        "ended_by": "complete",
        "deadline_ms": 1500,
    }


def _raw_in_file(db: Path) -> list[str]:
    data = db.read_bytes()
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    found = [a for a in RAW if a.encode() in data]
    for a in RAW:
        key = b"\0" * 10 + b"\xff\xff" + ipaddress.IPv4Address(a).packed
        if key in data:
            found.append(a + " (index)")
    return found


@pytest.mark.parametrize("mode", ["hashed", "truncated"])
def test_the_live_verdict_uses_real_addresses_and_the_file_keeps_none(
    tmp_path: Path, mode: str
) -> None:
    served = start(
        tmp_path,
        "--store-addresses",
        mode,
        "--trusted-proxies",
        "127.0.0.1/32",
        "--report-wait",
        "0",
    )
    try:
        forwarded = {"X-Forwarded-For": CLIENT}
        r = httpx.post(f"{served.base}/api/v1/sessions", headers=forwarded, timeout=5)
        assert r.status_code == 201, r.text
        created = r.json()
        r = httpx.post(
            f"{served.base}/api/v1/sessions/{created['id']}/report",
            json=_report(),
            headers={"Authorization": f"Bearer {created['token']}"} | forwarded,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        live = r.json()
        # Scored on the real addresses: the report's answer shows them.
        assert live["http"]["client_ip"] == CLIENT
        assert live["verdict"]["level"] in {"low", "medium", "high"}
        live_codes = {s["code"] for s in live["verdict"]["signals"]}
        assert PUBLIC in r.text

        stored = httpx.get(f"{served.base}/api/v1/sessions/{created['id']}", headers=KEY, timeout=5)
        assert stored.status_code == 200, stored.text
        doc = stored.json()
        for raw in RAW:
            assert raw not in stored.text, raw
        stored_ip = ipaddress.ip_address(doc["http"]["client_ip"])
        if mode == "hashed":
            assert stored_ip in ipaddress.ip_network("240.0.0.0/4")
        else:
            assert str(stored_ip) == "203.0.113.0"
        # The stored verdict is the live one (its evidence rewritten).
        assert {s["code"] for s in doc["verdict"]["signals"]} == live_codes
        assert doc["verdict"]["level"] == live["verdict"]["level"]
        # Filters work on what is stored.
        listing = httpx.get(
            f"{served.base}/api/v1/sessions",
            params={"ip": str(stored_ip)},
            headers=KEY,
            timeout=5,
        )
        assert [s["id"] for s in listing.json()["sessions"]] == [created["id"]]
    finally:
        code, _, err = served.stop()
    assert code == 0, err
    assert _raw_in_file(tmp_path / "icewatch.db") == []


def test_retention_deletes_old_sessions_in_the_background(tmp_path: Path) -> None:
    db = tmp_path / "icewatch.db"
    now = time.time()

    async def seed() -> None:
        store = await open_store(f"sqlite:///{db}")
        for i, age in enumerate((3 * 86400, 2 * 86400, 60)):
            sid = f"seed{i}"
            await store.create_session(new_session(sid, now - age), now + 3600)
            await store.save_result(full_session(sid, now - age), verdict())
        await store.close()

    asyncio.run(seed())
    served = start(tmp_path, "--retention", "1d", "--housekeeping-interval", "1")
    try:
        deadline = time.monotonic() + 20
        ids: list[str] = []
        while time.monotonic() < deadline:
            listing = httpx.get(f"{served.base}/api/v1/sessions", headers=KEY, timeout=5)
            ids = [s["id"] for s in listing.json()["sessions"]]
            if ids == ["seed2"]:
                break
            time.sleep(0.1)
        assert ids == ["seed2"]
        metrics = httpx.get(f"{served.base}/metrics", headers=KEY, timeout=5).text
        assert "icewatch_retention_purged_total 2.0" in metrics
        assert "icewatch_housekeeping_failures_total 0.0" in metrics
    finally:
        code, _, err = served.stop()
    assert code == 0, err

    async def left() -> int:
        store = await open_store(f"sqlite:///{db}")
        page = await store.query_sessions(SessionFilter(), limit=10)
        await store.close()
        return len(page.sessions)

    assert asyncio.run(left()) == 1


def test_retention_setting_values() -> None:
    assert load_settings(env={}).retention == 30 * 86400
    assert load_settings({"retention": "off"}, env={}).retention == 0
    assert load_settings({"retention": "12h"}, env={}).retention == 43200
    assert load_settings(env={"ICEWATCH_RETENTION": "2w"}).retention == 14 * 86400
    assert load_settings({"store_addresses": "hashed"}, env={}).store_addresses == "hashed"
    with pytest.raises(ValueError, match="retention"):
        load_settings({"retention": "soon"}, env={})
    with pytest.raises(ValueError, match=r"store[-_]addresses"):
        load_settings({"store_addresses": "scrambled"}, env={})
    d = Duration(maximum=86400.0 * 365)
    assert d.from_toml(90) == 90
    assert d.from_toml("30d") == 30 * 86400
    assert d.from_toml(0) == 0
    with pytest.raises(ValueError, match="longer"):
        d.from_text("400d")
    assert show_duration(30 * 86400) == "30d"
    assert show_duration(0) == "off"
    assert show_duration(5400) == "90m"


def test_a_failing_pass_is_counted_and_the_next_one_runs(tmp_path: Path) -> None:
    from icewatch.service.housekeeping import Housekeeping

    async def scenario() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'h.db'}")
        now = time.time()
        await store.create_session(new_session("old", now - 7200), now)
        task = Housekeeping(store, retention=3600, interval=0.05)
        assert await task.run_once() == (1, 0)
        off = Housekeeping(store, retention=0, interval=0.05)
        await store.create_session(new_session("old2", now - 7200), now)
        assert await off.run_once() == (0, 0)  # retention off: nothing deleted
        await store.close()
        task.start()  # every pass now fails: the store is closed
        await task.wait_first_pass()
        await asyncio.sleep(0.2)
        await task.close()
        assert task.counts.failures >= 2
        assert task.counts.last_error
        with pytest.raises(ValueError, match="retention"):
            Housekeeping(store, retention=-1, interval=1)

    asyncio.run(scenario())
