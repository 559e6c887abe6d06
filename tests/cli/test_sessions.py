"""``icewatch sessions list|show|export`` on a real SQLite file filled by the real app, and
beside a real ``icewatch serve`` writing to the same file."""

from __future__ import annotations

import csv
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.cli.sessions_support import CLOUD_IP, MISMATCH, PROXY, Made, fill
from tests.service.proc import env as serve_env
from tests.service.proc import kill_quietly, start

from icewatch.cli import cli
from icewatch.core.export import CSV_COLUMNS
from icewatch.store.sqlite import SqliteStore

SUMMARY_KEYS = {
    "id", "created_at", "created", "expires_at", "client_ip", "reported", "level", "score",
    "signals",
}  # fmt: skip


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    # COLUMNS: rich's width when the output is not a terminal.
    result = CliRunner().invoke(cli, list(args), input=stdin, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Made]]:
    db_dir = tmp_path_factory.mktemp("sessions")
    made = fill(db_dir)
    return f"sqlite:///{db_dir / 'icewatch.db'}", made


def listed(db: str, *args: str) -> list[dict[str, Any]]:
    code, out, err = invoke("sessions", "list", "--db", db, "--json", *args)
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == SUMMARY_KEYS
    return rows


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


def test_list_json_is_every_session_newest_first(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    rows = listed(db, "--limit", "100")
    assert ids(rows) == [m.id for m in made]  # fill() makes them newest first
    for row, m in zip(rows, made, strict=True):
        assert row["level"] == m.level
        assert row["score"] == m.score
        assert row["signals"] == list(m.signals)
        assert row["client_ip"] == m.client_ip
        assert row["reported"] is (m.level != "pending")
        assert row["created"].endswith("Z")
    assert ids(listed(db, "--limit", "3")) == [m.id for m in made[:3]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--level", "medium", "--level", "high"), lambda m: m.level in ("medium", "high")),
        (("--level", "medium,high"), lambda m: m.level in ("medium", "high")),
        (("--level", "pending"), lambda m: m.level == "pending"),
        (("--signal", MISMATCH), lambda m: MISMATCH in m.signals),
        (("--ip", PROXY), lambda m: m.client_ip == PROXY),
        (("--ip", "198.51.100.0/24"), lambda m: m.client_ip == CLOUD_IP),
        (("--provider", "AS64500"), lambda m: m.client_ip == CLOUD_IP),
        (("--since", "1d"), lambda m: m.age_days < 1),
        (("--since", "30d", "--until", "1d"), lambda m: 1 < m.age_days < 30),
        (("--until", "30d"), lambda m: m.age_days > 30),
    ],
)
def test_list_filters(filled: tuple[str, list[Made]], args: tuple[str, ...], expected: Any) -> None:
    db, made = filled
    want = [m.id for m in made if expected(m)]
    assert want, "the filter must match something"
    assert len(want) < len(made), "the filter must leave something out"
    assert ids(listed(db, *args)) == want


def test_list_ua_family(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    firefox = listed(db, "--ua", "firefox")
    assert firefox
    assert set(ids(firefox)) < {m.id for m in made if m.level != "pending"}
    assert not set(ids(firefox)) & set(ids(listed(db, "--ua", "HeadlessChrome")))


def test_list_table_for_people(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    code, out, err = invoke("sessions", "list", "--db", db)
    assert code == 0, err
    assert f"{len(made)} session(s), newest first" in out
    for column in ("id", "created", "level", "score", "client IP", "top signals"):
        assert column in out
    for m in made:
        assert m.id in out
    assert f"{MISMATCH} (50)" in out  # top signals with their weights


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("--level", "severe"), "--level"),
        (("--ip", "10.0.0.0/33"), "--ip"),
        (("--ip", "not-an-ip"), "--ip"),
        (("--since", "yesterday"), "--since"),
        (("--since", "1d", "--until", "3d"), "--until"),
        (("--signal", "bad code!"), "--signal"),
    ],
)
def test_list_bad_filters_exit_2_naming_the_option(
    filled: tuple[str, list[Made]], args: tuple[str, ...], field: str
) -> None:
    db, _ = filled
    code, out, err = invoke("sessions", "list", "--db", db, *args)
    assert code == 2
    assert out == ""
    assert one_error_line(err).startswith(f"error: {field}: ")


def test_a_missing_database_is_exit_1_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    for args in (("list",), ("show", "abc"), ("export",)):
        code, _, err = invoke("sessions", *args, "--db", f"sqlite:///{path}")
        assert code == 1, (args, err)
        assert "no database" in one_error_line(err)
    assert not path.exists()


def test_show_json_is_the_session_document(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    for m in made:
        code, out, err = invoke("sessions", "show", m.id, "--db", db, "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["id"] == m.id
        assert doc["version"] == 1
        if m.document is None:
            assert doc["verdict"] is None
            continue
        assert doc["verdict"]["level"] == m.level
        assert [s["code"] for s in doc["verdict"]["signals"]] == list(m.signals)
        # What the API answered the page, as far as it does not depend on the enrichers.
        assert doc["candidates"] == m.document["candidates"]
        assert doc["observed"] == m.document["observed"]
        assert doc["fingerprint"]["id"] == m.document["fingerprint"]["id"]
        assert doc["fingerprint"]["population"]["matching"] >= 1  # the store's counts


def test_show_for_people(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    cloud = next(m for m in made if m.client_ip == CLOUD_IP)
    code, out, err = invoke("sessions", "show", cloud.id, "--db", db)
    assert code == 0, err
    assert f"session {cloud.id}" in out
    assert f"verdict: {cloud.level} score {cloud.score}" in out
    for code_ in cloud.signals:
        assert code_ in out
    assert "a proxy or VPN that WebRTC bypasses" in out  # the signal's reason
    assert "candidates" in out
    assert "srflx" in out
    assert "examplecloud" in out  # the IP intelligence
    assert "AS64500" in out
    pending = next(m for m in made if m.level == "pending")
    code, out, _ = invoke("sessions", "show", pending.id, "--db", db)
    assert code == 0
    assert "pending" in out


def test_show_unknown_or_bad_id(filled: tuple[str, list[Made]]) -> None:
    db, _ = filled
    code, out, err = invoke("sessions", "show", "no-such-session", "--db", db)
    assert code == 1
    assert out == ""
    assert one_error_line(err) == "error: no session no-such-session"
    code, _, err = invoke("sessions", "show", "x" * 500, "--db", db)
    assert code == 2
    one_error_line(err)


def test_export_csv_to_stdout_with_filters(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    code, out, err = invoke("sessions", "export", "--db", db)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == [m.id for m in made]
    code, out, err = invoke("sessions", "export", "--db", db, "--signal", MISMATCH)
    assert code == 0, err
    records = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in records] == [m.id for m in made if MISMATCH in m.signals]
    assert all(MISMATCH in r["signals"].split() for r in records)


def test_export_jsonl_to_a_file_reads_back_in_analyze(
    filled: tuple[str, list[Made]], tmp_path: Path
) -> None:
    db, made = filled
    target = tmp_path / "out.jsonl"
    code, out, err = invoke(
        "sessions", "export", "--db", db, "--format", "jsonl", "--level", "medium,high",
        "-o", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert out == ""
    want = [m for m in made if m.level in ("medium", "high")]
    assert f"{len(want)} session(s) written to {target}" in err
    lines = target.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["evidence"]["session_id"] for r in records] == [m.id for m in want]
    assert all(set(r) == {"evidence", "verdict", "fingerprint"} for r in records)
    code, out, err = invoke("analyze", "--json", str(target))
    assert code == 0, err
    result = json.loads(out)
    assert result["count"] == len(want)
    assert result["level_changed"] == 0


def test_export_pages_through_more_than_one_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads the store page by page (EXPORT_PAGE at a time): with a small page
    it must still give every session exactly once."""
    module = importlib.import_module("icewatch.cli.sessions")

    made = fill(tmp_path)
    db = f"sqlite:///{tmp_path / 'icewatch.db'}"
    reads: list[int] = []
    monkeypatch.setattr(module, "EXPORT_PAGE", 3)
    query = SqliteStore.query_sessions

    async def counted(self: Any, where: Any, *, limit: int, cursor: str | None = None) -> Any:
        reads.append(limit)
        return await query(self, where, limit=limit, cursor=cursor)

    monkeypatch.setattr(SqliteStore, "query_sessions", counted)
    code, out, err = invoke("sessions", "export", "--db", db, "--format", "jsonl")
    assert code == 0, err
    got = [json.loads(line)["evidence"]["session_id"] for line in out.splitlines()]
    assert got == [m.id for m in made]
    assert reads == [3, 3, 3]  # 8 sessions, 3 a page


def test_export_to_an_unwritable_place_is_exit_2(
    filled: tuple[str, list[Made]], tmp_path: Path
) -> None:
    db, _ = filled
    code, _, err = invoke("sessions", "export", "--db", db, "-o", str(tmp_path / "no" / "x.csv"))
    assert code == 2
    assert one_error_line(err).startswith("error: -o: cannot write")


def test_sessions_beside_a_running_server(tmp_path: Path) -> None:
    """A real ``icewatch serve`` writes sessions; ``icewatch sessions`` (another process)
    lists and exports them from the same file while it runs."""
    served = start(tmp_path)
    try:
        made = []
        with httpx.Client(base_url=served.base, timeout=10) as client:
            for _ in range(3):
                response = client.post("/api/v1/sessions")
                assert response.status_code == 201, response.text
                made.append(response.json()["id"])
        runs = [
            subprocess.run(
                [sys.executable, "-m", "icewatch", "sessions", *args, "--db",
                 "sqlite:///icewatch.db"],
                cwd=tmp_path, env=serve_env(), capture_output=True, text=True, timeout=60,
                check=False,
            )
            for args in (["list", "--json"], ["export", "--format", "jsonl"])
        ]  # fmt: skip
        assert served.popen.poll() is None
    finally:
        kill_quietly(served)
    for run in runs:
        assert run.returncode == 0, run.stderr
    listing = json.loads(runs[0].stdout)
    assert [r["id"] for r in listing] == made[::-1]
    assert all(r["level"] == "pending" for r in listing)
    exported = [json.loads(line) for line in runs[1].stdout.splitlines()]
    assert [r["evidence"]["session_id"] for r in exported] == made[::-1]


def _doc_example(heading: str) -> Any:
    text = (Path(__file__).resolve().parents[2] / "docs" / "json-output.md").read_text("utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def test_the_documented_listing_has_the_real_keys(filled: tuple[str, list[Made]]) -> None:
    db, _ = filled
    (example,) = _doc_example("icewatch sessions list")
    assert set(example) == SUMMARY_KEYS
    real = listed(db, "--limit", "1")[0]
    assert {k: type(v) for k, v in example.items() if v is not None} == {
        k: type(v) for k, v in real.items() if k in example and example[k] is not None
    }


def test_delete_one_session_and_everything_about_it(tmp_path: Path) -> None:
    made = fill(tmp_path)
    db = f"sqlite:///{tmp_path / 'icewatch.db'}"
    victim = next(m for m in made if m.level == "medium")
    code, out, err = invoke("sessions", "delete", victim.id, "--yes", "--db", db)
    assert code == 0, err
    assert out == f"Deleted session {victim.id}.\n"
    assert ids(listed(db, "--limit", "100")) == [m.id for m in made if m.id != victim.id]
    code, _, err = invoke("sessions", "show", victim.id, "--db", db)
    assert code == 1
    code, _, err = invoke("sessions", "delete", victim.id, "--yes", "--db", db)
    assert code == 1
    assert one_error_line(err) == f"error: no session {victim.id}"


def test_delete_asks_first_and_refuses_without_a_terminal(tmp_path: Path) -> None:
    made = fill(tmp_path, [("chromium-156-default", None, 0.0, True)])
    db = f"sqlite:///{tmp_path / 'icewatch.db'}"
    code, out, err = invoke("sessions", "delete", made[0].id, "--db", db, stdin="y\n")
    assert code == 2
    assert out == ""
    assert one_error_line(err) == "error: confirm with --yes (no terminal to ask)"
    assert ids(listed(db)) == [made[0].id]


def test_the_store_comes_from_the_same_settings_as_serve(
    filled: tuple[str, list[Made]], tmp_path: Path
) -> None:
    db, made = filled
    runner = CliRunner()
    by_env = runner.invoke(cli, ["sessions", "list", "--json"], env={"ICEWATCH_DB": db})
    assert by_env.exit_code == 0, by_env.stderr
    assert ids(json.loads(by_env.stdout)) == [m.id for m in made]
    config = tmp_path / "icewatch.toml"
    config.write_text(f'db = "{db}"\n')
    by_file = runner.invoke(cli, ["sessions", "list", "--json", "--config", str(config)])
    assert by_file.exit_code == 0, by_file.stderr
    assert ids(json.loads(by_file.stdout)) == [m.id for m in made]
    bad = runner.invoke(cli, ["sessions", "list"], env={"ICEWATCH_DB": "postgresql://x/y"})
    assert bad.exit_code == 2
    assert one_error_line(bad.stderr).startswith("error: ICEWATCH_DB: ")
