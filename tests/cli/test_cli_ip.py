"""``icewatch ip classify``: table for people, JSON for programs, exit 2 on a bad address."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from icewatch.cli import cli

ICEWATCH = Path(sys.executable).with_name("icewatch")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["ip", "classify", *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_lists_category_and_tags() -> None:
    code, out, err = _run("8.8.8.8", "100.64.1.2", "::ffff:10.0.0.1", "fe80::1%eth0")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["ADDRESS", "CATEGORY", "GLOBAL", "REGISTRY", "TAGS", "NOTES"]
    assert len(lines) == 5
    assert lines[1].split()[:3] == ["8.8.8.8", "public", "yes"]
    assert lines[2].split()[:3] == ["100.64.1.2", "cgnat", "no"]
    assert "possible_tailscale" in lines[2]
    assert "Shared Address Space" in lines[2]
    assert lines[3].split()[:2] == ["::ffff:10.0.0.1", "private"]
    assert "ipv4_mapped" in lines[3]
    assert lines[4].split()[:2] == ["fe80::1%eth0", "link_local"]


def test_table_shows_teredo_embedded_addresses() -> None:
    code, out, _ = _run("2001:0:4136:e378:8000:63bf:3fff:fdd2")
    assert code == 0
    assert "teredo IPv4 192.0.2.45 (server 65.54.227.120, port 40000)" in out


def test_json_is_a_list_of_as_dict() -> None:
    code, out, err = _run("--json", "8.8.8.8", "64:ff9b::192.0.2.1")
    assert code == 0
    assert err == ""
    data = json.loads(out)
    assert [d["category"] for d in data] == ["public", "nat64"]
    assert data[0]["registry"] is None
    assert data[1]["embedded_ipv4"]["address"] == "192.0.2.1"
    assert set(data[0]) == {
        "address",
        "category",
        "registry",
        "globally_reachable",
        "tags",
        "mapped_from",
        "embedded_ipv4",
        "zone",
    }


@pytest.mark.parametrize("args", [["not-an-ip"], ["8.8.8.8", "300.1.1.1"], ["1.1.1.1%eth0"]])
def test_malformed_address_exits_2_before_printing_anything(args: list[str]) -> None:
    code, out, err = _run(*args)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: address {args[-1]!r}: ")


def test_json_flag_fails_the_same_way() -> None:
    code, out, err = _run("--json", "nope")
    assert (code, out) == (2, "")
    assert "nope" in err


def test_no_address_is_a_usage_error() -> None:
    code, _, _ = _run()
    assert code == 2


def test_real_subprocess_bad_address() -> None:
    assert ICEWATCH.exists(), f"console script not installed at {ICEWATCH}"
    proc = subprocess.run(
        [str(ICEWATCH), "ip", "classify", "1.1.1.1", "999.1.1.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "999.1.1.1" in lines[0]


def test_real_subprocess_json() -> None:
    proc = subprocess.run(
        [str(ICEWATCH), "ip", "classify", "--json", "3fff::1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(proc.stdout)[0]["category"] == "documentation"
