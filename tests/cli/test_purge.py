"""``icewatch purge --older-than DURATION`` on a real SQLite file filled by the real app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cli.sessions_support import Made, fill
from tests.service.proc import env as serve_env

from icewatch.cli import cli


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def remaining(db: str) -> list[str]:
    code, out, err = invoke("sessions", "list", "--db", db, "--json", "--limit", "1000")
    assert code == 0, err
    return [row["id"] for row in json.loads(out)]


@pytest.fixture
def filled(tmp_path: Path) -> tuple[str, list[Made]]:
    return f"sqlite:///{tmp_path / 'icewatch.db'}", fill(tmp_path)


def test_dry_run_counts_and_keeps(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    old = [m for m in made if m.age_days > 30]
    assert old
    code, out, err = invoke("purge", "--older-than", "30d", "--dry-run", "--db", db, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["dry_run"] is True
    assert result["matching"] == len(old)
    assert result["deleted"] == 0
    assert result["before"].endswith("Z")
    assert remaining(db) == [m.id for m in made]
    code, out, _ = invoke("purge", "--older-than", "30d", "--dry-run", "--db", db)
    assert code == 0
    assert out.startswith(f"{len(old)} session(s) created before ")
    assert "dry run" in out


def test_purge_deletes_exactly_the_old_sessions(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    code, out, err = invoke("purge", "--older-than", "720h", "--yes", "--db", db)
    assert code == 0, err
    old = [m for m in made if m.age_days > 30]
    assert out.startswith(f"Deleted {len(old)} session(s) created before ")
    assert remaining(db) == [m.id for m in made if m.age_days <= 30]
    for m in old:
        code, _, _ = invoke("sessions", "show", m.id, "--db", db)
        assert code == 1  # gone, everything about it
    code, out, err = invoke("purge", "--older-than", "30d", "--yes", "--db", db, "--json")
    assert code == 0, err
    assert json.loads(out)["deleted"] == 0  # nothing left that old


def test_purge_asks_first(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    code, _, err = invoke("purge", "--older-than", "1w", "--db", db, stdin="n\n")
    # CliRunner's stdin is no terminal: purge refuses rather than guess.
    assert code == 2
    assert "confirm with --yes" in err
    assert remaining(db) == [m.id for m in made]


def test_purge_in_another_process_without_a_terminal(filled: tuple[str, list[Made]]) -> None:
    db, made = filled
    run = subprocess.run(
        [sys.executable, "-m", "icewatch", "purge", "--older-than", "3d", "--db", db, "-y"],
        env=serve_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert remaining(db) == [m.id for m in made if m.age_days <= 3]


@pytest.mark.parametrize("value", ["30x", "thirty days", "0d", "-3d", "1y", ""])
def test_bad_durations_exit_2(filled: tuple[str, list[Made]], value: str) -> None:
    db, made = filled
    code, out, err = invoke("purge", "--older-than", value, "--yes", "--db", db)
    assert code == 2
    assert out == ""
    assert err.startswith("error: --older-than: ")
    assert remaining(db) == [m.id for m in made]


def test_purge_needs_older_than(filled: tuple[str, list[Made]]) -> None:
    db, _ = filled
    code, _, err = invoke("purge", "--db", db)
    assert code == 2
    assert "--older-than" in err


def test_the_documented_purge_json_has_the_real_keys(filled: tuple[str, list[Made]]) -> None:
    db, _ = filled
    text = (Path(__file__).resolve().parents[2] / "docs" / "json-output.md").read_text("utf-8")
    section = text.split("## icewatch purge\n", 1)[1].split("\n## ", 1)[0]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    code, out, err = invoke("purge", "--older-than", "30d", "--dry-run", "--db", db, "--json")
    assert code == 0, err
    assert set(json.loads(out)) == set(example)
