"""The CLI face of the settings table: ``icewatch serve --help`` and ``icewatch config check``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from icewatch.cli import cli
from icewatch.service.settings import SETTINGS


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icewatch.toml"
    path.write_text(text)
    return path


def test_serve_help_documents_every_flag_and_variable() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for s in SETTINGS:
        assert s.flag is not None
        assert s.flag in text, s.name
        assert f"env {s.env}" in text, s.name
        if s.key:
            assert f"config key {s.key}" in text, s.name


def test_config_check_shows_values_and_sources(tmp_path: Path) -> None:
    path = _config(tmp_path, "stun_port = 3479\n")
    result = CliRunner().invoke(
        cli,
        ["config", "check", "--config", str(path), "--port", "8081", "--api-key", "x" * 20],
        env={"ICEWATCH_REALM": "example.net"},
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines["port"].split()[1:] == ["8081", "cli", "--port"]
    assert lines["stun_port"].split()[1:] == ["3479", "config", str(path)]
    assert lines["realm"].split()[1:] == ["example.net", "env", "ICEWATCH_REALM"]
    assert lines["host"].split()[1:] == ["127.0.0.1", "default"]
    assert "x" * 20 not in result.output


def test_config_check_rejects_bad_values_with_one_line() -> None:
    result = CliRunner().invoke(cli, ["config", "check"], env={"ICEWATCH_PORT": "70000"})
    assert result.exit_code == 2
    assert result.output == "error: ICEWATCH_PORT: not a port number 1-65535: '70000'\n"
