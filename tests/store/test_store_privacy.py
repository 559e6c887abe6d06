"""store_addresses on a real SQLite file: after the report (or the background pass) the
raw addresses are gone from the file's bytes, filters work on what is stored."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from icewatch.core.ports import SessionFilter
from icewatch.core.privacy import AddressPolicy, pseudonym
from icewatch.store import open_store
from icewatch.store.sqlite import SqliteStore

from .samples import full_session, ip, new_session, verdict

T = TypeVar("T")

KEY = b"pseudonym-key-0123456789abcdef"
#: Every address the sample session carries that identifies someone.
RAW = ("198.51.100.7", "203.0.113.9", "192.168.1.20", "2001:db8::7", "2001:db8::9")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


def file_bytes(db: Path) -> bytes:
    data = db.read_bytes()
    for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")):
        if extra.exists():
            data += extra.read_bytes()
    return data


def raw_left(db: Path) -> list[str]:
    data = file_bytes(db)
    found = [a for a in RAW if a.encode() in data]
    # the index keys too: 16-byte forms of the addresses
    for a in RAW:
        addr = ipaddress.ip_address(a)
        key = (b"\0" * 10 + b"\xff\xff" + addr.packed) if addr.version == 4 else addr.packed
        if key in data:
            found.append(f"{a} (index key)")
    return found


async def opened(db: Path, policy: AddressPolicy) -> SqliteStore:
    store = await open_store(f"sqlite:///{db}")
    assert isinstance(store, SqliteStore)
    store.set_address_policy(policy)
    return store


def test_full_keeps_addresses(tmp_path: Path) -> None:
    db = tmp_path / "full.db"

    async def scenario() -> None:
        store = await opened(db, AddressPolicy("full"))
        await store.create_session(new_session("s1"), 9e9)
        await store.save_result(full_session("s1"), verdict())
        await store.close()

    run(scenario)
    assert raw_left(db)  # the control: the grep does find them when they are there


def test_truncated_report_leaves_no_raw_address(tmp_path: Path) -> None:
    db = tmp_path / "t.db"

    async def scenario() -> None:
        store = await opened(db, AddressPolicy("truncated"))
        await store.create_session(new_session("s1"), 9e9)
        await store.save_result(full_session("s1"), verdict())
        got = await store.get_session("s1")
        assert got is not None
        assert str(got.evidence.http.client_ip) == "198.51.100.0"
        assert got.verdict is not None
        assert got.verdict.level == verdict().level
        assert got.verdict.signals[0].evidence["observed"] == ["203.0.113.0"]
        page = await store.query_sessions(
            SessionFilter(network=ipaddress.ip_network("198.51.100.0/24")), limit=5
        )
        assert [s.evidence.session_id for s in page.sessions] == ["s1"]
        await store.close()

    run(scenario)
    assert raw_left(db) == []


def test_hashed_pseudonyms_are_filterable_and_unreported_sessions_wait_for_expiry(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.db"
    policy = AddressPolicy("hashed", KEY)

    async def scenario() -> None:
        store = await opened(db, policy)
        await store.create_session(new_session("s1", 1000.0), 9e9)
        await store.save_result(full_session("s1", 1000.0), verdict())
        # never reported: keeps its HTTP address until it expires at 2000
        await store.create_session(new_session("live", 1500.0), expires_at=2000.0)
        assert await store.rewrite_addresses(now=1999.0) == 0
        live = await store.get_session("live")
        assert live is not None
        assert str(live.evidence.http.client_ip) == "198.51.100.7"
        assert await store.rewrite_addresses(now=2000.0) == 1
        assert await store.rewrite_addresses(now=3000.0) == 0
        alias = pseudonym(ip("198.51.100.7"), KEY)
        page = await store.query_sessions(
            SessionFilter(network=ipaddress.ip_network(f"{alias}/32")), limit=5
        )
        assert [s.evidence.session_id for s in page.sessions] == ["live", "s1"]
        got = await store.get_session("s1")
        assert got is not None
        assert got.evidence.http.client_ip == alias
        await store.close()

    run(scenario)
    assert raw_left(db) == []


def test_the_pass_rewrites_sessions_reported_before_the_policy(tmp_path: Path) -> None:
    db = tmp_path / "later.db"

    async def scenario() -> None:
        store = await opened(db, AddressPolicy("full"))
        for i in range(450):  # over two REWRITE_BATCH batches
            sid = f"s{i:03d}"
            await store.create_session(new_session(sid, 1000.0 + i), 9e9)
            await store.save_result(full_session(sid, 1000.0 + i), verdict())
        store.set_address_policy(AddressPolicy("hashed", KEY))
        assert await store.rewrite_addresses(now=1.0) == 450
        assert await store.rewrite_addresses(now=1.0) == 0
        # a rescore afterwards keeps working on the stored (pseudonymous) evidence
        first = await store.get_session("s000")
        assert first is not None
        await store.close()

    run(scenario)
    assert raw_left(db) == []


def test_delete_and_purge_leave_nothing_in_the_file(tmp_path: Path) -> None:
    db = tmp_path / "del.db"

    async def scenario() -> None:
        store = await opened(db, AddressPolicy("full"))
        await store.create_session(new_session("s1"), 9e9)
        await store.save_result(full_session("s1"), verdict())
        await store.create_session(new_session("s2", 5000.0), 9e9)
        await store.save_result(full_session("s2", 5000.0), verdict())
        assert await store.delete_session("s1")
        assert await store.purge(SessionFilter(since=4000.0)) == 1
        await store.close()

    run(scenario)
    assert raw_left(db) == []


def test_a_filter_by_the_real_address_finds_its_stored_form(tmp_path: Path) -> None:
    async def scenario(policy: AddressPolicy, db: Path) -> None:
        store = await opened(db, policy)
        await store.create_session(new_session("s1", 1000.0), 9e9)
        await store.save_result(full_session("s1", 1000.0), verdict())
        # not reported and not expired: still stored as captured
        await store.create_session(new_session("live", 1500.0), expires_at=9e9)

        async def found(text: str) -> list[str]:
            where = SessionFilter(network=ipaddress.ip_network(text, strict=False))
            page = await store.query_sessions(where, limit=5)
            return [s.evidence.session_id for s in page.sessions]

        assert await found("198.51.100.7/32") == ["live", "s1"]
        assert await found("203.0.113.9/32") == ["s1"]
        assert await found("2001:db8::9/128") == ["s1"]
        if policy.mode == "truncated":
            assert await found("198.51.100.0/24") == ["live", "s1"]
            assert await found("198.51.100.99/32") == ["s1"]  # same /24: cannot tell
        else:
            assert await found("198.51.100.99/32") == []
        overview = await store.overview(
            SessionFilter(network=ipaddress.ip_network("203.0.113.9/32"))
        )
        assert overview.total == 1
        await store.close()

    asyncio.run(scenario(AddressPolicy("hashed", KEY), tmp_path / "h.db"))
    asyncio.run(scenario(AddressPolicy("truncated"), tmp_path / "t.db"))


def test_a_queued_webhook_event_is_stored_rewritten_too(tmp_path: Path) -> None:
    import json

    from icewatch.core.ports import OutboxEvent

    db = tmp_path / "hook.db"
    body = json.dumps(
        {"client_ip": "198.51.100.7", "signals": [{"evidence": {"observed": ["203.0.113.9"]}}]}
    ).encode()

    async def scenario() -> None:
        store = await opened(db, AddressPolicy("hashed", KEY))
        await store.create_session(new_session("s1"), 9e9)
        event = OutboxEvent(id="e1", session_id="s1", created_at=1000.0, body=body)
        assert await store.save_result(full_session("s1"), verdict(), outbox=event, outbox_max=10)
        (item,) = await store.outbox_claim(9e9, limit=5, lease=30)
        sent = json.loads(item.event.body)
        assert sent["client_ip"] == str(pseudonym(ip("198.51.100.7"), KEY))
        assert sent["signals"][0]["evidence"]["observed"] == [
            str(pseudonym(ip("203.0.113.9"), KEY))
        ]
        await store.close()

    run(scenario)
    assert raw_left(db) == []
