"""From parsed sources to the lookup tables (the in-memory form of the compiled file).

Per IP family, everything is flattened into one sorted table of **disjoint segments**
covering the whole address space: ``starts[i]`` is the first address of segment ``i``
(which ends where segment ``i + 1`` starts). Each segment carries

* ``seg_asn[i]``: 1 + the entry of the IP → ASN table covering it (``0`` = none), and
* ``seg_combo[i]``: a set of classification entries, at most one per source: the most
  specific network of that source containing the segment (``0`` = none).

An *entry* is one network of one source (first, last, source, record); a lookup is one
``bisect`` plus a few array reads, and a hit's provenance is its entry.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import KIND_CODES, Role, SourceInfo
from icewatch.core.intel.source import V4_MAX, V6_MAX, ParsedSource, Record

__all__ = ["NONE", "FamilyTables", "Tables", "build_tables"]

#: "No entry" in ``seg_asn`` and "no value" in the record columns.
NONE = 0xFFFFFFFF
#: ``rec_kind`` of a record without a kind (ASN tables).
NO_KIND = 255
#: Most sources one compiled database may hold (source ids are 16-bit).
MAX_SOURCES = 4096
#: Buckets of the first-level index (top 16 bits of the address).
INDEX_BITS = 16
INDEX_SIZE = 1 << INDEX_BITS


def bucket_index(starts: Sequence[int], bits: int) -> array[int]:
    """The first-level index of a segment table (see :attr:`FamilyTables.index`)."""
    shift = bits - INDEX_BITS
    index = array("I", [bisect_right(starts, b << shift) - 1 for b in range(INDEX_SIZE)])
    index.append(len(starts) - 1)
    return index


def _ints4() -> array[int]:
    return array("I")


@dataclass(slots=True)
class FamilyTables:
    """The tables of one IP family (ints are Python ints for IPv6, ``array('I')`` for IPv4)."""

    version: int
    starts: Sequence[int]
    seg_asn: array[int] = field(default_factory=_ints4)
    seg_combo: array[int] = field(default_factory=_ints4)
    ent_first: Sequence[int] = field(default_factory=list)
    ent_last: Sequence[int] = field(default_factory=list)
    ent_src: array[int] = field(default_factory=lambda: array("H"))
    ent_rec: array[int] = field(default_factory=_ints4)
    combo_off: array[int] = field(default_factory=lambda: array("I", [0, 0]))
    combo_items: array[int] = field(default_factory=_ints4)
    #: IPv4 only: ``index[b]`` is the segment holding the first address whose top 16 bits
    #: are ``b`` (``b`` in 0..65535; ``index[65536]`` is the last segment). A lookup
    #: bisects only between ``index[b]`` and ``index[b + 1]``: a few steps instead of ~19.
    #: (Empty for IPv6, where routed space crowds into a few /16s and it does not pay.)
    index: array[int] = field(default_factory=_ints4)


@dataclass(slots=True)
class Tables:
    """Everything a database holds, independent of how it is stored."""

    sources: tuple[SourceInfo, ...]
    strings: list[str]
    extras: list[tuple[tuple[str, str], ...]]
    rec_kind: array[int]
    rec_provider: array[int]
    rec_asn: array[int]
    rec_org: array[int]
    rec_extra: array[int]
    v4: FamilyTables
    v6: FamilyTables
    al_asn: array[int]
    al_src: array[int]
    al_rec: array[int]
    built: str = ""


# --- per-source flattening -------------------------------------------------------------


def most_specific(rows: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Disjoint ``(first, last, row index)`` pieces where each point gets its smallest row.

    ``rows`` are ``(first, last, anything)``; ties (the same network twice) go to the
    earlier row. Rows are taken in order of ``first``; runs that overlap nothing (most of
    an ASN table) are copied through, and only clusters of overlapping rows go through
    the sweep, so the cost stays linear for clean data.
    """
    n = len(rows)
    if n == 0:
        return []
    order: Sequence[int] = range(n)
    if any(rows[i][0] > rows[i + 1][0] for i in range(n - 1)):
        order = sorted(range(n), key=lambda i: (rows[i][0], i))
    out: list[tuple[int, int, int]] = []
    cluster: list[int] = []
    cluster_end = -1
    for i in order:
        first, last = rows[i][0], rows[i][1]
        if first > cluster_end:
            if len(cluster) == 1:
                j = cluster[0]
                out.append((rows[j][0], rows[j][1], j))
            elif cluster:
                out.extend(_sweep(rows, cluster))
            cluster = [i]
            cluster_end = last
        else:
            cluster.append(i)
            cluster_end = max(cluster_end, last)
    if len(cluster) == 1:
        j = cluster[0]
        out.append((rows[j][0], rows[j][1], j))
    else:
        out.extend(_sweep(rows, cluster))
    return out


def _sweep(rows: Sequence[tuple[int, int, int]], members: list[int]) -> list[tuple[int, int, int]]:
    """Most-specific pieces of one cluster of overlapping rows (``members`` by ``first``)."""
    points = sorted({rows[i][0] for i in members} | {rows[i][1] + 1 for i in members})
    heap: list[tuple[int, int, int]] = []  # (size, row index, last)
    out: list[tuple[int, int, int]] = []
    j = 0
    n = len(members)
    for k, p in enumerate(points):
        while j < n and rows[members[j]][0] == p:
            i = members[j]
            heapq.heappush(heap, (rows[i][1] - rows[i][0], i, rows[i][1]))
            j += 1
        while heap and heap[0][2] < p:
            heapq.heappop(heap)
        if not heap or k + 1 == len(points):
            continue
        end = points[k + 1] - 1
        winner = heap[0][1]
        if out and out[-1][2] == winner and out[-1][1] + 1 == p:
            out[-1] = (out[-1][0], end, winner)
        else:
            out.append((p, end, winner))
    return out


# --- the build ------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.strings: list[str] = [""]
        self._string_ids: dict[str, int] = {"": 0}
        self.extras: list[tuple[tuple[str, str], ...]] = [()]
        self._extra_ids: dict[tuple[tuple[str, str], ...], int] = {(): 0}
        self.records: list[Record] = []
        self._record_ids: dict[Record, int] = {}
        self.rec_kind = array("B")
        self.rec_provider = array("I")
        self.rec_asn = array("I")
        self.rec_org = array("I")
        self.rec_extra = array("I")

    def string(self, s: str | None) -> int:
        if s is None:
            return 0
        s = s.replace("\n", " ").replace("\r", " ")
        idx = self._string_ids.get(s)
        if idx is None:
            idx = self._string_ids[s] = len(self.strings)
            self.strings.append(s)
        return idx

    def record(self, rec: Record) -> int:
        idx = self._record_ids.get(rec)
        if idx is not None:
            return idx
        idx = self._record_ids[rec] = len(self.records)
        self.records.append(rec)
        self.rec_kind.append(NO_KIND if rec.kind is None else KIND_CODES.index(rec.kind))
        self.rec_provider.append(self.string(rec.provider))
        self.rec_asn.append(NONE if not rec.asn else rec.asn)
        self.rec_org.append(self.string(rec.org) if rec.org else 0)
        eid = self._extra_ids.get(rec.extra)
        if eid is None:
            eid = self._extra_ids[rec.extra] = len(self.extras)
            self.extras.append(rec.extra)
        self.rec_extra.append(eid)
        return idx


def _coverage(segments: Iterable[tuple[int, int, int]], top: int) -> tuple[list[int], list[int]]:
    """Disjoint sorted ``(first, last, value)`` → full coverage ``(starts, values)``."""
    starts = [0]
    values = [NONE]
    for first, last, v in segments:
        if first == starts[-1]:
            values[-1] = v
        else:
            starts.append(first)
            values.append(v)
        if last < top:
            starts.append(last + 1)
            values.append(NONE)
    # coalesce neighbours with equal values
    cs: list[int] = []
    cv: list[int] = []
    for s, v in zip(starts, values, strict=True):
        if cv and cv[-1] == v:
            continue
        if cs and cs[-1] == s:
            cv[-1] = v
            continue
        cs.append(s)
        cv.append(v)
    return cs, cv


def _merge(
    a: tuple[list[int], list[int]], b: tuple[list[int], list[int]]
) -> tuple[list[int], list[int], list[int]]:
    """Two full coverages → one, each segment with both values."""
    sa, va = a
    sb, vb = b
    out_s: list[int] = []
    out_a: list[int] = []
    out_b: list[int] = []
    i = j = 0
    na, nb = len(sa), len(sb)
    cur_a = cur_b = NONE
    while i < na or j < nb:
        p = min(sa[i] if i < na else V6_MAX + 1, sb[j] if j < nb else V6_MAX + 1)
        if i < na and sa[i] == p:
            cur_a = va[i]
            i += 1
        if j < nb and sb[j] == p:
            cur_b = vb[j]
            j += 1
        if out_s and out_a[-1] == cur_a and out_b[-1] == cur_b:
            continue
        out_s.append(p)
        out_a.append(cur_a)
        out_b.append(cur_b)
    return out_s, out_a, out_b


def _family(
    version: int,
    sources: Sequence[ParsedSource],
    source_ids: Sequence[int],
    record_maps: Sequence[list[int]],
    b: _Builder,
) -> FamilyTables:
    top = V4_MAX if version == 4 else V6_MAX
    ent_first: list[int] = []
    ent_last: list[int] = []
    ent_src = array("H")
    ent_rec = array("I")

    def entry(src: int, first: int, last: int, rec: int) -> int:
        ent_first.append(first)
        ent_last.append(last)
        ent_src.append(src)
        ent_rec.append(rec)
        return len(ent_first) - 1

    # IP → ASN: each table most-specific within itself, earlier tables win over later ones.
    asn_cov: tuple[list[int], list[int]] = ([0], [NONE])
    class_events: list[tuple[int, int, int, int]] = []  # (point, 0=end/1=start, src, entry)
    for ps, sid, rmap in zip(sources, source_ids, record_maps, strict=True):
        firsts = ps.v4_first if version == 4 else ps.v6_first
        lasts = ps.v4_last if version == 4 else ps.v6_last
        recs = ps.v4_record if version == 4 else ps.v6_record
        if not len(firsts):
            continue
        rows = list(zip(firsts, lasts, recs, strict=True))
        pieces = most_specific(rows)
        ids: dict[int, int] = {}
        segs: list[tuple[int, int, int]] = []
        for first, last, row in pieces:
            eid = ids.get(row)
            if eid is None:
                r = rows[row]
                eid = ids[row] = entry(sid, r[0], r[1], rmap[r[2]])
            segs.append((first, last, eid))
        if ps.info.role is Role.ASN_TABLE:
            cov = _coverage(segs, top)
            merged_s, old, new = _merge(asn_cov, cov)
            asn_cov = (merged_s, [o if o != NONE else n for o, n in zip(old, new, strict=True)])
        else:
            for first, last, eid in segs:
                class_events.append((first, 1, sid, eid))
                if last < top:
                    class_events.append((last + 1, 0, sid, eid))

    # Classification: sweep every source's disjoint pieces into combos of entries.
    class_events.sort()
    combos: dict[tuple[int, ...], int] = {(): 0}
    combo_off = array("I", [0, 0])
    combo_items = array("I")
    cs: list[int] = [0]
    cv: list[int] = [0]
    active: dict[int, int] = {}
    k = 0
    while k < len(class_events):
        p = class_events[k][0]
        while k < len(class_events) and class_events[k][0] == p:
            _, start, sid, eid = class_events[k]
            if start:
                active[sid] = eid
            elif active.get(sid) == eid:
                del active[sid]
            k += 1
        key = tuple(active[s] for s in sorted(active))
        cid = combos.get(key)
        if cid is None:
            cid = combos[key] = len(combos)
            combo_items.extend(key)
            combo_off.append(len(combo_items))
        if cv[-1] == cid:
            continue
        if cs[-1] == p:
            cv[-1] = cid
        else:
            cs.append(p)
            cv.append(cid)

    starts, asn_entries, seg_combo = _merge(asn_cov, (cs, cv))
    seg_asn = [0 if a == NONE else a + 1 for a in asn_entries]
    seg_combo = [0 if c == NONE else c for c in seg_combo]
    if version == 4:
        starts4 = array("I", starts)
        return FamilyTables(
            version=4,
            starts=starts4,
            index=bucket_index(starts4, 32),
            seg_asn=array("I", seg_asn),
            seg_combo=array("I", seg_combo),
            ent_first=array("I", ent_first),
            ent_last=array("I", ent_last),
            ent_src=ent_src,
            ent_rec=ent_rec,
            combo_off=combo_off,
            combo_items=combo_items,
        )
    return FamilyTables(
        version=6,
        starts=starts,
        seg_asn=array("I", seg_asn),
        seg_combo=array("I", seg_combo),
        ent_first=ent_first,
        ent_last=ent_last,
        ent_src=ent_src,
        ent_rec=ent_rec,
        combo_off=combo_off,
        combo_items=combo_items,
    )


def build_tables(sources: Sequence[ParsedSource], *, built: str = "") -> Tables:
    """Combine parsed sources (in priority order) into lookup tables."""
    if len(sources) > MAX_SOURCES:
        raise IntelParseError("sources", f"{len(sources)} sources, over {MAX_SOURCES}")
    names = [s.info.name for s in sources]
    if len(set(names)) != len(names):
        raise IntelParseError("sources", "two sources with the same name")
    b = _Builder()
    record_maps = [[b.record(r) for r in s.records] for s in sources]
    ranged = [i for i, s in enumerate(sources) if s.info.role is not Role.ASN_LIST]
    v4 = _family(4, [sources[i] for i in ranged], ranged, [record_maps[i] for i in ranged], b)
    v6 = _family(6, [sources[i] for i in ranged], ranged, [record_maps[i] for i in ranged], b)
    al_asn = array("I")
    al_src = array("H")
    al_rec = array("I")
    pairs = sorted(
        (asn, sid, record_maps[sid][rec])
        for sid, s in enumerate(sources)
        if s.info.role is Role.ASN_LIST
        for asn, rec in s.asns
    )
    for asn, sid, rec in pairs:
        al_asn.append(asn)
        al_src.append(sid)
        al_rec.append(rec)
    return Tables(
        sources=tuple(s.info for s in sources),
        strings=b.strings,
        extras=b.extras,
        rec_kind=b.rec_kind,
        rec_provider=b.rec_provider,
        rec_asn=b.rec_asn,
        rec_org=b.rec_org,
        rec_extra=b.rec_extra,
        v4=v4,
        v6=v6,
        al_asn=al_asn,
        al_src=al_src,
        al_rec=al_rec,
        built=built,
    )
