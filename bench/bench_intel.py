"""IP-intelligence lookup speed: icewatch's compiled lookup against the ``maxminddb`` C reader.

Both answer from the **same data**, the real IP → ASN table in ``../shared/data/asn/``
(ip-location-db, 411,961 IPv4 + 103,197 IPv6 ranges), in the same run:

* icewatch: ``parse_asn_csv`` → ``compile_sources`` → file → ``load_compiled`` (from an
  ``mmap``, as the service does), then ``IntelDB.lookup(ipaddress object)`` — the full
  answer: ASN, organisation and provenance (source, version, matched prefix);
* ``maxminddb`` 's C extension (``MODE_MMAP_EXT``) over an ``.mmdb`` of the same ranges,
  written by the small MaxMind DB writer in this script (format 2.0, 32-bit records,
  IPv4 under ``::/96``, GeoLite2-ASN field names) — a few seconds where ``mmdb-writer``
  takes about a minute for this size — then ``Reader.get(ipaddress object)``, which
  returns a dict ``{autonomous_system_number, autonomous_system_organization}``.

Addresses: 1,000,000 IPv4 drawn uniformly from the whole space; 1,000,000 IPv4 and
1,000,000 IPv6 drawn inside the table's ranges (a random range, then a random address
in it). The same addresses for both readers; rounds alternate between them and the best
of ``--repeat`` rounds is kept. Rates are per second of the thread's CPU time
(``time.thread_time``), so that other processes on a shared machine weigh less. Before
timing, 100,000 answers of each set are compared: both readers must give the same ASN for
every address.

Load time and RSS are measured in fresh subprocesses (RSS = ``VmRSS`` growth over the
interpreter with the modules imported, after loading and after the lookups).

Usage: ``.venv/bin/python bench/bench_intel.py [--repeat 5] [--count 1000000]``
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import mmap
import platform
import random
import subprocess
import sys
import tempfile
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb

from icewatch.core.intel import (
    IntelDB,
    ParsedSource,
    compile_sources,
    load_compiled,
    parse_asn_csv,
)

ROOT = Path(__file__).resolve().parent.parent
ASN_DIR = ROOT.parent / "shared" / "data" / "asn"
ASN_VERSION = "2026-06-17"

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


# --- a minimal MaxMind DB writer ------------------------------------------------------------


def _mmdb_size(type_code: int, size: int) -> bytes:
    """Control byte(s) for a field of ``type_code`` (1..7) and ``size``."""
    if size < 29:
        return bytes([(type_code << 5) | size])
    if size < 29 + 256:
        return bytes([(type_code << 5) | 29, size - 29])
    if size < 285 + 65536:
        return bytes([(type_code << 5) | 30]) + (size - 285).to_bytes(2, "big")
    return bytes([(type_code << 5) | 31]) + (size - 65821).to_bytes(3, "big")


def _mmdb_ext(ext_type: int, size: int, payload: bytes) -> bytes:
    """An extended-type field (type 8 and up): control byte with type 0, then type - 7."""
    ctrl = _mmdb_size(0, size)
    return ctrl[:1] + bytes([ext_type - 7]) + ctrl[1:] + payload


class U32(int):
    """An integer that must be encoded as uint32 (libmaxminddb checks metadata types)."""


class U64(int):
    """An integer that must be encoded as uint64."""


def mmdb_encode(value: Any) -> bytes:
    """Encode a value in the MaxMind DB data format (the subset this bench needs)."""
    if isinstance(value, U64):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return _mmdb_ext(9, len(raw), raw)
    if isinstance(value, U32):
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return _mmdb_size(6, len(raw)) + raw
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _mmdb_size(2, len(raw)) + raw
    if isinstance(value, bool):
        return _mmdb_ext(14, int(value), b"")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative integers are not needed here")
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        if value < 1 << 16:
            return _mmdb_size(5, len(raw)) + raw
        if value < 1 << 32:
            return _mmdb_size(6, len(raw)) + raw
        return _mmdb_ext(9, len(raw), raw)  # uint64
    if isinstance(value, dict):
        body = b"".join(mmdb_encode(k) + mmdb_encode(v) for k, v in value.items())
        return _mmdb_size(7, len(value)) + body
    if isinstance(value, list):
        return _mmdb_ext(11, len(value), b"".join(mmdb_encode(v) for v in value))
    raise TypeError(type(value))


def range_to_cidrs(first: int, last: int, bits: int) -> list[tuple[int, int]]:
    """Split an inclusive range into ``(network, prefix length)`` CIDR blocks."""
    out = []
    while first <= last:
        size = first & -first if first else 1 << bits
        while size > last - first + 1:
            size >>= 1
        out.append((first, bits - size.bit_length() + 1))
        first += size
    return out


def write_mmdb(
    cidrs: Sequence[tuple[int, int, int]],
    data: Sequence[bytes],
    *,
    description: str,
    build_epoch: int,
) -> bytes:
    """An IPv6 MaxMind DB (IPv4 under ``::/96``) from sorted, disjoint 128-bit CIDRs.

    ``cidrs`` are ``(network, prefix length, data index)``; ``data`` the encoded records.
    """
    offsets = []
    pos = 0
    for d in data:
        offsets.append(pos)
        pos += len(d)
    starts = [c[0] for c in cidrs]
    left: list[int] = []
    right: list[int] = []
    empty = -1
    data_base = 1 << 40  # marks "data offset" until the node count is known

    def build(first: int, depth: int, lo: int, hi: int) -> int:
        if lo == hi:
            return empty
        _net, plen, idx = cidrs[lo]
        if hi - lo == 1 and plen == depth:
            return data_base + offsets[idx]
        node = len(left)
        left.append(0)
        right.append(0)
        mid = first | (1 << (127 - depth))
        k = bisect_right(starts, mid - 1, lo, hi)
        left[node] = build(first, depth + 1, lo, k)
        right[node] = build(mid, depth + 1, k, hi)
        return node

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    root = build(0, 0, 0, len(cidrs))
    if root != 0:
        raise ValueError("the tree needs at least one node")
    n = len(left)

    def fix(v: int) -> int:
        if v == empty:
            return n
        if v >= data_base:
            return v - data_base + n + 16
        return v

    tree = array("I", bytes(8 * n))
    tree[0::2] = array("I", [fix(v) for v in left])
    tree[1::2] = array("I", [fix(v) for v in right])
    if sys.byteorder == "little":
        tree.byteswap()  # records are big-endian
    metadata = {
        "node_count": U32(n),
        "record_size": 32,
        "ip_version": 6,
        "database_type": "GeoLite2-ASN",
        "languages": ["en"],
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": U64(build_epoch),  # libmaxminddb refuses 0
        "description": {"en": description},
    }
    return b"".join(
        (
            tree.tobytes(),
            bytes(16),
            *data,
            b"\xab\xcd\xefMaxMind.com",
            mmdb_encode(metadata),
        )
    )


def mmdb_from_db(db: IntelDB) -> bytes:
    """The IP → ASN answers of ``db`` as an ``.mmdb`` with GeoLite2-ASN records.

    Written from the compiled segments, so both readers answer from exactly the same
    disjoint ranges (the real table has one pair of overlapping rows; the compiler gives
    the overlap to the smaller range, and the ``.mmdb`` then says the same).
    """
    t = db.tables
    records: dict[tuple[int, str], int] = {}
    data: list[bytes] = []
    cidrs: list[tuple[int, int, int]] = []
    for fam, bits, shift in ((t.v4, 32, 96), (t.v6, 128, 0)):
        top = 1 << bits
        n = len(fam.starts)
        for i in range(n):
            a = fam.seg_asn[i]
            if not a:
                continue
            rec = fam.ent_rec[a - 1]
            asn = t.rec_asn[rec]
            org = t.strings[t.rec_org[rec]]
            key = (asn, org)
            idx = records.get(key)
            if idx is None:
                idx = records[key] = len(data)
                value: dict[str, Any] = {"autonomous_system_number": U32(asn)}
                if org:
                    value["autonomous_system_organization"] = org
                data.append(mmdb_encode(value))
            last = (fam.starts[i + 1] if i + 1 < n else top) - 1
            for net, plen in range_to_cidrs(fam.starts[i], last, bits):
                cidrs.append((net, plen + shift, idx))
    cidrs.sort()
    epoch = int(datetime.fromisoformat(ASN_VERSION).replace(tzinfo=UTC).timestamp())
    return write_mmdb(cidrs, data, description="ip-location-db ASN (bench copy)", build_epoch=epoch)


# --- inputs -----------------------------------------------------------------------------


def load_sources() -> tuple[list[ParsedSource], float]:
    t0 = time.perf_counter()
    sources = []
    for name in ("asn-ipv4.csv.gz", "asn-ipv6.csv.gz"):
        text = gzip.decompress((ASN_DIR / name).read_bytes()).decode("utf-8")
        sources.append(
            parse_asn_csv(text, source=name.removesuffix(".csv.gz"), version=ASN_VERSION)
        )
    return sources, time.perf_counter() - t0


def addresses(sources: Sequence[ParsedSource], count: int, seed: int) -> dict[str, list[IPAddr]]:
    rnd = random.Random(seed)
    v4 = sources[0]
    v6 = sources[1]
    out: dict[str, list[IPAddr]] = {
        "IPv4, uniform over the space": [
            ipaddress.IPv4Address(rnd.getrandbits(32)) for _ in range(count)
        ]
    }
    inside4: list[IPAddr] = []
    for _ in range(count):
        i = rnd.randrange(len(v4.v4_first))
        inside4.append(ipaddress.IPv4Address(rnd.randint(v4.v4_first[i], v4.v4_last[i])))
    out["IPv4, inside the table's ranges"] = inside4
    inside6: list[IPAddr] = []
    for _ in range(count):
        i = rnd.randrange(len(v6.v6_first))
        inside6.append(ipaddress.IPv6Address(rnd.randint(v6.v6_first[i], v6.v6_last[i])))
    out["IPv6, inside the table's ranges"] = inside6
    return out


# --- measurements ------------------------------------------------------------------------


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker(kind: str, path: str, count: int, seed: int) -> None:
    """Load one database in a fresh process; print load time and RSS growth as JSON."""
    rnd = random.Random(seed)
    ips = [ipaddress.IPv4Address(rnd.getrandbits(32)) for _ in range(count)]
    base = rss_kib()
    t0 = time.perf_counter()
    if kind == "icewatch":
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            db = load_compiled(memoryview(mm))
        load = time.perf_counter() - t0
        after_load = rss_kib()
        for ip in ips:
            db.lookup(ip)
    else:
        reader = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
        load = time.perf_counter() - t0
        after_load = rss_kib()
        for ip in ips:
            reader.get(ip)
    print(json.dumps({"load": load, "rss_load": after_load - base, "rss_after": rss_kib() - base}))


def rate(func: Callable[[IPAddr], object], ips: Sequence[IPAddr]) -> float:
    """Lookups per second of this thread's CPU time (other processes' load excluded)."""
    t0 = time.thread_time()
    for ip in ips:
        func(ip)
    return len(ips) / (time.thread_time() - t0)


def rate_int(func: Callable[[int], object], ns: Sequence[int]) -> float:
    t0 = time.thread_time()
    for n in ns:
        func(n)
    return len(ns) / (time.thread_time() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], args.count, args.seed)
        return 0
    if not ASN_DIR.is_dir():
        print(f"no ASN data at {ASN_DIR}: this benchmark needs the shared real data")
        return 2

    sources, parse_s = load_sources()
    t0 = time.perf_counter()
    compiled = compile_sources(sources, built="bench")
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    mmdb = mmdb_from_db(load_compiled(compiled))
    mmdb_s = time.perf_counter() - t0
    ranges = sum(len(s) for s in sources)

    with tempfile.TemporaryDirectory() as tmp:
        icw_path = Path(tmp) / "intel.icwdb"
        mmdb_path = Path(tmp) / "asn.mmdb"
        icw_path.write_bytes(compiled)
        mmdb_path.write_bytes(mmdb)
        procs = {}
        for kind, path in (("icewatch", icw_path), ("maxminddb", mmdb_path)):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", kind, str(path), "--count", "200000"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            procs[kind] = json.loads(out)

        with open(icw_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            db = load_compiled(memoryview(mm))
        reader = maxminddb.open_database(str(mmdb_path), maxminddb.MODE_MMAP_EXT)

        sets = addresses(sources, args.count, args.seed)
        # Same answers first: both readers must agree on every ASN.
        checked = 0
        for ips in sets.values():
            for ip in ips[:100_000]:
                ours = db.lookup(ip).asn
                rec = reader.get(ip)
                theirs = rec.get("autonomous_system_number") if isinstance(rec, dict) else None
                if ours != theirs:
                    raise SystemExit(f"disagreement on {ip}: icewatch {ours}, maxminddb {theirs}")
                checked += 1

        results: dict[str, dict[str, float]] = {}
        for label, ips in sets.items():
            ns = [int(ip) for ip in ips]
            lookup_int = db.lookup_v4 if ips[0].version == 4 else db.lookup_v6
            best = {"icewatch": 0.0, "icewatch, int": 0.0, "mmdb": 0.0}
            for _ in range(args.repeat):
                best["mmdb"] = max(best["mmdb"], rate(reader.get, ips))
                best["icewatch"] = max(best["icewatch"], rate(db.lookup, ips))
                best["icewatch, int"] = max(best["icewatch, int"], rate_int(lookup_int, ns))
            results[label] = best
        reader.close()

    print(
        f"icewatch IP-intelligence lookup vs maxminddb {maxminddb.__version__} C reader "
        f"(MODE_MMAP_EXT) — Python {platform.python_version()}, {platform.machine()}, "
        f"one thread, best of {args.repeat} (per second of thread CPU time)"
    )
    print(
        f"data: ip-location-db ASN {ASN_VERSION}, {ranges:,} ranges "
        f"({len(sources[0]):,} IPv4 + {len(sources[1]):,} IPv6); "
        f"{checked:,} answers compared, all equal"
    )
    print()
    print(
        "| addresses (1 lookup each) | icewatch `lookup(ip)` | icewatch `lookup_v4/v6(int)` | "
        "maxminddb `get(ip)` | icewatch / maxminddb |"
    )
    print("|---|---:|---:|---:|---:|")
    for label, best in results.items():
        print(
            f"| {label} ({args.count:,}) | {best['icewatch']:,.0f}/s | "
            f"{best['icewatch, int']:,.0f}/s | "
            f"{best['mmdb']:,.0f}/s | {best['icewatch'] / best['mmdb']:.2f}x |"
        )
    print()
    ice, mm = procs["icewatch"], procs["maxminddb"]
    print("| | icewatch compiled file | maxminddb .mmdb |")
    print("|---|---:|---:|")
    print(
        f"| build from the parsed ranges | {compile_s:.2f} s (`compile_sources`) | "
        f"{mmdb_s:.2f} s (this script's writer) |"
    )
    print(f"| file size | {len(compiled) / 2**20:.1f} MiB | {len(mmdb) / 2**20:.1f} MiB |")
    print(f"| load (fresh process) | {ice['load'] * 1000:.0f} ms | {mm['load'] * 1000:.1f} ms |")
    print(
        f"| RSS growth after load | {ice['rss_load'] / 1024:.1f} MiB | "
        f"{mm['rss_load'] / 1024:.1f} MiB |"
    )
    print(
        f"| RSS growth after 200,000 lookups | {ice['rss_after'] / 1024:.1f} MiB | "
        f"{mm['rss_after'] / 1024:.1f} MiB (mmap pages touched) |"
    )
    print(f"| parsing the two CSVs (`parse_asn_csv`) | {parse_s:.2f} s | — |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
