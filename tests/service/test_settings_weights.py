"""``signal_weights``: a ``[signal_weights]`` table in the config file, ``code=weight`` pairs
in the environment and on the command line, checked against the rule table at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from icewatch.cli import cli
from icewatch.core.scoring import RULES
from icewatch.service.runner import web_settings
from icewatch.service.settings import SettingsError, load_settings

INFORMATIONAL = next(r.code.value for r in RULES if r.informational)
WEIGHTED = [r.code.value for r in RULES if not r.informational]


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icewatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_table_in_the_config_file(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        'port = 8081\n\n[signal_weights]\n"ip.webrtc_http_mismatch" = 40\n'
        "candidate.spoofed = 75\n",  # the dotted form reads as a nested table
    )
    s = load_settings({"config": str(path)}, env={})
    assert s.signal_weights == (("ip.webrtc_http_mismatch", 40), ("candidate.spoofed", 75))
    assert s.source("signal_weights") == f"config {path}"
    assert web_settings(s).weights == {"ip.webrtc_http_mismatch": 40, "candidate.spoofed": 75}


def test_the_env_and_flag_forms_and_precedence(tmp_path: Path) -> None:
    path = config(tmp_path, '[signal_weights]\n"ip.webrtc_http_mismatch" = 40\n')
    env = {"ICEWATCH_SIGNAL_WEIGHTS": f"{WEIGHTED[0]}=10, {WEIGHTED[1]}=0"}
    s = load_settings({"config": str(path)}, env=env)
    assert s.signal_weights == ((WEIGHTED[0], 10), (WEIGHTED[1], 0))
    assert s.source("signal_weights") == "env ICEWATCH_SIGNAL_WEIGHTS"
    s = load_settings({"config": str(path), "signal_weights": f"{WEIGHTED[0]}=99"}, env=env)
    assert s.signal_weights == ((WEIGHTED[0], 99),)
    assert s.source("signal_weights") == "cli --signal-weights"
    assert load_settings({}, env={}).signal_weights == ()
    assert web_settings(load_settings({}, env={})).weights is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('"ip.no_such_signal" = 10', "unknown signal code 'ip.no_such_signal'"),
        (f'"{INFORMATIONAL}" = 5', f"{INFORMATIONAL} is informational: its weight is always 0"),
        ('"ip.webrtc_http_mismatch" = 101', "not an integer in 0..100"),
        ('"ip.webrtc_http_mismatch" = "40"', "not an integer in 0..100"),
        ('"ip.webrtc_http_mismatch" = 4.5', "not an integer in 0..100"),
    ],
)
def test_bad_tables_name_the_code(tmp_path: Path, text: str, reason: str) -> None:
    path = config(tmp_path, f"[signal_weights]\n{text}\n")
    with pytest.raises(SettingsError) as info:
        load_settings({"config": str(path)}, env={})
    assert str(info.value).startswith(f"config file {path}: key 'signal_weights': ")
    assert reason in str(info.value)


def test_a_plain_value_instead_of_a_table_is_refused(tmp_path: Path) -> None:
    path = config(tmp_path, "signal_weights = 5\n")
    with pytest.raises(SettingsError, match="expected a table of CODE = WEIGHT, got int"):
        load_settings({"config": str(path)}, env={})
    # A string in the text form is fine.
    path = config(tmp_path, 'signal_weights = "ip.webrtc_http_mismatch=20"\n')
    s = load_settings({"config": str(path)}, env={})
    assert s.signal_weights == (("ip.webrtc_http_mismatch", 20),)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ip.nope=1", "unknown signal code 'ip.nope'"),
        (f"{INFORMATIONAL}=1", "is informational"),
        ("ip.webrtc_http_mismatch", "expected CODE=WEIGHT"),
        ("ip.webrtc_http_mismatch=high", "not an integer: 'high'"),
        ("ip.webrtc_http_mismatch=1,ip.webrtc_http_mismatch=2", "given twice"),
    ],
)
def test_config_check_exits_2_naming_the_culprit(value: str, reason: str) -> None:
    result = CliRunner().invoke(cli, ["config", "check"], env={"ICEWATCH_SIGNAL_WEIGHTS": value})
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ICEWATCH_SIGNAL_WEIGHTS: ")
    assert reason in lines[0]


def test_config_check_shows_the_weights_and_where_they_came_from() -> None:
    result = CliRunner().invoke(
        cli, ["config", "check", "--signal-weights", "ip.webrtc_http_mismatch=30"], env={}
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("signal_weights"))
    assert "ip.webrtc_http_mismatch=30" in row
    assert row.rstrip().endswith("cli --signal-weights")
    result = CliRunner().invoke(cli, ["config", "check"], env={})
    row = next(line for line in result.stdout.splitlines() if line.startswith("signal_weights"))
    assert "(defaults)" in row
