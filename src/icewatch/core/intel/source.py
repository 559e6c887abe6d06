"""A parsed source, format-independent: networks (or ASNs) each pointing at a record.

Every parser in :mod:`icewatch.core.intel.parsers` produces a :class:`ParsedSource` through
a :class:`SourceBuilder`; adapters that read formats the core does not parse (an ASN
``.mmdb`` through the ``maxminddb`` reader, say) use the builder directly.

Networks are stored as inclusive integer ranges in columns (``array('I')`` for IPv4,
lists of ``int`` for IPv6), not as ``ipaddress`` objects: the real ASN table has ~515k
ranges and objects would cost ~100 MB and seconds.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import Kind, Role, SourceInfo
from icewatch.core.intel.netrange import (
    V4_MAX,
    V6_MAX,
    format_range,
    format_v4_range,
    format_v6_range,
    parse_address,
    parse_network,
    parse_range,
)

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MAX_TEXT_FIELD",
    "V4_MAX",
    "V6_MAX",
    "ParsedSource",
    "Record",
    "Row",
    "SourceBuilder",
    "format_range",
    "format_v4_range",
    "format_v6_range",
    "parse_address",
    "parse_network",
    "parse_range",
]

#: Rows accepted from one source unless the caller says otherwise (the combined iptoasn
#: table is ~700k rows, Apple's Private Relay list ~290k).
DEFAULT_MAX_ROWS = 4_000_000
#: Longest provider / organisation / detail text kept; longer values are cut.
MAX_TEXT_FIELD = 200


@dataclass(frozen=True, slots=True)
class Record:
    """What a source says about one network (shared by all its networks that say the same).

    For an ASN table, ``kind`` is ``None`` and ``asn``/``org`` are the point; for a
    classification source ``kind``/``provider`` are, and ``extra`` carries details.
    """

    kind: Kind | None
    provider: str
    asn: int | None = None
    org: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


class Row(NamedTuple):
    """One network of a source: IP version, inclusive integer range, record index."""

    version: int
    first: int
    last: int
    record: int

    @property
    def prefix(self) -> str:
        return format_range(self.version, self.first, self.last)


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """A source ready to compile: its :class:`SourceInfo`, records and networks."""

    info: SourceInfo
    records: tuple[Record, ...]
    v4_first: array[int] = field(default_factory=lambda: array("I"))
    v4_last: array[int] = field(default_factory=lambda: array("I"))
    v4_record: array[int] = field(default_factory=lambda: array("I"))
    v6_first: list[int] = field(default_factory=list)
    v6_last: list[int] = field(default_factory=list)
    v6_record: array[int] = field(default_factory=lambda: array("I"))
    #: ASN lists: ``(asn, record index)`` pairs.
    asns: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    def __len__(self) -> int:
        return len(self.v4_first) + len(self.v6_first) + len(self.asns)

    def rows(self) -> Iterator[Row]:
        """Every network, IPv4 then IPv6, in input order."""
        for a, b, r in zip(self.v4_first, self.v4_last, self.v4_record, strict=True):
            yield Row(4, a, b, r)
        for a, b, r in zip(self.v6_first, self.v6_last, self.v6_record, strict=True):
            yield Row(6, a, b, r)


def clean_text(value: str) -> str:
    """One line of printable text, at most :data:`MAX_TEXT_FIELD` characters."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else " " for c in value)
    value = value.strip()
    return value[:MAX_TEXT_FIELD]


class SourceBuilder:
    """Accumulates one source's networks and interned records, with a row cap."""

    def __init__(
        self,
        *,
        source: str,
        role: Role,
        kind: Kind | None,
        provider: str,
        licence: str = "",
        url: str = "",
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        if not source or not source.isprintable() or len(source) > MAX_TEXT_FIELD:
            raise IntelParseError("source", "source name must be 1..200 printable characters")
        self.source = source
        self.role = role
        self.kind = kind
        self.provider = clean_text(provider)
        self.licence = licence
        self.url = url
        self.max_rows = max_rows
        self._records: list[Record] = []
        self._index: dict[Record, int] = {}
        self._v4_first = array("I")
        self._v4_last = array("I")
        self._v4_record = array("I")
        self._v6_first: list[int] = []
        self._v6_last: list[int] = []
        self._v6_record = array("I")
        self._asns: dict[int, int] = {}
        self._rows = 0

    def record(
        self,
        kind: Kind | None = None,
        provider: str | None = None,
        *,
        asn: int | None = None,
        org: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> int:
        """The index of this record, interned (call once per distinct value, or per row)."""
        rec = Record(
            self.kind if kind is None else kind,
            self.provider if provider is None else clean_text(provider),
            asn,
            None if org is None else clean_text(org),
            tuple((k, clean_text(v)) for k, v in extra),
        )
        idx = self._index.get(rec)
        if idx is None:
            idx = self._index[rec] = len(self._records)
            self._records.append(rec)
        return idx

    def _count(self, line: int | None) -> None:
        self._rows += 1
        if self._rows > self.max_rows:
            raise IntelParseError("rows", f"more than {self.max_rows} rows", line=line)

    def add(
        self, version: int, first: int, last: int, record: int, *, line: int | None = None
    ) -> None:
        """Add the inclusive range ``first..last`` of IP ``version``."""
        self._count(line)
        top = V4_MAX if version == 4 else V6_MAX
        if version not in (4, 6) or not 0 <= first <= last <= top:
            raise IntelParseError("range", f"bad IPv{version} range {first}..{last}", line=line)
        if version == 4:
            self._v4_first.append(first)
            self._v4_last.append(last)
            self._v4_record.append(record)
        else:
            self._v6_first.append(first)
            self._v6_last.append(last)
            self._v6_record.append(record)

    def add_asn(self, asn: int, record: int, *, line: int | None = None) -> None:
        """Add an ASN (ASN lists); a repeated ASN keeps its first record."""
        self._count(line)
        if not 0 < asn < 0xFFFFFFFF:
            raise IntelParseError("asn", f"ASN {asn} out of range", line=line)
        self._asns.setdefault(asn, record)

    def build(self, *, version: str, metadata: tuple[tuple[str, str], ...] = ()) -> ParsedSource:
        """The parsed source; every record of a range source or ASN list needs a kind."""
        if self.role is not Role.ASN_TABLE and any(r.kind is None for r in self._records):
            raise IntelParseError("kind", f"source {self.source!r} has networks without a kind")
        info = SourceInfo(
            name=self.source,
            role=self.role,
            kind=self.kind,
            provider=self.provider,
            version=clean_text(version),
            records=self._rows,
            licence=self.licence,
            url=self.url,
            metadata=tuple((k, clean_text(v)) for k, v in metadata),
        )
        return ParsedSource(
            info=info,
            records=tuple(self._records),
            v4_first=self._v4_first,
            v4_last=self._v4_last,
            v4_record=self._v4_record,
            v6_first=self._v6_first,
            v6_last=self._v6_last,
            v6_record=self._v6_record,
            asns=tuple(self._asns.items()),
        )
