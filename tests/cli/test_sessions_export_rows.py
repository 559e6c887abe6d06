"""``icewatch.core.export``: the CSV row and JSON Lines record shared by the dashboard and
``icewatch sessions export``, on sessions stored by the real app in a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.cli.sessions_support import CLOUD_IP, HOSTILE_UA, fill

from icewatch.cli import cli
from icewatch.core.export import CSV_COLUMNS, csv_row, jsonl_record
from icewatch.core.ports import StoredSession
from icewatch.store import open_store


def analyze_json(path: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", "--json", path])
    assert result.exit_code == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def stored(db: Path, ids: list[str]) -> list[StoredSession]:
    async def read() -> list[StoredSession]:
        store = await open_store(f"sqlite:///{db}")
        try:
            out = []
            for i in ids:
                s = await store.get_session(i)
                assert s is not None
                out.append(s)
            return out
        finally:
            await store.close()

    return asyncio.run(read())


def test_csv_rows_carry_the_verdict_addresses_intel_and_client(tmp_path: Path) -> None:
    made = fill(tmp_path)
    sessions = stored(tmp_path / "icewatch.db", [m.id for m in made])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for s in sessions:
        row = csv_row(s)
        assert len(row) == len(CSV_COLUMNS)
        writer.writerow(row)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [r["id"] for r in rows] == [m.id for m in made]
    for r, m in zip(rows, made, strict=True):
        assert r["level"] == m.level
        assert r["signals"].split() == list(m.signals)
        assert r["client_ip"] == m.client_ip
        if m.level == "pending":
            assert r["score"] == r["reported_at"] == r["signals"] == ""
            assert r["fingerprint"] == ""
        else:
            assert m.document is not None
            assert int(r["score"]) == m.score
            assert r["created_at"] == m.document["created_at"]
            assert r["observed_ips"]  # every capture reached the listener
            assert r["browser"] in ("HeadlessChrome", "Chrome", "Firefox")
            assert r["fingerprint"]
    cloud = next(r for r in rows if r["client_ip"] == CLOUD_IP)
    assert (cloud["provider"], cloud["asn"]) == ("examplecloud", "AS64500")
    others = [r for r in rows if r["client_ip"] != CLOUD_IP]
    assert all(r["provider"] == "" and r["asn"] == "" for r in others)


def test_a_user_agent_that_looks_like_a_formula_is_never_one(tmp_path: Path) -> None:
    made = fill(tmp_path, [("chromium-156-default", None, 0.0, True)], user_agent=HOSTILE_UA)
    (s,) = stored(tmp_path / "icewatch.db", [made[0].id])
    row = dict(zip(CSV_COLUMNS, csv_row(s), strict=True))
    assert row["user_agent"] == "'" + HOSTILE_UA
    assert not any(cell.startswith(("=", "+", "@")) for cell in row.values())


def test_jsonl_records_are_read_back_by_analyze(tmp_path: Path) -> None:
    made = fill(tmp_path)
    sessions = stored(tmp_path / "icewatch.db", [m.id for m in made if m.level != "pending"])
    lines = "".join(json.dumps(jsonl_record(s)) + "\n" for s in sessions)
    source = tmp_path / "export.jsonl"
    source.write_text(lines)
    result = analyze_json(str(source))
    assert result["count"] == len(sessions)
    assert result["level_changed"] == 0
    for out, s in zip(result["sessions"], sessions, strict=True):
        assert out["form"] == "export"
        assert out["id"] == s.evidence.session_id
        assert s.verdict is not None
        assert out["verdict"] == s.verdict.as_dict()
