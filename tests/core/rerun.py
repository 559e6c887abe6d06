"""A second run of a recorded browser capture: the same browser on the same network, with
every part a browser draws at random per session drawn again.

What changes between two real runs of one scenario (tests/data/captures/README.md):
candidate ports (and the source ports the server sees), mDNS UUIDs, Chromium's CRC32
foundations, the ICE ufrag and password, the SDP session id. Everything else — the
shape — stays. :func:`rerun` rewrites a capture document that way, consistently across
the candidate events, the SDP, the error events and the datagrams the server received.
"""

from __future__ import annotations

import copy
import random
import re
import string
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class _Draw:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ports: dict[int, int] = {}
        self.uuids: dict[str, str] = {}
        self.foundations: dict[str, str] = {}
        self.ufrags: dict[str, str] = {}

    def port(self, port: int) -> int:
        if port < 1024:  # 0 (zeroed rport) and 9 (TCP active) are not random
            return port
        if port not in self.ports:
            new = self.rng.randrange(1024, 65536)
            while new in self.ports.values() or new == port:
                new = self.rng.randrange(1024, 65536)
            self.ports[port] = new
        return self.ports[port]

    def uuid(self, match: re.Match[str]) -> str:
        old = match.group(0)
        if old not in self.uuids:
            h = f"{self.rng.getrandbits(128):032x}"
            variant = "89ab"[self.rng.randrange(4)]
            self.uuids[old] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"
        return self.uuids[old]

    def foundation(self, old: str) -> str:
        if len(old) <= 3:  # Firefox's small integers are not random
            return old
        if old not in self.foundations:
            self.foundations[old] = str(self.rng.randrange(1, 2**32))
        return self.foundations[old]

    def ufrag(self, old: str) -> str:
        if old not in self.ufrags:
            alphabet = string.ascii_letters + string.digits + "+/"
            self.ufrags[old] = "".join(self.rng.choice(alphabet) for _ in old)
        return self.ufrags[old]

    def candidate(self, line: str) -> str:
        if not line:
            return line
        line = _UUID.sub(self.uuid, line)
        tokens = line.split(" ")
        head = tokens[0]
        prefix, _, foundation = head.partition(":")
        tokens[0] = f"{prefix}:{self.foundation(foundation)}"
        if len(tokens) > 5 and tokens[5].isdigit():
            tokens[5] = str(self.port(int(tokens[5])))
        for i, token in enumerate(tokens[:-1]):
            if token == "rport" and tokens[i + 1].isdigit():
                tokens[i + 1] = str(self.port(int(tokens[i + 1])))
            elif token == "ufrag":
                tokens[i + 1] = self.ufrag(tokens[i + 1])
        return " ".join(tokens)

    def endpoint(self, text: str) -> str:
        host, _, port = text.rpartition(":")
        return f"{host}:{self.port(int(port))}"

    def sdp(self, text: str) -> str:
        out = []
        for line in text.split("\r\n"):
            if line.startswith("a=candidate:"):
                line = "a=" + self.candidate(line[2:])
            elif line.startswith("m="):
                parts = line.split(" ")
                if len(parts) > 1 and parts[1].isdigit():
                    parts[1] = str(self.port(int(parts[1])))
                line = " ".join(parts)
            elif line.startswith("a=ice-ufrag:"):
                line = "a=ice-ufrag:" + self.ufrag(line.split(":", 1)[1])
            elif line.startswith("a=ice-pwd:"):
                line = "a=ice-pwd:" + self.ufrag(line.split(":", 1)[1])
            elif line.startswith("o="):
                parts = line.split(" ")
                if len(parts) > 1 and parts[1].isdigit():
                    parts[1] = str(self.rng.randrange(10**17, 10**18))
                line = " ".join(parts)
            out.append(line)
        return "\r\n".join(out)


def rerun(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    """``doc`` as another run of the same scenario would have recorded it."""
    d = _Draw(seed)
    new = copy.deepcopy(doc)
    for c in new["candidates"]:
        if "candidate" not in c:
            continue
        c["candidate"] = d.candidate(c["candidate"])
        if isinstance(c.get("port"), int):
            c["port"] = d.port(c["port"])
        if isinstance(c.get("relatedPort"), int):
            c["relatedPort"] = d.port(c["relatedPort"])
        if isinstance(c.get("address"), str):
            c["address"] = _UUID.sub(d.uuid, c["address"])
        if c.get("usernameFragment"):
            c["usernameFragment"] = d.ufrag(c["usernameFragment"])
    for e in new["candidate_errors"]:
        if isinstance(e.get("port"), int):
            e["port"] = d.port(e["port"])
    new["sdp"] = d.sdp(new["sdp"])
    for g in new["datagrams"]:
        key = "src" if g["dir"] == "in" else "dst"
        g[key] = d.endpoint(g[key])
    assert d.ports, "a capture always has random ports"
    return new
