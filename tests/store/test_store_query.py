"""Filtered listings (schema 3): every SessionFilter condition, keyset pages, the index
rows kept by create/save/rescore and back-filled when an older database opens."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from icewatch.core.client import ClientClaim
from icewatch.core.errors import ParseError
from icewatch.core.evidence import IntelEvidence, IntelLookup, SessionEvidence
from icewatch.core.intel.model import IntelHit, IntelResult, Kind, Provenance
from icewatch.core.ports import Rescored, SessionFilter, SessionStore
from icewatch.core.verdict import Level, Signal, Verdict
from icewatch.store import open_store
from icewatch.store.schema import MIGRATIONS, migrate
from icewatch.store.sqlite import MAX_PAGE

from .samples import full_session, ip, new_session, verdict

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _intel(client: str, provider: str | None, asn: int | None, org: str | None) -> IntelEvidence:
    hits: tuple[IntelHit, ...] = ()
    if provider is not None:
        hits = (
            IntelHit(Kind.VPN, provider, None, None, Provenance.of("test", "1", "198.51.100.0/24")),
        )
    result = IntelResult(hits=hits, asn=asn, org=org)
    return IntelEvidence(data="test", lookups=(IntelLookup(ip(client), ("http",), result),))


def session(
    sid: str,
    at: float,
    *,
    browser: str = "Chrome",
    provider: str | None = None,
    asn: int | None = None,
    org: str | None = None,
) -> SessionEvidence:
    ev = full_session(sid, at)
    return dataclasses.replace(
        ev,
        client=ClientClaim(browser=browser),
        intel=_intel("198.51.100.7", provider, asn, org),
    )


def low_verdict() -> Verdict:
    return Verdict(score=0, level=Level.LOW, signals=(Signal("net.local_ip_exposed", 0, "x"),))


async def populated(db: Path) -> SessionStore:
    store = await open_store(f"sqlite:///{db}")
    # s0..s5 reported (alternating high/low), p0 pending
    for i in range(6):
        sid = f"s{i}"
        await store.create_session(new_session(sid, 1000.0 + i), expires_at=9e9)
        ev = session(
            sid,
            1000.0 + i,
            browser="Firefox" if i % 3 == 0 else "Chrome",
            provider="ExampleVPN" if i < 2 else None,
            asn=64500 + (i % 2),
            org="Example Org",
        )
        await store.save_result(ev, verdict() if i % 2 == 0 else low_verdict())
    await store.create_session(new_session("p0", 2000.0), expires_at=9e9)
    return store


async def ids(store: SessionStore, where: SessionFilter, limit: int = 100) -> list[str]:
    page = await store.query_sessions(where, limit=limit)
    return [s.evidence.session_id for s in page.sessions]


def test_each_condition_filters(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await populated(tmp_path / "q.db")
        every = ["p0", "s5", "s4", "s3", "s2", "s1", "s0"]
        assert await ids(store, SessionFilter()) == every
        assert await ids(store, SessionFilter(levels=frozenset({"high"}))) == ["s4", "s2", "s0"]
        assert await ids(store, SessionFilter(levels=frozenset({"pending"}))) == ["p0"]
        assert await ids(store, SessionFilter(levels=frozenset({"pending", "low"}))) == [
            "p0",
            "s5",
            "s3",
            "s1",
        ]
        assert await ids(store, SessionFilter(signal="ip.webrtc_http_mismatch")) == [
            "s4",
            "s2",
            "s0",
        ]
        assert await ids(store, SessionFilter(signal="net.local_ip_exposed")) == every[1:]
        assert await ids(store, SessionFilter(signal="no.such")) == []
        # addresses: HTTP client (all), observed 203.0.113.9 (reported ones), reported
        # host 192.168.1.20, IPv6 report request 2001:db8::7 and TURN source 2001:db8::9
        assert await ids(store, SessionFilter(network=net("198.51.100.0/24"))) == every
        assert await ids(store, SessionFilter(network=net("203.0.113.9/32"))) == every[1:]
        assert await ids(store, SessionFilter(network=net("192.168.0.0/16"))) == every[1:]
        assert await ids(store, SessionFilter(network=net("2001:db8::/32"))) == every[1:]
        assert await ids(store, SessionFilter(network=net("2001:db8::9/128"))) == every[1:]
        assert await ids(store, SessionFilter(network=net("10.0.0.0/8"))) == []
        # the IPv4-mapped block is every IPv4 address
        assert await ids(store, SessionFilter(network=net("::ffff:0:0/96"))) == every
        assert await ids(store, SessionFilter(provider="examplevpn")) == ["s1", "s0"]
        assert await ids(store, SessionFilter(provider="AS64501")) == ["s5", "s3", "s1"]
        assert await ids(store, SessionFilter(provider="AS64501 Example Org")) == [
            "s5",
            "s3",
            "s1",
        ]
        assert await ids(store, SessionFilter(provider="EXAMPLE ORG")) == every[1:]
        assert await ids(store, SessionFilter(ua_family="firefox")) == ["s3", "s0"]
        assert await ids(store, SessionFilter(since=1002.0, until=1005.0)) == ["s4", "s3", "s2"]
        both = SessionFilter(
            levels=frozenset({"high"}), ua_family="Firefox", network=net("198.51.100.7/32")
        )
        assert await ids(store, both) == ["s0"]
        await store.close()

    run(scenario)


def test_pages_follow_the_cursor_under_a_filter(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await populated(tmp_path / "q.db")
        where = SessionFilter(levels=frozenset({"low", "high"}))
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = await store.query_sessions(where, limit=4, cursor=cursor)
            seen += [s.evidence.session_id for s in page.sessions]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["s5", "s4", "s3", "s2", "s1", "s0"]
        with pytest.raises(ParseError):
            await store.query_sessions(where, limit=MAX_PAGE + 1)
        with pytest.raises(ParseError):
            await store.query_sessions(where, limit=5, cursor="garbage!")
        with pytest.raises(ParseError) as info:
            await store.query_sessions(SessionFilter(levels=frozenset({"huge"})), limit=5)
        assert info.value.field == "level"
        with pytest.raises(ParseError):
            await store.query_sessions(SessionFilter(since=float("nan")), limit=5)
        await store.close()

    run(scenario)


def test_rescore_updates_the_signal_rows(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await populated(tmp_path / "q.db")
        changed = await store.save_verdicts(
            [Rescored("s1", verdict()), Rescored("s0", low_verdict()), Rescored("p0", verdict())]
        )
        assert changed == 2  # p0 is not reported
        assert await ids(store, SessionFilter(signal="ip.webrtc_http_mismatch")) == [
            "s4",
            "s2",
            "s1",
        ]
        assert await ids(store, SessionFilter(levels=frozenset({"high"}))) == ["s4", "s2", "s1"]
        await store.close()

    run(scenario)


def test_an_older_database_is_indexed_when_it_opens(tmp_path: Path) -> None:
    db = tmp_path / "old.db"

    async def write_v2() -> None:
        # A v3 store writes the sessions; then the index is wiped as a v2 database
        # would have none, and ``indexed`` reset to 0.
        store = await populated(db)
        await store.close()

    run(write_v2)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM session_addresses")
        conn.execute("DELETE FROM session_signals")
        conn.execute("DELETE FROM session_providers")
        conn.execute("UPDATE sessions SET indexed = 0, ua_family = NULL, provider = NULL")
        # And one unreadable row must not stop the back-fill.
        conn.execute(
            "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, evidence,"
            " updated_at) VALUES ('bad', 1.0, 2.0, '1.2.3.4', '1.2.3.4', '{broken', 1.0)"
        )

    async def reopen() -> None:
        store = await open_store(f"sqlite:///{db}")
        assert await ids(store, SessionFilter(network=net("203.0.113.0/24"))) == [
            "s5",
            "s4",
            "s3",
            "s2",
            "s1",
            "s0",
        ]
        assert await ids(store, SessionFilter(signal="ip.webrtc_http_mismatch")) == [
            "s4",
            "s2",
            "s0",
        ]
        assert await ids(store, SessionFilter(ua_family="Firefox")) == ["s3", "s0"]
        assert await ids(store, SessionFilter(provider="ExampleVPN")) == ["s1", "s0"]
        await store.close()

    run(reopen)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions WHERE indexed = 0").fetchone() == (0,)


def test_a_version_2_database_migrates_and_back_fills(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, "db", [m for m in MIGRATIONS if m.version <= 2])
        conn.execute(
            "INSERT INTO sessions (id, created_at, expires_at, client_ip, peer_ip, evidence,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                "old",
                5.0,
                9.0,
                "198.51.100.7",
                "127.0.0.1",
                '{"session_id":"old","created_at":5.0,"http":{"peer_ip":"127.0.0.1",'
                '"client_ip":"198.51.100.7","at":5.0}}',
                5.0,
            ),
        )
    finally:
        conn.close()

    async def scenario() -> None:
        store = await open_store(f"sqlite:///{db}")
        assert await ids(store, SessionFilter(network=net("198.51.100.0/24"))) == ["old"]
        assert await ids(store, SessionFilter(network=net("127.0.0.1/32"))) == ["old"]
        assert await ids(store, SessionFilter(levels=frozenset({"pending"}))) == ["old"]
        await store.close()

    run(scenario)


def test_pages_driven_by_a_signal_or_provider_index(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'd.db'}")
        for i in range(23):
            sid = f"d{i:02d}"
            at = 1000.0 + (i // 2)  # pairs share a created_at: the id breaks the tie
            await store.create_session(new_session(sid, at), 9e9)
            ev = session(sid, at, provider="ExampleVPN" if i % 3 else None)
            await store.save_result(ev, verdict() if i % 2 else low_verdict())
        for where in (
            SessionFilter(signal="ip.webrtc_http_mismatch"),
            SessionFilter(provider="examplevpn"),
            SessionFilter(provider="ExampleVPN", signal="ip.webrtc_http_mismatch"),
            SessionFilter(signal="net.local_ip_exposed", since=1003.0, until=1009.0),
            SessionFilter(signal="net.local_ip_exposed", levels=frozenset({"low"})),
        ):
            every = await ids(store, where, limit=100)
            assert every, where
            seen: list[str] = []
            cursor = None
            while True:
                page = await store.query_sessions(where, limit=3, cursor=cursor)
                seen += [s.evidence.session_id for s in page.sessions]
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert seen == every, where
            everything = await ids(store, SessionFilter(), limit=100)
            expected = [sid for sid in everything if sid in set(every)]
            assert every == expected  # newest first, id descending on ties
        assert await ids(store, SessionFilter(provider="nosuch")) == []
        await store.close()

    run(scenario)
