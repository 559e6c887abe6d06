"""The compiled lookup: one address in, every source's answer out, with provenance."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Sequence

from icewatch.core.addr import parse_ip
from icewatch.core.intel.build import NONE, FamilyTables, Tables, build_tables
from icewatch.core.intel.model import (
    EMPTY_RESULT,
    KIND_CODES,
    IntelHit,
    IntelResult,
    Kind,
    Provenance,
    SourceInfo,
)
from icewatch.core.intel.source import ParsedSource

__all__ = ["IntelDB"]

_V4_MAPPED = 0xFFFF
_IPV4 = ipaddress.IPv4Address
_new = tuple.__new__


class IntelDB:
    """IP intelligence for IPv4 and IPv6, compiled from any number of sources.

    Build one with :meth:`from_sources` (in memory), :func:`load_compiled` (from the
    compiled file) or :meth:`empty` (no data: every lookup answers nothing). Immutable
    after construction; safe to share between threads.
    """

    __slots__ = (
        "_al",
        "_extras",
        "_kinds",
        "_rec_asn",
        "_rec_extra",
        "_rec_kind",
        "_rec_org",
        "_rec_provider",
        "_src_name",
        "_src_version",
        "_strings",
        "_t",
        "_v4",
        "_v6",
        "lookup_v4",
        "lookup_v6",
    )

    def __init__(self, tables: Tables) -> None:
        self._t = tables
        self._v4 = tables.v4
        self._v6 = tables.v6
        self._strings = tables.strings
        self._extras = tables.extras
        self._rec_kind = tables.rec_kind
        self._rec_provider = tables.rec_provider
        self._rec_asn = tables.rec_asn
        self._rec_org = tables.rec_org
        self._rec_extra = tables.rec_extra
        self._kinds: tuple[Kind | None, ...] = tuple(
            KIND_CODES[i] if i < len(KIND_CODES) else None for i in range(256)
        )
        self._src_name = tuple(s.name for s in tables.sources)
        self._src_version = tuple(s.version for s in tables.sources)
        al: dict[int, list[tuple[int, int]]] = {}
        for asn, src, rec in zip(tables.al_asn, tables.al_src, tables.al_rec, strict=True):
            al.setdefault(asn, []).append((src, rec))
        self._al = {asn: tuple(v) for asn, v in al.items()}
        #: Lookup of the IPv4 address with integer value ``n`` (0 ≤ n < 2³²).
        self.lookup_v4: Callable[[int], IntelResult] = self._make_lookup(tables.v4)
        #: Lookup of the IPv6 address with integer value ``n`` (no IPv4-mapped unwrapping).
        self.lookup_v6: Callable[[int], IntelResult] = self._make_lookup(tables.v6)

    # --- construction ------------------------------------------------------------------

    @classmethod
    def from_sources(cls, sources: Sequence[ParsedSource], *, built: str = "") -> IntelDB:
        """Compile parsed sources in memory (earlier sources first in results)."""
        return cls(build_tables(sources, built=built))

    @classmethod
    def empty(cls) -> IntelDB:
        """No data: every lookup returns an empty :class:`IntelResult`."""
        return cls(build_tables(()))

    # --- metadata ----------------------------------------------------------------------

    @property
    def sources(self) -> tuple[SourceInfo, ...]:
        return self._t.sources

    @property
    def built(self) -> str:
        """The build stamp the compiler was given (e.g. an ISO date), or ``""``."""
        return self._t.built

    @property
    def tables(self) -> Tables:
        return self._t

    def is_empty(self) -> bool:
        return not self._t.sources

    def has_asn_data(self) -> bool:
        return any(s.role == "asn_table" for s in self._t.sources)

    def __repr__(self) -> str:
        return (
            f"IntelDB(sources={len(self._t.sources)}, segments_v4={len(self._v4.starts)}, "
            f"segments_v6={len(self._v6.starts)})"
        )

    # --- lookup ------------------------------------------------------------------------

    def lookup(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> IntelResult:
        """Everything known about ``ip`` (IPv4-mapped IPv6 addresses are looked up as IPv4).

        A string is parsed with :func:`icewatch.core.addr.parse_ip` (which raises
        :class:`~icewatch.core.errors.AddressParseError` for a non-address).
        """
        cls = ip.__class__
        if cls is _IPV4:
            return self.lookup_v4(int(ip))
        if isinstance(ip, str):
            ip = parse_ip(ip).ip
            if ip.version == 4:
                return self.lookup_v4(int(ip))
        n = int(ip)
        if ip.version == 4:
            return self.lookup_v4(n)
        if n >> 32 == _V4_MAPPED:
            return self.lookup_v4(n & 0xFFFFFFFF)
        return self.lookup_v6(n)

    def _make_lookup(self, t: FamilyTables) -> Callable[[int], IntelResult]:
        """The lookup function of one family, with every table bound as a local.

        Hot path: one ``bisect`` (IPv4: between the bounds of the address's /16 in the
        first-level index), then, for the common answer — an ASN and nothing else — a
        handful of array reads and two tuples. Anything else goes to :meth:`_result`.
        """
        starts = t.starts
        index = t.index
        seg_asn = t.seg_asn
        seg_combo = t.seg_combo
        ent_rec = t.ent_rec
        ent_src = t.ent_src
        ent_first = t.ent_first
        ent_last = t.ent_last
        rec_asn = self._rec_asn
        rec_org = self._rec_org
        strings = self._strings
        names = self._src_name
        versions = self._src_version
        listed = self._al
        general = self._result
        family = t.version
        new = _new
        prov_type = Provenance
        result_type = IntelResult
        empty = EMPTY_RESULT
        none = NONE
        search = bisect_right

        # The two functions differ only in their first lines; the rest is inlined in both
        # (a call costs more than the array reads it would share).
        if family == 4:

            def lookup_v4(n: int) -> IntelResult:
                b = n >> 16
                i = search(starts, n, index[b], index[b + 1] + 1) - 1
                a = seg_asn[i]  # 1 + the ASN entry, or 0
                c = seg_combo[i]  # combination of classification entries, 0 = none
                if c or not a:
                    return general(t, a, c) if a or c else empty
                a -= 1
                rec = ent_rec[a]
                asn = rec_asn[rec]
                if asn in listed:
                    return general(t, a + 1, 0)
                src = ent_src[a]
                org = rec_org[rec]
                prov = (names[src], versions[src], ent_first[a], ent_last[a], family, None)
                asn_value = None if asn == none else asn
                return new(
                    result_type,
                    ((), asn_value, strings[org] if org else None, new(prov_type, prov)),
                )

            return lookup_v4

        def lookup_v6(n: int) -> IntelResult:
            i = search(starts, n) - 1
            a = seg_asn[i]  # 1 + the ASN entry, or 0
            c = seg_combo[i]  # combination of classification entries, 0 = none
            if c or not a:
                return general(t, a, c) if a or c else empty
            a -= 1
            rec = ent_rec[a]
            asn = rec_asn[rec]
            if asn in listed:
                return general(t, a + 1, 0)
            src = ent_src[a]
            org = rec_org[rec]
            prov = (names[src], versions[src], ent_first[a], ent_last[a], family, None)
            asn_value = None if asn == none else asn
            return new(
                result_type, ((), asn_value, strings[org] if org else None, new(prov_type, prov))
            )

        return lookup_v6

    def _hit(self, rec: int, prov: Provenance) -> IntelHit:
        kind = self._kinds[self._rec_kind[rec]]
        asn = self._rec_asn[rec]
        org = self._rec_org[rec]
        return _new(
            IntelHit,
            (
                kind if kind is not None else Kind.HOSTING,
                self._strings[self._rec_provider[rec]],
                None if asn == NONE else asn,
                self._strings[org] if org else None,
                prov,
                self._extras[self._rec_extra[rec]],
            ),
        )

    def _result(self, t: FamilyTables, a: int, c: int) -> IntelResult:
        """The general answer (``a``: 1 + ASN entry or 0; ``c``: combination id)."""
        names = self._src_name
        versions = self._src_version
        hits: tuple[IntelHit, ...] = ()
        asn: int | None = None
        org: str | None = None
        asn_prov: Provenance | None = None
        if c:
            found = []
            items = t.combo_items
            for k in range(t.combo_off[c], t.combo_off[c + 1]):
                e = items[k]
                src = t.ent_src[e]
                prov = _new(
                    Provenance,
                    (names[src], versions[src], t.ent_first[e], t.ent_last[e], t.version, None),
                )
                found.append(self._hit(t.ent_rec[e], prov))
            hits = tuple(found)
        if a:
            a -= 1
            rec = t.ent_rec[a]
            asn_value = self._rec_asn[rec]
            org_id = self._rec_org[rec]
            org = self._strings[org_id] if org_id else None
            src = t.ent_src[a]
            first = t.ent_first[a]
            last = t.ent_last[a]
            fam = t.version
            asn_prov = _new(Provenance, (names[src], versions[src], first, last, fam, None))
            if asn_value != NONE:
                asn = asn_value
                listed = self._al.get(asn_value)
                if listed:
                    hits += tuple(
                        self._hit(
                            lrec,
                            _new(Provenance, (names[ls], versions[ls], first, last, fam, asn)),
                        )
                        for ls, lrec in listed
                    )
        return _new(IntelResult, (hits, asn, org, asn_prov))
