"""A stub resolver for a client namespace: logs every DNS query and answers REFUSED.

Browsers inside the sandbox see ``nameserver 127.0.0.1``; this answers there, so their
own attempts to reach vendor services (update, accounts, telemetry) end at once and are
recorded (``{"t", "src", "name", "qtype"}`` per line) instead of vanishing silently.
``python -m tests.browser.dnsstub LOGFILE`` prints ``ready`` once bound.
"""

from __future__ import annotations

import json
import socket
import sys
import time


def parse_query(data: bytes) -> tuple[str, int, int]:
    """(name, qtype, end of the question) of a DNS query; ``("", -1, 12)`` if malformed."""
    i, labels = 12, list[str]()
    while i < len(data) and data[i] and len(labels) < 64:
        n = data[i]
        labels.append(data[i + 1 : i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    if i + 5 > len(data):
        return "", -1, 12
    return ".".join(labels), int.from_bytes(data[i + 1 : i + 3], "big"), i + 5


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))
    log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    print("ready", flush=True)
    while True:
        data, src = sock.recvfrom(4096)
        if len(data) < 12:
            continue
        name, qtype, end = parse_query(data)
        log.write(json.dumps({"t": time.time(), "src": f"{src[0]}:{src[1]}", "name": name,
                              "qtype": qtype}) + "\n")  # fmt: skip
        # Same id, QR=1, opcode from the query, RCODE=5 (REFUSED), the question echoed.
        flags = bytes([0x80 | (data[2] & 0x79), 0x05])
        qd = b"\x00\x01" if end > 12 else b"\x00\x00"
        sock.sendto(data[:2] + flags + qd + b"\x00" * 6 + data[12:end], src)


if __name__ == "__main__":
    main()
