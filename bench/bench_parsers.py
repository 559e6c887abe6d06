"""Parser throughput: icewatch's core against aioice's parsers on the same inputs.

Prints one table, measured in one run:

* ICE candidate lines parsed per second — ``icewatch.core.ice.parse_candidate`` vs
  ``aioice.Candidate.from_sdp``, over the real Chromium 156 / Firefox 153 lines recorded
  in ``tests/data/captures/`` plus hand-written shapes (IPv6, TCP, relay);
* STUN messages decoded per second with FINGERPRINT verified —
  ``icewatch.core.stun.decode_message`` + ``verify_fingerprint`` vs
  ``aioice.stun.parse_message`` (which checks FINGERPRINT itself), over every recorded
  browser datagram and the RFC 5769 vectors.

Only inputs that *both* parsers accept are timed, so neither is timed on an error path.
Each figure is the best of ``--repeat`` rounds of ``--rounds`` passes over the inputs.

Usage: ``.venv/bin/python bench/bench_parsers.py [--repeat 7] [--rounds 200]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aioice
import aioice.stun
from aioice import Candidate as AioiceCandidate

from icewatch import __version__
from icewatch.core.ice import parse_candidate
from icewatch.core.stun import decode_message, verify_fingerprint

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "data" / "captures"
RFC5769 = ROOT / "tests" / "data" / "stun" / "rfc5769.json"

HAND_LINES = [
    "candidate:1467250027 1 udp 2122260223 192.168.1.10 56143 typ host generation 0 "
    "network-id 1 network-cost 10",
    "candidate:2 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active generation 0",
    "candidate:5 1 udp 41885439 198.51.100.20 3478 typ relay raddr 203.0.113.7 rport 61234 "
    "generation 0",
    "candidate:6 1 udp 2113939711 2001:db8::1 50000 typ host generation 0",
    "candidate:10 1 udp 2113939711 2001:0db8:0000:0000:0000:0000:0000:0001 50004 typ host",
    "candidate:11 1 udp 1845501695 203.0.113.9 50005 typ prflx raddr 192.168.1.10 rport 50000",
]


def _strip(line: str) -> str:
    """aioice's ``from_sdp`` takes the line without ``a=`` and without ``candidate:``."""
    line = line.removeprefix("a=")
    return line.removeprefix("candidate:")


def load_candidate_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(CAPTURES.glob("*.json")):
        capture = json.loads(path.read_text())
        lines.extend(c["candidate"] for c in capture["candidates"] if c.get("candidate"))
    lines.extend(HAND_LINES)
    return lines


def load_stun_messages() -> list[bytes]:
    messages: list[bytes] = []
    for path in sorted(CAPTURES.glob("*.json")):
        capture = json.loads(path.read_text())
        messages.extend(bytes.fromhex(d["hex"]) for d in capture["datagrams"] if d.get("hex"))
    vectors = json.loads(RFC5769.read_text())["vectors"]
    messages.extend(bytes.fromhex(v["hex"]) for v in vectors.values())
    return messages


def with_unique_addresses(lines: Sequence[str], copies: int) -> list[str]:
    """The same lines, ``copies`` times, each copy with addresses no other line uses.

    Parsers may memoise what repeats (icewatch keeps a small cache of parsed addresses,
    since ``0.0.0.0``, ``::`` and a visitor's mDNS name recur on every line); this input
    defeats any such cache, the worst case for icewatch.
    """
    out: list[str] = []
    for n in range(copies):
        for i, line in enumerate(lines):
            tokens = line.split(" ")
            k = n * len(lines) + i
            address = tokens[4]
            if address.endswith(".local"):
                tokens[4] = f"{k:08x}-1b2c-4d3e-8f40-{k:012x}.local"
            elif ":" in address:
                tokens[4] = f"2001:db8:{k >> 16:x}:{k & 0xFFFF:x}::{i + 1:x}"
            else:
                tokens[4] = f"198.{18 + (k >> 16) % 2}.{(k >> 8) & 0xFF}.{k & 0xFF}"
            out.append(" ".join(tokens))
    return out


def both_accept(items: Sequence[Any], *parsers: Callable[[Any], object]) -> list[Any]:
    kept = []
    for item in items:
        try:
            for parse in parsers:
                parse(item)
        except Exception:  # noqa: S112 - an input either parser refuses is not timed
            continue
        kept.append(item)
    return kept


def rate(func: Callable[[Any], object], items: Sequence[Any], rounds: int, repeat: int) -> float:
    """Best items-per-second over ``repeat`` timings of ``rounds`` passes."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rounds):
            for item in items:
                func(item)
        best = min(best, time.perf_counter() - start)
    return len(items) * rounds / best


def ours_stun(data: bytes) -> object:
    message = decode_message(data)
    if message.fingerprint() is not None and not verify_fingerprint(message):
        raise ValueError("fingerprint")
    return message


def aioice_candidate(line: str) -> object:
    return AioiceCandidate.from_sdp(_strip(line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)

    lines = both_accept(load_candidate_lines(), parse_candidate, aioice_candidate)
    unique = both_accept(
        with_unique_addresses(lines, args.rounds), parse_candidate, aioice_candidate
    )
    messages = both_accept(load_stun_messages(), ours_stun, aioice.stun.parse_message)
    with_fp = sum(1 for m in messages if decode_message(m).fingerprint() is not None)

    rows = [
        (
            f"ICE candidate lines ({len(lines)} real+hand)",
            rate(parse_candidate, lines, args.rounds, args.repeat),
            rate(aioice_candidate, lines, args.rounds, args.repeat),
        ),
        (
            f"  same, every address unique ({len(unique)} lines)",
            rate(parse_candidate, unique, 1, args.repeat),
            rate(aioice_candidate, unique, 1, args.repeat),
        ),
        (
            f"STUN decode + FINGERPRINT ({len(messages)} msgs, {with_fp} with FP)",
            rate(ours_stun, messages, args.rounds, args.repeat),
            rate(aioice.stun.parse_message, messages, args.rounds, args.repeat),
        ),
    ]

    print(
        f"icewatch {__version__} vs aioice {aioice.__version__} — Python "
        f"{platform.python_version()} on {platform.machine()}, best of {args.repeat}"
    )
    header = f"| {'input':<52} | {'icewatch /s':>12} | {'aioice /s':>12} | {'ratio':>6} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, ours, theirs in rows:
        print(f"| {name:<52} | {ours:>12,.0f} | {theirs:>12,.0f} | {ours / theirs:>5.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
