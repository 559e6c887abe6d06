"""IP intelligence in the dashboard: provider column and filter, the providers chart,
and the detail page's lookups with their provenance. The intelligence comes through an
enricher, the way the service's IP-data adapter adds it (here: one listed network)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from icewatch.core.addr import parse_ip
from icewatch.core.evidence import IntelEvidence, IntelLookup, SessionEvidence
from icewatch.core.intel.model import IntelHit, IntelResult, Kind, Provenance

from .dashboard_support import PROXY_PEER, dashboard_app, keyed, session_links, visit

pytestmark = pytest.mark.anyio

SOURCE = "list:vpn:test-vpn.txt"
PREFIX = "10.77.1.0/29"


async def vpn_list(evidence: SessionEvidence) -> SessionEvidence:
    """Lists the proxy's network as a VPN of ExampleVPN (AS64500)."""
    ip = evidence.http.client_ip
    if str(ip) != PROXY_PEER:
        return evidence
    hit = IntelHit(
        Kind.VPN,
        "ExampleVPN",
        64500,
        "Example <Networks>",
        Provenance.of(SOURCE, "2026-11-27", PREFIX),
    )
    result = IntelResult(hits=(hit,), asn=64500, org="Example <Networks>")
    lookup = IntelLookup(parse_ip(PROXY_PEER).ip, ("http",), result)
    return dataclasses.replace(evidence, intel=IntelEvidence("lists: " + SOURCE, (lookup,)))


async def test_provider_column_filter_chart_and_provenance(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path, enrichers=(vpn_list,)) as web:
        listed = await visit(web, "chromium-156-nat", PROXY_PEER)
        plain = await visit(web, "chromium-156-default", "10.77.1.2")
        assert listed["verdict"]["level"] in ("medium", "high")
        assert listed["intel"]["lookups"][0]["hits"][0]["provider"] == "ExampleVPN"
        async with keyed(web) as client:
            page = (await client.get("/dashboard/sessions")).text
            assert "ExampleVPN (AS64500)" in page
            for query in ("provider=examplevpn", "provider=AS64500", "provider=ExampleVPN"):
                html = (await client.get(f"/dashboard/sessions?{query}")).text
                assert session_links(html) == [listed["id"]], query
            other = (await client.get("/dashboard/sessions?provider=AS64501")).text
            assert session_links(other) == []

            overview = (await client.get("/dashboard")).text
            providers = re.search(
                r'<svg[^>]*aria-labelledby="chart-providers-title.*?</svg>', overview, re.S
            )
            assert providers is not None
            assert "No data" not in providers.group(0)
            assert "ExampleVPN" in providers.group(0) or "AS64500" in providers.group(0)
            data = re.search(r'id="chart-providers-data">.*?<tbody>(.*?)</tbody>', overview, re.S)
            assert data is not None  # the chart's numbers as a table too
            assert re.search(r'<th scope="row">[^<]*(ExampleVPN|AS64500)[^<]*</th>'
                             r'<td class="num">1</td>', data.group(1))  # fmt: skip

            detail = (await client.get(f"/dashboard/sessions/{listed['id']}")).text
            assert (
                '<span class="code">vpn</span> ExampleVPN · AS64500 · Example &lt;Networks&gt;'
                in detail
            )
            assert f'{SOURCE} 2026-11-27 <span class="mono">{PREFIX}</span>' in detail
            assert "Data: lists: list:vpn:test-vpn.txt" in detail
            assert "<Networks>" not in detail

            quiet = (await client.get(f"/dashboard/sessions/{plain['id']}")).text
            assert "No IP intelligence for this session" in quiet
