"""The compiled file: bytes out (:func:`compile_sources`), bytes in (:func:`load_compiled`).

Layout (all integers little-endian)::

    offset  size  field
    0       8     magic  b"ICWINTEL"
    8       2     format version (1)
    10      2     reserved, 0
    12      4     header length H
    16      8     body length B
    24      32    SHA-256 of the header JSON followed by the body
    56      H     header: UTF-8 JSON (format, build stamp, sources, counts, section table)
    56+H    B     body: sections, each starting on an 8-byte boundary

The file must be exactly ``56 + H + B`` bytes; anything else (truncated, padded, a bit
flipped, another format version) raises :class:`IntelParseError`, so the updater never
swaps in a bad file. Sections are plain arrays (``array`` type codes ``B``/``H``/``I``/``Q``;
IPv6 addresses as two ``Q`` halves) copied out of the buffer with ``frombytes``, which
takes a ``bytes``, a ``memoryview`` or an ``mmap`` slice alike; the first-level indexes
(64 Ki entries for IPv4, empty for IPv6) are zlib-compressed (type code ``zI``).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from array import array
from collections.abc import Sequence
from typing import Any

from icewatch.core.intel.build import INDEX_SIZE, NO_KIND, FamilyTables, Tables, build_tables
from icewatch.core.intel.db import IntelDB
from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import KIND_CODES, SourceInfo
from icewatch.core.intel.source import ParsedSource

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "compile_sources",
    "compile_tables",
    "load_compiled",
    "read_header",
]

MAGIC = b"ICWINTEL"
FORMAT_VERSION = 1
_FIXED = struct.Struct("<8sHHIQ32s")
FIXED_SIZE = _FIXED.size  # 56
#: Largest header accepted (the JSON with every source's metadata and the extras table).
MAX_HEADER = 64 * 1024 * 1024

_LITTLE = array("I", [1]).tobytes()[0] == 1
_MASK64 = (1 << 64) - 1


def _to_bytes(a: array[int]) -> bytes:
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _split128(values: Sequence[int]) -> tuple[array[int], array[int]]:
    hi = array("Q", [v >> 64 for v in values])
    lo = array("Q", [v & _MASK64 for v in values])
    return hi, lo


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.sections: dict[str, list[Any]] = {}

    def add(self, name: str, data: bytes, typecode: str, count: int) -> None:
        pad = -self.size % 8
        if pad:
            self.parts.append(b"\0" * pad)
            self.size += pad
        self.sections[name] = [self.size, len(data), typecode, count]
        self.parts.append(data)
        self.size += len(data)

    def array(self, name: str, a: array[int], *, compress: bool = False) -> None:
        if compress:
            self.add(name, zlib.compress(_to_bytes(a), 6), "z" + a.typecode, len(a))
        else:
            self.add(name, _to_bytes(a), a.typecode, len(a))


def _write_family(w: _Writer, f: FamilyTables) -> None:
    p = f"v{f.version}_"
    for name in ("starts", "ent_first", "ent_last"):
        values: Sequence[int] = getattr(f, name)
        if f.version == 4:
            w.array(p + name, array("I", values))
        else:
            hi, lo = _split128(values)
            w.array(p + name + "_hi", hi)
            w.array(p + name + "_lo", lo)
    for name in ("seg_asn", "seg_combo", "ent_src", "ent_rec", "combo_off", "combo_items"):
        w.array(p + name, getattr(f, name))
    # the first-level index (IPv4): 64 Ki entries, mostly runs; compressed
    w.array(p + "index", f.index, compress=True)


def compile_tables(tables: Tables) -> bytes:
    """Serialise already-built :class:`Tables` (see :func:`compile_sources`)."""
    w = _Writer()
    w.add("strings", "\n".join(tables.strings).encode("utf-8"), "s", len(tables.strings))
    for name in ("rec_kind", "rec_provider", "rec_asn", "rec_org", "rec_extra"):
        w.array(name, getattr(tables, name))
    _write_family(w, tables.v4)
    _write_family(w, tables.v6)
    for name in ("al_asn", "al_src", "al_rec"):
        w.array(name, getattr(tables, name))
    header = {
        "format": FORMAT_VERSION,
        "built": tables.built,
        "sources": [s.as_dict() for s in tables.sources],
        "counts": {
            "records": len(tables.rec_kind),
            "segments_v4": len(tables.v4.starts),
            "segments_v6": len(tables.v6.starts),
            "entries_v4": len(tables.v4.ent_rec),
            "entries_v6": len(tables.v6.ent_rec),
            "asn_list_entries": len(tables.al_asn),
        },
        "extras": [dict(e) for e in tables.extras],
        "sections": w.sections,
    }
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    body = b"".join(w.parts)
    digest = hashlib.sha256(head)
    digest.update(body)
    fixed = _FIXED.pack(MAGIC, FORMAT_VERSION, 0, len(head), len(body), digest.digest())
    return b"".join((fixed, head, body))


def compile_sources(sources: Sequence[ParsedSource], *, built: str = "") -> bytes:
    """Compile parsed sources (in priority order) into the file format.

    ``built`` is a stamp the caller chooses (the core has no clock), e.g. an ISO time.
    """
    return compile_tables(build_tables(sources, built=built))


# --- loading -----------------------------------------------------------------------------


def _check_fixed(data: bytes | memoryview) -> tuple[int, int, bytes]:
    if len(data) < FIXED_SIZE:
        raise IntelParseError(
            "header", f"{len(data)} bytes, shorter than the {FIXED_SIZE}-byte header", offset=0
        )
    magic, version, _reserved, hlen, blen, digest = _FIXED.unpack_from(data, 0)
    if magic != MAGIC:
        raise IntelParseError("magic", "not an icewatch intelligence file", offset=0)
    if version != FORMAT_VERSION:
        raise IntelParseError(
            "format", f"format version {version}, this build reads {FORMAT_VERSION}", offset=8
        )
    if hlen > MAX_HEADER:
        raise IntelParseError("header", f"header of {hlen} bytes, over {MAX_HEADER}", offset=12)
    if FIXED_SIZE + hlen + blen != len(data):
        raise IntelParseError(
            "length",
            f"file is {len(data)} bytes, header says {FIXED_SIZE + hlen + blen}"
            " (truncated or padded)",
            offset=16,
        )
    return hlen, blen, digest


def _header(data: memoryview, hlen: int) -> dict[str, Any]:
    try:
        header = json.loads(bytes(data[FIXED_SIZE : FIXED_SIZE + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise IntelParseError("header", "header is not UTF-8 JSON", offset=FIXED_SIZE) from None
    if not isinstance(header, dict):
        raise IntelParseError("header", "header is not an object", offset=FIXED_SIZE)
    return header


def read_header(data: bytes | memoryview) -> dict[str, Any]:
    """The header JSON (format, built, sources, counts), checked but without the checksum.

    For ``icewatch data status``, which needs the metadata, not the tables.
    """
    mv = memoryview(data).cast("B")
    hlen, _blen, _digest = _check_fixed(mv)
    return _header(mv, hlen)


class _Reader:
    def __init__(self, body: memoryview, sections: Any) -> None:
        if not isinstance(sections, dict):
            raise IntelParseError("sections", "missing section table")
        self.body = body
        self.sections: dict[str, Any] = sections

    def raw(self, name: str, typecode: str) -> tuple[memoryview, int]:
        sec = self.sections.get(name)
        if (
            not isinstance(sec, list)
            or len(sec) != 4
            or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in (sec[0], sec[1], sec[3])
            )
            or sec[2] != typecode
        ):
            raise IntelParseError(name, "section missing or malformed")
        off, size, _tc, count = sec
        if off < 0 or size < 0 or off + size > len(self.body):
            raise IntelParseError(name, "section outside the file")
        return self.body[off : off + size], count

    def array(self, name: str, typecode: str, *, compressed: bool = False) -> array[int]:
        raw, count = self.raw(name, ("z" if compressed else "") + typecode)
        a = array(typecode)
        if compressed:
            try:
                inflater = zlib.decompressobj()
                out = inflater.decompress(raw, count * a.itemsize + 1)
            except zlib.error:
                raise IntelParseError(name, "compressed section is corrupt") from None
            if not inflater.eof:
                raise IntelParseError(name, "compressed section is longer than its count")
            raw = memoryview(out)
        if len(raw) != count * a.itemsize:
            raise IntelParseError(name, f"section of {len(raw)} bytes for {count} items")
        a.frombytes(raw)
        if not _LITTLE:  # pragma: no cover - big-endian hosts
            a.byteswap()
        return a

    def ints(self, name: str, version: int) -> Sequence[int]:
        if version == 4:
            return self.array(name, "I")
        hi = self.array(name + "_hi", "Q")
        lo = self.array(name + "_lo", "Q")
        if len(hi) != len(lo):
            raise IntelParseError(name, "halves of different lengths")
        return [(h << 64) | low for h, low in zip(hi, lo, strict=True)]


def _bound(name: str, a: Sequence[int], limit: int) -> None:
    """Every index in ``a`` is below ``limit``."""
    if len(a) and (top := max(a)) >= limit:
        raise IntelParseError(name, f"index {top} out of range (< {limit})")


def _read_family(r: _Reader, version: int, records: int, sources: int) -> FamilyTables:
    p = f"v{version}_"
    f = FamilyTables(
        version=version,
        starts=r.ints(p + "starts", version),
        seg_asn=r.array(p + "seg_asn", "I"),
        seg_combo=r.array(p + "seg_combo", "I"),
        ent_first=r.ints(p + "ent_first", version),
        ent_last=r.ints(p + "ent_last", version),
        ent_src=r.array(p + "ent_src", "H"),
        ent_rec=r.array(p + "ent_rec", "I"),
        combo_off=r.array(p + "combo_off", "I"),
        combo_items=r.array(p + "combo_items", "I"),
        index=r.array(p + "index", "I", compressed=True),
    )
    nseg, nent, ncombo = len(f.starts), len(f.ent_rec), len(f.combo_off) - 1
    if nseg < 1 or f.starts[0] != 0:
        raise IntelParseError(p + "starts", "must start at address 0")
    if len(f.seg_asn) != nseg or len(f.seg_combo) != nseg:
        raise IntelParseError(p + "segments", "column lengths differ")
    if not (len(f.ent_first) == len(f.ent_last) == len(f.ent_src) == nent):
        raise IntelParseError(p + "entries", "column lengths differ")
    if ncombo < 1 or f.combo_off[0] != 0 or f.combo_off[-1] != len(f.combo_items):
        raise IntelParseError(p + "combo_off", "inconsistent combination offsets")
    if any(f.combo_off[i] > f.combo_off[i + 1] for i in range(ncombo)):
        raise IntelParseError(p + "combo_off", "offsets not increasing")
    if version == 4 and (
        len(f.index) != INDEX_SIZE + 1 or f.index[0] != 0 or f.index[-1] != nseg - 1
    ):
        raise IntelParseError(p + "index", "first-level index malformed")
    _bound(p + "index", f.index, nseg)
    _bound(p + "seg_asn", f.seg_asn, nent + 1)
    _bound(p + "seg_combo", f.seg_combo, ncombo)
    _bound(p + "combo_items", f.combo_items, nent)
    _bound(p + "ent_src", f.ent_src, sources)
    _bound(p + "ent_rec", f.ent_rec, records)
    return f


def load_compiled(data: bytes | memoryview) -> IntelDB:
    """Load a compiled file, verifying magic, version, length and checksum.

    ``data`` may be ``bytes`` or a ``memoryview`` (e.g. of an ``mmap``): arrays are copied
    out of it, so the buffer can be closed afterwards. Raises :class:`IntelParseError`
    for anything but an intact file of this format version.
    """
    mv = memoryview(data).cast("B")
    hlen, blen, digest = _check_fixed(mv)
    if hashlib.sha256(mv[FIXED_SIZE:]).digest() != digest:
        raise IntelParseError("checksum", "SHA-256 mismatch: the file is corrupt", offset=24)
    header = _header(mv, hlen)
    if header.get("format") != FORMAT_VERSION:
        raise IntelParseError("format", "header format version disagrees")
    raw_sources = header.get("sources")
    raw_extras = header.get("extras")
    if not isinstance(raw_sources, list) or not all(isinstance(s, dict) for s in raw_sources):
        raise IntelParseError("sources", "not a list of objects")
    if not isinstance(raw_extras, list) or not all(isinstance(e, dict) for e in raw_extras):
        raise IntelParseError("extras", "not a list of objects")
    sources = tuple(SourceInfo.from_dict(s) for s in raw_sources)
    extras = []
    for e in raw_extras:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in e.items()):
            raise IntelParseError("extras", "not strings")
        extras.append(tuple(e.items()))
    built = header.get("built", "")
    if not isinstance(built, str):
        raise IntelParseError("built", "not a string")
    r = _Reader(mv[FIXED_SIZE + hlen : FIXED_SIZE + hlen + blen], header.get("sections"))
    raw_strings, nstrings = r.raw("strings", "s")
    try:
        strings = bytes(raw_strings).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise IntelParseError("strings", "not UTF-8") from None
    if len(strings) != nstrings:
        raise IntelParseError("strings", f"{len(strings)} strings, header says {nstrings}")
    rec_kind = r.array("rec_kind", "B")
    nrec = len(rec_kind)
    rec_provider = r.array("rec_provider", "I")
    rec_asn = r.array("rec_asn", "I")
    rec_org = r.array("rec_org", "I")
    rec_extra = r.array("rec_extra", "I")
    if not (len(rec_provider) == len(rec_asn) == len(rec_org) == len(rec_extra) == nrec):
        raise IntelParseError("records", "column lengths differ")
    if any(k >= len(KIND_CODES) and k != NO_KIND for k in set(rec_kind)):
        raise IntelParseError("rec_kind", "unknown kind code")
    _bound("rec_provider", rec_provider, len(strings))
    _bound("rec_org", rec_org, len(strings))
    _bound("rec_extra", rec_extra, len(extras))
    v4 = _read_family(r, 4, nrec, len(sources))
    v6 = _read_family(r, 6, nrec, len(sources))
    al_asn = r.array("al_asn", "I")
    al_src = r.array("al_src", "H")
    al_rec = r.array("al_rec", "I")
    if not (len(al_asn) == len(al_src) == len(al_rec)):
        raise IntelParseError("asn_lists", "column lengths differ")
    _bound("al_src", al_src, len(sources))
    _bound("al_rec", al_rec, nrec)
    return IntelDB(
        Tables(
            sources=sources,
            strings=strings,
            extras=extras,
            rec_kind=rec_kind,
            rec_provider=rec_provider,
            rec_asn=rec_asn,
            rec_org=rec_org,
            rec_extra=rec_extra,
            v4=v4,
            v6=v6,
            al_asn=al_asn,
            al_src=al_src,
            al_rec=al_rec,
            built=built,
        )
    )
