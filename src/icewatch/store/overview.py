"""The dashboard's aggregates (:class:`~icewatch.core.ports.Overview`) in SQL.

Every figure is one ``GROUP BY`` over the sessions the filter matches (the condition
from :func:`icewatch.store.query.where_sql`), all in one read transaction so they agree:

* ``by_level`` and ``total`` — ``pending`` for sessions without a verdict;
* ``timeline`` — ``buckets`` equal slices of ``[since, until)`` when the filter bounds
  time, else of the data's own range (first to last ``created_at``); every bucket has
  every level key (0 when none), oldest first;
* ``top_signals`` — the :data:`TOP` signal codes with weight > 0 carried by most
  sessions (informational signals are left out: they are in every verdict);
* ``top_providers`` — the :data:`TOP` ``sessions.provider`` labels (the HTTP client
  address's provider or ``AS<n> <org>``) among ``medium``/``high`` sessions;
* ``time_to_verdict`` — ``reported_at - created_at`` of reported sessions in the
  buckets of :data:`TTV_BOUNDS` (upper bounds, seconds; a value on a bound falls in it);
* ``surprisal`` — ``-log2(share)`` of each fingerprinted session's network fingerprint
  among all fingerprinted sessions (the ``fingerprint_stats`` population), in 1-bit bins
  ``[b, b+1)`` from 0 to the highest one seen.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from icewatch.core.ports import Overview, SessionFilter

__all__ = ["LEVEL_KEYS", "MAX_BUCKETS", "TOP", "TTV_BOUNDS", "compute_overview"]

#: Most timeline buckets one call may ask for.
MAX_BUCKETS = 500
#: How many entries the top lists keep.
TOP = 10
#: The time-to-verdict histogram's upper bounds (seconds).
TTV_BOUNDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, math.inf)
#: The keys of every timeline bucket and of ``by_level``.
LEVEL_KEYS = ("low", "medium", "high", "pending")


def _timeline(
    conn: sqlite3.Connection,
    where: SessionFilter,
    condition: str,
    params: list[Any],
    buckets: int,
) -> tuple[tuple[float, dict[str, int]], ...]:
    lo = where.since
    hi = where.until
    if lo is None or hi is None:
        first, last = conn.execute(
            f"SELECT MIN(s.created_at), MAX(s.created_at) FROM sessions AS s WHERE {condition}",  # noqa: S608
            params,
        ).fetchone()
        if first is None:
            return ()
        lo = float(first) if lo is None else lo
        hi = float(last) if hi is None else hi
    width = (hi - lo) / buckets if hi > lo else 1.0
    if not math.isfinite(width) or width <= 0:
        width = 1.0
    slots: list[dict[str, int]] = [dict.fromkeys(LEVEL_KEYS, 0) for _ in range(buckets)]
    sql = (
        f"SELECT MIN(?, MAX(0, CAST((s.created_at - ?) / ? AS INTEGER))) AS b,"  # noqa: S608
        f" COALESCE(s.level, 'pending'), COUNT(*) FROM sessions AS s WHERE {condition}"
        " GROUP BY b, 2"
    )
    for b, level, n in conn.execute(sql, (buckets - 1, lo, width, *params)):
        if level in slots[int(b)]:
            slots[int(b)][level] += int(n)
    return tuple((lo + i * width, slot) for i, slot in enumerate(slots))


def compute_overview(
    conn: sqlite3.Connection,
    where: SessionFilter,
    condition: str,
    params: list[Any],
    buckets: int,
) -> Overview:
    """All the aggregates, on one connection inside one read transaction."""
    matched = f"SELECT s.id FROM sessions AS s WHERE {condition}"  # noqa: S608
    by_level = dict.fromkeys(LEVEL_KEYS, 0)
    for level, n in conn.execute(
        f"SELECT COALESCE(s.level, 'pending'), COUNT(*) FROM sessions AS s WHERE {condition}"  # noqa: S608
        " GROUP BY 1",
        params,
    ):
        by_level[str(level)] = int(n)
    total = sum(by_level.values())
    timeline = _timeline(conn, where, condition, params, buckets)
    top_signals = tuple(
        (str(code), int(n))
        for code, n in conn.execute(
            "SELECT code, COUNT(*) AS n FROM session_signals"  # noqa: S608
            f" WHERE weight > 0 AND session_id IN ({matched})"
            " GROUP BY code ORDER BY n DESC, code LIMIT ?",
            (*params, TOP),
        )
    )
    top_providers = tuple(
        (str(label), int(n))
        for label, n in conn.execute(
            "SELECT s.provider, COUNT(*) AS n FROM sessions AS s"  # noqa: S608
            f" WHERE {condition} AND s.level IN ('medium', 'high') AND s.provider IS NOT NULL"
            " GROUP BY s.provider ORDER BY n DESC, s.provider LIMIT ?",
            (*params, TOP),
        )
    )
    bucket = " ".join(f"WHEN d <= {high!r} THEN {i}" for i, high in enumerate(TTV_BOUNDS[:-1]))
    counts = dict.fromkeys(range(len(TTV_BOUNDS)), 0)
    for b, n in conn.execute(
        f"SELECT CASE {bucket} ELSE {len(TTV_BOUNDS) - 1} END AS b, COUNT(*)"  # noqa: S608
        " FROM (SELECT s.reported_at - s.created_at AS d"
        f" FROM sessions AS s WHERE {condition} AND s.reported_at IS NOT NULL) GROUP BY b",
        params,
    ):
        counts[int(b)] = int(n)
    time_to_verdict = tuple((bound, counts[i]) for i, bound in enumerate(TTV_BOUNDS))
    population = conn.execute(
        "SELECT sessions FROM fingerprint_stats WHERE name = '' AND value = ''"
    ).fetchone()
    surprisal: tuple[tuple[float, int], ...] = ()
    everyone = 0 if population is None else int(population[0])
    if everyone > 0:
        bins: dict[int, int] = {}
        for count, n in conn.execute(
            "SELECT fs.sessions, COUNT(*) FROM sessions AS s JOIN fingerprint_stats AS fs"  # noqa: S608
            " ON fs.name = 'fingerprint' AND fs.value = s.fingerprint"
            f" WHERE {condition} AND s.fingerprint IS NOT NULL GROUP BY fs.sessions",
            params,
        ):
            share = min(1.0, max(1, int(count)) / everyone)
            bits = math.floor(-math.log2(share) + 1e-9)
            bins[bits] = bins.get(bits, 0) + int(n)
        if bins:
            surprisal = tuple((float(b), bins.get(b, 0)) for b in range(max(bins) + 1))
    return Overview(
        total=total,
        by_level=by_level,
        timeline=timeline,
        top_signals=top_signals,
        top_providers=top_providers,
        time_to_verdict=time_to_verdict,
        surprisal=surprisal,
    )
