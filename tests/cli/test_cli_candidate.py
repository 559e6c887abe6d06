"""``icewatch candidate parse``: listing for people, JSON for programs, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from icewatch.cli import cli

ICEWATCH = Path(sys.executable).with_name("icewatch")
CHROME = (
    "candidate:2588764996 1 udp 1677729535 10.77.1.2 39086 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag mOtW network-cost 999"
)
FIREFOX = "candidate:0 1 UDP 2122187007 e4a17765-9fed-45e5-a557-b6bc5fa2d6a1.local 46382 typ host"


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["candidate", "parse", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_listing() -> None:
    code, out, err = _run(CHROME)
    assert (code, err) == (0, "")
    rows = dict(line.split(None, 1) for line in out.splitlines() if not line.startswith(" "))
    assert rows["protocol"] == "udp"
    assert rows["type"] == "srflx"
    assert rows["address"] == "10.77.1.2 (ip)"
    assert rows["raddr"] == "0.0.0.0 (ip)"
    assert rows["network_cost"] == "999"
    assert "layout=libwebrtc" in out
    assert "(ipv4)" in out
    assert "any_address" in out


def test_listing_firefox() -> None:
    code, out, _ = _run(FIREFOX)
    assert code == 0
    assert "udp (sent as 'UDP')" in out
    assert "(mdns)" in out
    assert "layout=firefox" in out


def test_json() -> None:
    code, out, err = _run(CHROME, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["type"] == "srflx"
    assert doc["protocol"] == "udp"
    assert doc["raw"] == CHROME
    assert doc["priority_decoded"]["address_class"] == "ipv4"


def test_stdin() -> None:
    code, out, _ = _run("-", "--json", stdin=FIREFOX + "\r\n")
    assert code == 0
    assert json.loads(out)["mdns"] is True


@pytest.mark.parametrize("args", [("",), ("a=end-of-candidates",), ("-",)])
def test_end_of_candidates(args: tuple[str, ...]) -> None:
    code, out, _ = _run(*args, stdin="\n")
    assert code == 0
    assert "end-of-candidates" in out
    code, out, _ = _run(*args, "--json", stdin="")
    assert json.loads(out) == {"end_of_candidates": True}


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("candidate:0 1 udp 2122187007 10.0.0.1 70000 typ host", "port"),
        ("candidate:0 1 udp x 10.0.0.1 1 typ host", "priority"),
        ("candidate:0 1 udp 1 10.0.0.1 1 typ host generation", "extensions"),
        ("candidate:0 1 udp 1 bad.local 1 typ host", "connection-address"),
    ],
)
def test_malformed_exits_2_with_one_line(line: str, field: str) -> None:
    code, out, err = _run(line)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: candidate: {field}: ")


def test_real_subprocess_malformed() -> None:
    proc = subprocess.run(
        [
            str(ICEWATCH),
            "candidate",
            "parse",
            "candidate:0 1 udp 2122187007 10.0.0.1 65536 typ host",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: candidate: port: 65536 is above 65535",
    ]


def test_real_subprocess_json() -> None:
    proc = subprocess.run(
        [str(ICEWATCH), "candidate", "parse", "--json", FIREFOX],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(proc.stdout)["priority_decoded"]["engine_layout"] == "firefox"
