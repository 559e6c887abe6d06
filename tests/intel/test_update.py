"""``icewatch data update`` against a local HTTP server serving real-format files.

The feeds are the core's hand-written samples (``tests/data/intel``) and, where
``../shared/data`` is present, real copies read at test time (never committed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from icewatch.cli import cli
from icewatch.core.intel import Kind
from icewatch.intel.files import DataDir
from icewatch.intel.runtime import load_compiled_file, load_runtime
from icewatch.intel.sources import SOURCES_BY_NAME, SourceSpec
from icewatch.intel.update import run_update
from tests.conftest import ROOT, SHARED_DATA
from tests.intel.feeds import Feed, FeedServer, feed_server

AWS_SAMPLE = json.dumps(
    {
        "syncToken": "1755875825",
        "createDate": "2026-08-22-15-17-05",
        "prefixes": [
            {
                "ip_prefix": "3.5.140.0/22",
                "region": "ap-northeast-2",
                "service": "AMAZON",
                "network_border_group": "ap-northeast-2",
            }
        ],
        "ipv6_prefixes": [
            {
                "ipv6_prefix": "2600:1f14::/35",
                "region": "us-west-2",
                "service": "AMAZON",
                "network_border_group": "us-west-2",
            }
        ],
    }
).encode()
TOR_SAMPLE = b"185.220.101.1\n185.220.101.2\n"
VPN_SAMPLE = b"# vpn\n198.51.100.0/24\n"


def _spec(name: str, server: FeedServer, path: str) -> SourceSpec:
    return replace(SOURCES_BY_NAME[name], url=server.url(path))


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        s.feeds["/aws.json"] = Feed(AWS_SAMPLE)
        s.feeds["/tor"] = Feed(TOR_SAMPLE)
        s.feeds["/vpn.txt"] = Feed(VPN_SAMPLE)
        yield s


def _specs(server: FeedServer) -> list[SourceSpec]:
    return [
        _spec("aws", server, "/aws.json"),
        _spec("tor-exits", server, "/tor"),
        _spec("x4b-vpn-v4", server, "/vpn.txt"),
    ]


def test_first_download_compiles_every_source(tmp_path: Path, server: FeedServer) -> None:
    report = run_update(tmp_path, _specs(server))
    assert report.ok, report.as_dict()
    assert [o.status for o in report.outcomes] == ["updated"] * 3
    db = load_compiled_file(tmp_path / "intel.db")
    assert [s.name for s in db.sources] == ["aws", "tor-exits", "x4b-vpn-v4"]
    hit = db.lookup("3.5.140.9").hits[0]
    assert (hit.kind, hit.provenance.source, hit.provenance.prefix) == (
        Kind.CLOUD,
        "aws",
        "3.5.140.0/22",
    )
    assert hit.provenance.version == "2026-08-22-15-17-05"
    # plain lists are dated by the server's Last-Modified
    assert db.lookup("198.51.100.7").hits[0].provenance.version == "2026-08-22"
    assert db.lookup("185.220.101.2").hits[0].kind is Kind.TOR
    states = DataDir(tmp_path).states()
    assert states["aws"].etag == server.feeds["/aws.json"].tag()
    assert (tmp_path / "sources" / "aws").read_bytes() == AWS_SAMPLE


def test_conditional_request_304_keeps_the_data(tmp_path: Path, server: FeedServer) -> None:
    run_update(tmp_path, _specs(server))
    before = (tmp_path / "intel.db").read_bytes()
    report = run_update(tmp_path, _specs(server))
    assert report.ok
    assert [o.status for o in report.outcomes] == ["unchanged"] * 3
    assert not report.recompiled
    assert (tmp_path / "intel.db").read_bytes() == before
    second = server.hits("/aws.json")[1].headers
    assert second["if-none-match"] == server.feeds["/aws.json"].tag()
    assert second["if-modified-since"] == "Sat, 22 Aug 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("broken", "detail"),
    [
        (Feed(b"", status=500), "HTTP 500"),
        (Feed(b"185.220.101.3\n" * 50, truncate_to=20), "truncated"),
        (Feed(b"this is not an address\n"), "malformed"),
        (Feed(b"185.220.101.3\n", delay=2.5), "timed out"),
    ],
    ids=["500", "truncated", "malformed", "timeout"],
)
def test_a_failing_source_keeps_its_previous_copy(
    tmp_path: Path, server: FeedServer, broken: Feed, detail: str
) -> None:
    run_update(tmp_path, _specs(server))
    server.feeds["/tor"] = broken
    server.feeds["/aws.json"] = Feed(AWS_SAMPLE.replace(b"3.5.140.0/22", b"3.5.144.0/22"))
    import httpx

    from icewatch.intel.fetch import open_client

    def client() -> httpx.Client:
        return open_client(timeout=1.0)

    report = run_update(tmp_path, _specs(server), client_factory=client)
    assert not report.ok
    by_name = {o.name: o for o in report.outcomes}
    assert by_name["tor-exits"].status == "failed"
    assert detail in by_name["tor-exits"].detail
    assert by_name["aws"].status == "updated"
    db = load_compiled_file(tmp_path / "intel.db")
    assert db.lookup("3.5.144.1").hits, "the other source was updated"
    assert not db.lookup("3.5.140.1").hits
    assert db.lookup("185.220.101.1").hits[0].kind is Kind.TOR, "previous Tor copy kept"
    state = DataDir(tmp_path).states()["tor-exits"]
    assert detail in (state.error or "")
    assert (tmp_path / "sources" / "tor-exits").read_bytes() == TOR_SAMPLE


def test_one_source_only_keeps_the_others(tmp_path: Path, server: FeedServer) -> None:
    run_update(tmp_path, _specs(server))
    server.feeds["/vpn.txt"] = Feed(b"203.0.113.0/24\n")
    report = run_update(tmp_path, _specs(server), only=["x4b-vpn-v4"])
    assert report.ok
    statuses = {o.name: o.status for o in report.outcomes}
    assert statuses == {"x4b-vpn-v4": "updated", "aws": "kept", "tor-exits": "kept"}
    assert len(server.hits("/aws.json")) == 1
    db = load_compiled_file(tmp_path / "intel.db")
    assert db.lookup("203.0.113.9").hits
    assert db.lookup("3.5.140.1").hits


def test_from_file_for_machines_without_internet(tmp_path: Path) -> None:
    listing = tmp_path / "tor.txt"
    listing.write_bytes(TOR_SAMPLE)
    report = run_update(
        tmp_path / "d",
        [SOURCES_BY_NAME["tor-exits"]],
        from_files={"tor-exits": listing},
        client_factory=lambda: pytest.fail("no HTTP client without downloads"),
    )
    assert report.ok
    assert DataDir(tmp_path / "d").states()["tor-exits"].origin == "file"


def test_embedded_default_is_a_source(tmp_path: Path) -> None:
    report = run_update(tmp_path, [SOURCES_BY_NAME["embedded"]])
    assert report.ok
    db = load_compiled_file(tmp_path / "intel.db")
    assert db.lookup("52.95.110.1").hits[0].provider == "Amazon AWS"


def test_no_url_source_without_file_fails_clearly(tmp_path: Path) -> None:
    report = run_update(tmp_path, [SOURCES_BY_NAME["asn-mmdb"]])
    assert not report.ok
    assert "--from-file asn-mmdb=PATH" in report.outcomes[0].detail


def test_azure_url_is_discovered_from_the_download_page(tmp_path: Path) -> None:
    sample = json.dumps(
        {
            "changeNumber": 321,
            "cloud": "Public",
            "values": [
                {
                    "name": "AzureCloud",
                    "id": "AzureCloud",
                    "properties": {"addressPrefixes": ["20.33.0.0/16"], "region": ""},
                }
            ],
        }
    ).encode()
    with feed_server() as s:
        s.feeds["/file/ServiceTags_Public_20260817.json"] = Feed(sample)
        page = f'<a href="{s.url("/file/ServiceTags_Public_20260817.json")}">download</a>'
        s.feeds["/details"] = Feed(page.encode())
        spec = _spec("azure", s, "/details")
        report = run_update(tmp_path, [spec])
    assert report.ok, report.as_dict()
    assert report.outcomes[0].url.endswith("ServiceTags_Public_20260817.json")
    db = load_compiled_file(tmp_path / "intel.db")
    assert db.lookup("20.33.1.1").hits[0].provider == "Microsoft Azure"


def test_a_second_update_waits_for_none_but_refuses(tmp_path: Path, server: FeedServer) -> None:
    directory = DataDir(tmp_path)
    with directory.locked():
        report = run_update(tmp_path, _specs(server))
    assert report.error is not None
    assert "another update" in report.error
    assert not (tmp_path / "intel.db").exists()


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not present")
def test_real_files_from_the_shared_data(tmp_path: Path) -> None:
    with feed_server() as s:
        s.feeds["/aws"] = Feed((SHARED_DATA / "aws-ip-ranges.json").read_bytes())
        s.feeds["/dc"] = Feed((SHARED_DATA / "x4b" / "datacenter_ipv4.txt").read_bytes())
        s.feeds["/vpnasn"] = Feed((SHARED_DATA / "x4b" / "vpn_asn.txt").read_bytes())
        s.feeds["/relay"] = Feed((SHARED_DATA / "ipranges" / "apple-proxy_ipv4.txt").read_bytes())
        specs = [
            _spec("aws", s, "/aws"),
            _spec("x4b-datacenter-v4", s, "/dc"),
            _spec("x4b-vpn-asn", s, "/vpnasn"),
            replace(_spec("apple-private-relay", s, "/relay"), format="cidr"),
        ]
        report = run_update(
            tmp_path,
            specs,
            from_files={"asn-csv": SHARED_DATA / "asn" / "asn-ipv4.csv.gz"},
        )
    assert report.ok, report.as_dict()
    db = load_compiled_file(tmp_path / "intel.db")
    assert db.has_asn_data()
    assert {s.name for s in db.sources} == {
        "aws", "x4b-datacenter-v4", "x4b-vpn-asn", "apple-private-relay", "asn-csv"
    }  # fmt: skip
    aws = db.lookup("3.5.140.9")
    assert aws.asn is not None
    assert any(h.provenance.source == "aws" for h in aws.hits)


# --- never half-written -------------------------------------------------------------------


def _update_argv(data_dir: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "icewatch", "data", "update", "--json",
            "--data-dir", str(data_dir), "--config", str(config)]  # fmt: skip


def _config(tmp_path: Path, server: FeedServer, names: dict[str, str]) -> Path:
    config = tmp_path / "icewatch.toml"
    entries = ", ".join(f'"{n}={server.url(p)}"' for n, p in names.items())
    config.write_text(f"data_sources = [{entries}]\n")
    return config


def test_killed_update_leaves_the_old_file_whole(tmp_path: Path, server: FeedServer) -> None:
    names = {"aws": "/aws.json", "tor-exits": "/tor", "x4b-vpn-v4": "/vpn.txt"}
    config = _config(tmp_path, server, names)
    data_dir = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}"}
    done = subprocess.run(_update_argv(data_dir, config), env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    before = (data_dir / "intel.db").read_bytes()
    # Second run: new content, but the last feed hangs; kill the process mid-update.
    server.feeds["/aws.json"] = Feed(AWS_SAMPLE.replace(b"3.5.140.0/22", b"3.5.144.0/22"))
    server.feeds["/vpn.txt"] = Feed(b"203.0.113.0/24\n", delay=30)
    proc = subprocess.Popen(_update_argv(data_dir, config), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 20
    while not server.hits("/vpn.txt")[1:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.hits("/vpn.txt")) == 2, "the second update never reached the last feed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert (data_dir / "intel.db").read_bytes() == before
    load_compiled_file(data_dir / "intel.db")
    # the next update cleans up and completes
    server.feeds["/vpn.txt"] = Feed(b"203.0.113.0/24\n")
    done = subprocess.run(_update_argv(data_dir, config), env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not list(data_dir.rglob(".tmp-*"))
    assert load_compiled_file(data_dir / "intel.db").lookup("3.5.144.1").hits


def test_a_crash_while_writing_keeps_the_old_file(
    tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_update(tmp_path, _specs(server))
    before = (tmp_path / "intel.db").read_bytes()
    server.feeds["/tor"] = Feed(b"185.220.101.9\n")

    def failing_fsync(fd: int) -> None:  # the disk fails under the write (OS edge)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    report = run_update(tmp_path, _specs(server))
    assert report.error is not None
    assert "Input/output error" in report.error
    monkeypatch.undo()
    assert (tmp_path / "intel.db").read_bytes() == before
    assert not list(tmp_path.glob(".tmp-*"))


# --- the CLI ------------------------------------------------------------------------------


def test_cli_update_json_and_exit_status(tmp_path: Path, server: FeedServer) -> None:
    names = {"aws": "/aws.json", "tor-exits": "/tor"}
    config = _config(tmp_path, server, names)
    runner = CliRunner()
    args = ["data", "update", "--json", "--data-dir", str(tmp_path / "d"), "--config", str(config)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["ok"] is True
    assert [s["status"] for s in doc["sources"]] == ["updated", "updated"]
    server.feeds["/tor"] = Feed(b"", status=503)
    server.feeds["/aws.json"] = Feed(AWS_SAMPLE + b" ")
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert {s["name"]: s["status"] for s in doc["sources"]} == {
        "aws": "updated",
        "tor-exits": "failed",
    }


def test_cli_update_text_and_bad_usage(tmp_path: Path, server: FeedServer) -> None:
    config = _config(tmp_path, server, {"tor-exits": "/tor"})
    runner = CliRunner()
    base = ["data", "update", "--data-dir", str(tmp_path / "d"), "--config", str(config)]
    result = runner.invoke(cli, base)
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output
    bad = runner.invoke(cli, [*base, "--source", "nope"])
    assert bad.exit_code == 2
    assert "not an enabled source" in bad.output
    bad = runner.invoke(cli, [*base, "--from-file", "tor-exits"])
    assert bad.exit_code == 2


def test_server_runtime_prefers_the_compiled_file(tmp_path: Path, server: FeedServer) -> None:
    assert load_runtime(tmp_path).origin == "embedded"
    run_update(tmp_path, _specs(server))
    runtime = load_runtime(tmp_path)
    assert runtime.origin == "compiled"
    assert runtime.lookup(__import__("ipaddress").ip_address("185.220.101.1")).hits
    (tmp_path / "intel.db").write_bytes(b"garbage")
    broken = load_runtime(tmp_path)
    assert broken.origin == "embedded"
    assert any("unusable" in w for w in broken.warnings)
