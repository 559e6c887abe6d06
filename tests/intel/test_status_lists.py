"""``icewatch data status`` (text and JSON), operator lists, the embedded default."""

from __future__ import annotations

import ipaddress
import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from icewatch.cli import cli
from icewatch.core.intel import Kind
from icewatch.intel.embedded import EXCLUDED_PROVIDERS, load_embedded, parse_iporigin
from icewatch.intel.lists import ListError, load_lists, parse_specs
from icewatch.intel.runtime import load_runtime
from icewatch.intel.sources import SOURCES_BY_NAME
from icewatch.intel.status import data_status
from icewatch.intel.update import run_update

ip = ipaddress.ip_address


def _status(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "status", "--data-dir", str(tmp_path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_status_of_a_fresh_install_uses_the_embedded_default(tmp_path: Path) -> None:
    code, out, err = _status(tmp_path, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["server_uses"] == "embedded"
    assert doc["compiled"] is None
    assert doc["embedded"]["package"] == "iporigin"
    assert doc["embedded"]["built"].startswith("2026-10-05")
    assert "MIT" in doc["embedded"]["licence"]
    assert set(doc["embedded"]["excluded"]) == EXCLUDED_PROVIDERS
    assert doc["asn_data"] is False
    assert any("no IP → ASN data" in w for w in doc["warnings"])
    code, out, err = _status(tmp_path)
    assert code == 0
    assert "server uses     embedded" in out
    assert "warning: no IP → ASN data" in err


def test_status_lists_sources_with_age_and_stale_warning(tmp_path: Path) -> None:
    listing = tmp_path / "tor.txt"
    listing.write_text("185.220.101.1\n")
    data = tmp_path / "d"
    run_update(data, [SOURCES_BY_NAME["tor-exits"]], from_files={"tor-exits": listing})
    enabled = [SOURCES_BY_NAME["tor-exits"], SOURCES_BY_NAME["aws"]]
    doc = data_status(data, enabled, stale_days=7)
    assert doc["server_uses"] == "compiled"
    rows = {r["name"]: r for r in doc["sources"]}
    assert rows["tor-exits"]["records"] == 1
    assert rows["tor-exits"]["in_compiled"] is True
    assert rows["tor-exits"]["stale"] is False
    assert rows["tor-exits"]["licence"]
    assert rows["aws"]["fetched_at"] is None
    later = data_status(data, enabled, stale_days=7, clock=lambda: time.time() + 10 * 86400)
    rows = {r["name"]: r for r in later["sources"]}
    assert rows["tor-exits"]["stale"] is True
    assert any("tor-exits is 10 days old" in w for w in later["warnings"])
    assert any("compiled data is 10 days old" in w for w in later["warnings"])
    _code, out, _err = _status(data)
    assert "tor-exits" in out
    assert "compiled        " in out


def test_status_reports_an_unusable_compiled_file(tmp_path: Path) -> None:
    (tmp_path / "intel.db").write_bytes(b"ICWINTEL truncated")
    doc = data_status(tmp_path, [], stale_days=7)
    assert doc["compiled"]["valid"] is False
    assert doc["server_uses"] == "embedded"


# --- operator lists ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("datacenter", Kind.HOSTING),
        ("vpn", Kind.VPN),
        ("tor", Kind.TOR),
        ("relay_service", Kind.RELAY_SERVICE),
        ("allow", Kind.ALLOW),
    ],
)
def test_each_list_kind(tmp_path: Path, kind: str, expected: Kind) -> None:
    path = tmp_path / f"{kind}.txt"
    path.write_text("# mine\n10.77.1.2/32\n2001:db8::/48  # lab\n")
    runtime = load_runtime(tmp_path / "nodata", [f"{kind}={path}"])
    hit = runtime.lookup(ip("10.77.1.2")).hits[-1]
    assert hit.kind is expected
    assert hit.provenance.source == f"list:{kind}:{kind}.txt"
    assert hit.provenance.prefix == "10.77.1.2/32"
    assert runtime.lookup(ip("2001:db8::5")).hits[-1].kind is expected
    assert not runtime.lookup(ip("10.77.1.3")).hits
    assert f"list:{kind}:{kind}.txt" in runtime.description


def test_allow_list_is_reported_alongside(tmp_path: Path) -> None:
    dc = tmp_path / "dc.txt"
    dc.write_text("10.0.0.0/8\n")
    allow = tmp_path / "allow.txt"
    allow.write_text("10.77.1.0/24\n")
    runtime = load_runtime(tmp_path / "nodata", [f"datacenter={dc}", f"allow={allow}"])
    assert runtime.lookup(ip("10.77.1.2")).allowed
    assert not runtime.lookup(ip("10.5.0.1")).allowed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"10.0.0.0/8\nnot-a-network\n", "line 2"),
        (b"\xff\xfe", "not UTF-8"),
        (b"10.0.0.0/33\n", "prefix length"),
    ],
)
def test_bad_list_is_a_clear_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ListError, match=message) as info:
        load_lists(parse_specs([f"datacenter={path}"]))
    assert str(path) in str(info.value)


def test_bad_list_spec(tmp_path: Path) -> None:
    with pytest.raises(ListError, match="KIND=PATH"):
        parse_specs(["hosting=/x"])
    with pytest.raises(ListError, match="KIND=PATH"):
        parse_specs(["datacenter"])


def test_two_lists_with_one_name_stay_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "l.txt").write_text("192.0.2.0/24\n")
    (tmp_path / "b" / "l.txt").write_text("198.51.100.0/24\n")
    sources = load_lists(
        parse_specs([f"vpn={tmp_path / 'a' / 'l.txt'}", f"vpn={tmp_path / 'b' / 'l.txt'}"])
    )
    assert [s.info.name for s in sources] == ["list:vpn:l.txt", "list:vpn:l.txt#2"]


def test_status_shows_lists_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "g.txt"
    good.write_text("192.0.2.0/24\n")
    doc = data_status(
        tmp_path, [], stale_days=7, lists=[f"allow={good}", f"vpn={tmp_path / 'missing'}"]
    )
    assert doc["lists"][0]["records"] == 1
    assert "cannot read" in doc["lists"][1]["error"]
    assert any("refuse to start" in w for w in doc["warnings"])


# --- the embedded default ------------------------------------------------------------------


def test_embedded_default_classifies_without_download() -> None:
    source, info = load_embedded()
    assert info.version.startswith("iporigin 1.1.")
    assert info.kept < info.ranges
    runtime = load_runtime(Path("/nonexistent-icewatch-data"))
    assert runtime.origin == "embedded"
    aws = runtime.lookup(ip("52.95.110.1")).hits[0]
    assert (aws.kind, aws.provider, aws.provenance.source) == (
        Kind.HOSTING,
        "Amazon AWS",
        "embedded",
    )
    kinds = {r.kind for r in source.records}
    assert {Kind.HOSTING, Kind.VPN, Kind.TOR, Kind.RELAY_SERVICE, Kind.CRAWLER} <= kinds
    assert not {r.provider for r in source.records} & EXCLUDED_PROVIDERS


def test_embedded_reader_refuses_bad_tables() -> None:
    from icewatch.core.intel import IntelParseError

    with pytest.raises(IntelParseError, match="not an iporigin table"):
        parse_iporigin(b"X" * 40)
    with pytest.raises(IntelParseError, match="truncated"):
        parse_iporigin(b"IPORIGIN")
    good = load_embedded_bytes()
    with pytest.raises(IntelParseError):
        parse_iporigin(good[:-5])


def load_embedded_bytes() -> bytes:
    from importlib import resources

    return resources.files("iporigin").joinpath("data", "ranges.bin").read_bytes()


def test_no_data_at_all_degrades_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from icewatch.intel import runtime as rt
    from icewatch.intel.embedded import EmbeddedUnavailable

    def unavailable() -> None:
        raise EmbeddedUnavailable("the iporigin package is not installed")

    monkeypatch.setattr(rt, "load_embedded", unavailable)
    runtime = rt.load_runtime(tmp_path)
    assert runtime.origin == "none"
    assert not runtime.lookup(ip("52.95.110.1")).hits
    assert any("no IP-intelligence data" in w for w in runtime.warnings)
    assert os.path.isdir(tmp_path)
