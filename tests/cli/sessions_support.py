"""A real SQLite file filled with real sessions, for the ``sessions`` and ``purge`` tests.

Every session goes through the real app (create, the listener's observations from a
recorded browser capture, the page's report): the evidence and verdicts are what
icewatch really stores. What the service's enrichers add is saved through the store as
they would have: the parsed user agent, and for one client address IP intelligence (a
cloud listing with provenance).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.web.support import capture, http_peer_of, replay, report_from_capture, web_app

from icewatch.core.addr import parse_ip
from icewatch.core.evidence import IntelEvidence, IntelLookup
from icewatch.core.fingerprint import network_fingerprint
from icewatch.core.intel.model import IntelHit, IntelResult, Kind, Provenance
from icewatch.core.scoring import evaluate
from icewatch.web.useragent import enrich_user_agent

PROXY = "10.77.1.3"  # HTTP through a proxy, WebRTC straight out: ip.webrtc_http_mismatch
MISMATCH = "ip.webrtc_http_mismatch"
CLOUD_IP = "198.51.100.20"  # gets a cloud listing ("examplecloud", AS64500)
HOSTILE_UA = '=HYPERLINK("http://x.invalid","click")'
DAY = 86400.0


@dataclass(frozen=True)
class Made:
    """One stored session and what the test knows about it."""

    id: str
    created_at: float
    level: str  # "low" | "medium" | "high" | "pending"
    score: int | None
    signals: tuple[str, ...]
    client_ip: str
    age_days: float
    document: dict[str, Any] | None


#: (capture, HTTP peer or None for the capture's own, age in days, report it?)
VISITS: list[tuple[str, str | None, float, bool]] = [
    ("chromium-156-default", None, 0.0, True),
    ("firefox-153-default", None, 0.1, True),
    ("chromium-156-nat", PROXY, 0.2, True),
    ("firefox-153-nat", PROXY, 2.0, True),
    ("chromium-156-default", CLOUD_IP, 10.0, True),
    ("firefox-153-default", None, 40.0, True),
    ("chromium-156-nomdns", None, 45.0, True),
    ("chromium-156-default", None, 50.0, False),  # never reported: pending
]


def _cloud(ip: str) -> IntelEvidence:
    addr = parse_ip(ip).ip
    value = int(addr)
    prov = Provenance("examplecloud-ranges", "2026-11-01", value & ~0xFF, value | 0xFF, 4)
    hit = IntelHit(Kind.CLOUD, "examplecloud", 64500, "Example Cloud", prov)
    result = IntelResult(hits=(hit,), asn=64500, org="Example Cloud", asn_provenance=prov)
    return IntelEvidence(data="test", lookups=(IntelLookup(addr, ("http",), result),))


def fill(
    db_dir: Path,
    visits: list[tuple[str, str | None, float, bool]] = VISITS,
    *,
    user_agent: str | None = None,
) -> list[Made]:
    """Store each visit in ``db_dir/icewatch.db`` through the real app, ``age`` days ago
    (newest first in ``visits``); return what was made, in the same order."""
    now = time.time()

    async def scenario() -> list[Made]:
        out: list[Made] = []
        async with web_app(db_dir) as web:
            for name, peer, age, report in visits:
                data = capture(name)
                web.clock.now = now - age * DAY
                headers = {} if user_agent is None else {"User-Agent": user_agent}
                async with web.client(peer=peer or http_peer_of(data), headers=headers) as client:
                    document = None
                    if report:
                        body = report_from_capture(data)
                        if user_agent is not None:
                            body["user_agent"] = user_agent
                        created, response = await replay(web, client, data, body)
                        assert response.status_code == 200, response.text
                        document = response.json()
                    else:
                        created = await web.create(client)
                stored = await web.store.get_session(created["id"])
                assert stored is not None
                if report:
                    # What the service's enrichers add: the parsed user agent, and for
                    # one address a cloud listing from the IP intelligence.
                    evidence = await enrich_user_agent(stored.evidence)
                    if peer == CLOUD_IP:
                        evidence = dataclasses.replace(evidence, intel=_cloud(CLOUD_IP))
                    correlation, verdict = evaluate(evidence)
                    await web.store.save_result(evidence, verdict, network_fingerprint(correlation))
                    stored = await web.store.get_session(created["id"])
                    assert stored is not None
                v = stored.verdict
                out.append(
                    Made(
                        id=created["id"],
                        created_at=stored.evidence.created_at,
                        level="pending" if v is None else v.level.value,
                        score=None if v is None else v.score,
                        signals=() if v is None else tuple(s.code for s in v.signals),
                        client_ip=str(stored.evidence.http.client_ip),
                        age_days=age,
                        document=document,
                    )
                )
        return out

    return asyncio.run(scenario())
