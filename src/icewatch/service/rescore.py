"""``icewatch rescore``: recompute every stored session's verdict and network fingerprint
with the rules and weights of now.

A verdict is a pure function of stored evidence (enrichments such as IP intelligence are
part of the evidence), so when the rules, their weights or the fingerprint recipe change,
history can be scored again. The store is read in batches, oldest first (each batch one
read transaction); a batch's changes are written in one transaction. Only sessions whose
verdict or fingerprint actually changes are written, so a rescore that changes nothing
writes nothing. It runs beside a live server: SQLite's WAL lets the server read while
this writes, and both writers wait for each other through the store's busy timeout.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from icewatch.core.fingerprint import network_fingerprint
from icewatch.core.ports import Rescored, SessionStore
from icewatch.core.scoring import evaluate, validate_weights
from icewatch.store import StoreError, mask_url, open_store
from icewatch.store.url import parse_sqlite_url, scheme_of

__all__ = [
    "DEFAULT_BATCH",
    "RescoreSummary",
    "mask_url",
    "open_existing_store",
    "rescore_store",
]

DEFAULT_BATCH = 500


@dataclass(slots=True)
class RescoreSummary:
    """What a rescore found (and, unless ``dry_run``, saved)."""

    dry_run: bool
    total: int = 0  # reported sessions in scope when it started
    sessions: int = 0  # sessions rescored
    changed_level: int = 0
    changed_score: int = 0
    changed_signals: int = 0  # the set of signal codes (or their weights) changed
    changed_fingerprint: int = 0  # fingerprint added or changed
    saved: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "sessions": self.sessions,
            "changed_level": self.changed_level,
            "changed_score": self.changed_score,
            "changed_signals": self.changed_signals,
            "changed_fingerprint": self.changed_fingerprint,
            "saved": self.saved,
            "transitions": [
                {"from": a, "to": b, "sessions": n}
                for (a, b), n in sorted(self.transitions.items())
            ],
            "unreadable": [{"id": i, "reason": r} for i, r in self.unreadable],
        }


async def open_existing_store(url: str) -> SessionStore:
    """Open a store that must already exist (a rescore never creates an empty database);
    raise :class:`StoreError`."""
    if scheme_of(url) == "sqlite":
        target = parse_sqlite_url(url)
        if target.in_memory:
            raise StoreError("an in-memory database has no stored sessions to rescore")
        if not os.path.exists(target.path):
            raise StoreError(f"{mask_url(url)}: no database at {os.path.abspath(target.path)}")
    return await open_store(url)


def _signature(signals: Any) -> list[tuple[str, int]]:
    return [(s.code, s.weight) for s in signals]


async def rescore_store(
    store: SessionStore,
    *,
    weights: Mapping[str, int] | None = None,
    since: float | None = None,
    dry_run: bool = False,
    batch: int = DEFAULT_BATCH,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RescoreSummary:
    """Rescore every reported session created at or after ``since``.

    ``on_start(total)`` is called once with the number of sessions in scope and
    ``on_batch(n)`` after each batch (for a progress bar). ``weights`` are checked first
    (``ValueError`` naming the code)."""
    validate_weights(weights)
    summary = RescoreSummary(dry_run=dry_run)
    summary.total = await store.count_sessions(since=since)
    if on_start is not None:
        on_start(summary.total)
    async for page in store.iter_sessions(batch=batch, since=since):
        summary.unreadable.extend(page.unreadable)
        changes: list[Rescored] = []
        for stored in page.sessions:
            correlation, verdict = evaluate(stored.evidence, weights)
            fingerprint = network_fingerprint(correlation)
            old = stored.verdict
            old_level = "none" if old is None else old.level.value
            summary.sessions += 1
            changed = False
            if old_level != verdict.level.value:
                summary.changed_level += 1
                summary.transitions[(old_level, verdict.level.value)] += 1
            if old is None or old.score != verdict.score:
                summary.changed_score += 1
            if old is None or _signature(old.signals) != _signature(verdict.signals):
                summary.changed_signals += 1
            if old is None or old.as_dict() != verdict.as_dict():
                changed = True
            new_id = None if fingerprint is None else fingerprint.id
            if new_id != stored.fingerprint:
                summary.changed_fingerprint += 1
                changed = True
            if changed:
                changes.append(Rescored(stored.evidence.session_id, verdict, fingerprint))
        if changes and not dry_run:
            summary.saved += await store.save_verdicts(changes)
        if on_batch is not None:
            on_batch(len(page.sessions) + len(page.unreadable))
    return summary
