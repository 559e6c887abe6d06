"""The outbox's operator methods on a real SQLite file: ``outbox_summary``,
``outbox_requeue`` and ``outbox_drop`` (the ``icewatch webhooks`` commands)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from icewatch.core.ports import OutboxEvent
from icewatch.store import open_store
from icewatch.store.sqlite import SqliteStore
from tests.store.samples import full_session, new_session, verdict

N = 1200  # more than one statement's chunk of ids


async def filled(tmp_path: Path) -> SqliteStore:
    store = await open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    assert isinstance(store, SqliteStore)
    for n in range(N):
        sid = f"s{n:05d}"
        await store.create_session(new_session(sid, 1000.0 + n), 9e12)
        event = OutboxEvent(f"evt_{n:05d}", sid, 1000.0 + n, b"{}")
        assert await store.save_result(
            full_session(sid, 1000.0 + n), verdict(), outbox=event, outbox_max=N
        )
    return store


def test_summary_requeue_and_drop(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await filled(tmp_path)
        try:
            empty_errors = await store.outbox_summary()
            assert (empty_errors.pending, empty_errors.dead) == (N, 0)
            assert empty_errors.oldest_pending == 1000.0
            assert empty_errors.oldest_dead is None
            assert empty_errors.last_errors == ()
            # The first 900 give up (dead), the last one failed once and stays pending.
            for n in range(900):
                await store.outbox_retry(
                    f"evt_{n:05d}", attempts=25, next_at=5e9, error=f"HTTP 5{n % 10:02d}", dead=True
                )
            await store.outbox_retry(
                f"evt_{N - 1:05d}",
                attempts=1,
                next_at=4e9,
                error="ConnectError: refused",
                dead=False,
            )
            summary = await store.outbox_summary(errors=3)
            assert (summary.pending, summary.dead) == (N - 900, 900)
            assert summary.oldest_pending == 1900.0
            assert summary.oldest_dead == 1000.0
            assert len(summary.last_errors) == 3
            assert summary.last_errors[0].updated_at is not None
            times = [item.updated_at or 0.0 for item in summary.last_errors]
            assert times == sorted(times, reverse=True)  # the most recent failure first

            # By id: only dead ones come back, in chunks past the first 500.
            wanted = [f"evt_{n:05d}" for n in range(1100)] + ["evt_nope"]
            requeued = await store.outbox_requeue(wanted, now=7000.0)
            assert sorted(requeued) == [f"evt_{n:05d}" for n in range(900)]
            again = await store.outbox_items(status="pending", limit=N)
            assert len(again) == N
            item = next(i for i in again if i.event.id == "evt_00042")
            assert (item.attempts, item.next_at) == (0, 7000.0)
            assert item.last_error == "HTTP 502"  # kept until the next attempt
            assert await store.outbox_requeue(["evt_00042"], now=7000.0) == []  # not dead

            # --all-dead: none left; a dead one made again is found.
            assert await store.outbox_requeue(None, now=7000.0) == []
            await store.outbox_retry(
                "evt_00007", attempts=3, next_at=0, error="HTTP 410", dead=True
            )
            assert await store.outbox_requeue(None, now=8000.0) == ["evt_00007"]

            # Drop: by id any status (chunked), or every dead one.
            dropped = await store.outbox_drop([f"evt_{n:05d}" for n in range(600)] + ["evt_x"])
            assert len(dropped) == 600
            for n in (600, 601):
                await store.outbox_retry(
                    f"evt_{n:05d}", attempts=2, next_at=0, error="e", dead=True
                )
            assert sorted(await store.outbox_drop(None)) == ["evt_00600", "evt_00601"]
            final = await store.outbox_summary()
            assert (final.pending, final.dead) == (N - 602, 0)
            # The sessions themselves are untouched.
            assert await store.get_session("s00000") is not None
        finally:
            await store.close()

    asyncio.run(scenario())
