"""The dashboard's export of the filtered set: CSV (the shared columns, formula-safe
cells) and JSON Lines (the shared records), streamed page by page from the store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from icewatch.core.evidence import session_evidence_from_dict
from icewatch.core.export import CSV_COLUMNS
from icewatch.web.dashboard import routes

from .dashboard_support import PROXY_PEER, dashboard_app, fill, keyed, visit

pytestmark = pytest.mark.anyio


def rows_of(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


async def test_csv_export_of_the_filtered_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "EXPORT_PAGE", 2)  # several store pages per export
    async with dashboard_app(tmp_path) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            response = await client.get("/dashboard/sessions?format=csv")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            assert "attachment" in response.headers["content-disposition"]
            assert response.headers["cache-control"] == "no-store"
            rows = rows_of(response.text)
            assert {r["id"] for r in rows} == set(filled.all)
            assert len(rows) == len(filled.all)
            created = [r["created_at"] for r in rows]
            assert created == sorted(created, reverse=True)  # newest first

            medium = rows_of((await client.get("/dashboard/sessions?format=csv&level=medium")).text)
            assert {r["id"] for r in medium} == set(filled.medium)
            assert all(r["level"] == "medium" for r in medium)
            assert all("ip.webrtc_http_mismatch" in r["signals"].split() for r in medium)

            proxied = rows_of(
                (await client.get(f"/dashboard/sessions?format=csv&ip={PROXY_PEER}")).text
            )
            assert {r["id"] for r in proxied} == set(filled.by_peer[PROXY_PEER])
            assert all(r["client_ip"] == PROXY_PEER for r in proxied)

            none = await client.get("/dashboard/sessions?format=csv&level=high")
            assert rows_of(none.text) == []


async def test_jsonl_export_lines_are_session_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "EXPORT_PAGE", 3)
    async with dashboard_app(tmp_path) as web:
        filled = await fill(web)
        async with keyed(web) as client:
            response = await client.get("/dashboard/sessions?format=jsonl&level=low,medium")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            lines = response.text.splitlines()
            records = [json.loads(line) for line in lines]
            assert len(records) == len(filled.low) + len(filled.medium)
            for record in records:
                assert set(record) == {"evidence", "verdict", "fingerprint"}
                evidence = session_evidence_from_dict(record["evidence"])
                stored = await web.store.get_session(evidence.session_id)
                assert stored is not None
                assert evidence == stored.evidence  # the stored evidence, whole
                assert record["verdict"] == stored.verdict.as_dict()  # type: ignore[union-attr]
                assert record["fingerprint"] == stored.fingerprint
            ids = [r["evidence"]["session_id"] for r in records]
            assert set(ids) == {*filled.low, *filled.medium}


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
async def test_csv_cells_never_start_a_formula(tmp_path: Path, formula: str) -> None:
    async with dashboard_app(tmp_path) as web:
        doc = await visit(web, "firefox-153-default", "10.77.1.2", user_agent=formula)
        async with keyed(web) as client:
            text = (await client.get("/dashboard/sessions?format=csv")).text
    (row,) = rows_of(text)
    assert row["id"] == doc["id"]
    assert row["user_agent"] == "'" + formula
    for cell in row.values():
        assert not cell.startswith(("=", "+", "@")) or cell.startswith("'")


async def test_export_needs_the_operator(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web:
        await fill(web)
        async with web.client() as client:
            response = await client.get("/dashboard/sessions?format=csv")
            assert response.status_code == 303
            assert response.headers["location"].startswith("/dashboard/login?next=")
            assert "client_ip" not in response.text
        async with web.client(headers={"X-API-Key": "wrong-key-0123456789"}) as client:
            response = await client.get("/dashboard/sessions?format=jsonl")
            assert response.status_code == 401
            assert response.headers["content-type"].startswith("text/html")


async def test_bad_filter_on_export_is_a_400(tmp_path: Path) -> None:
    async with dashboard_app(tmp_path) as web, keyed(web) as client:
        response = await client.get("/dashboard/sessions?format=csv&ip=nonsense")
        assert response.status_code == 400
        assert "<code>ip</code>" in response.text
