"""``icewatch serve`` with IP intelligence: the banner, bad lists, SIGHUP reload; and the
enricher on real evidence."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import time
from pathlib import Path

from icewatch.core.evidence import (
    HttpSighting,
    Observation,
    ObservationSource,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    StunKind,
    WebRtcStatus,
)
from icewatch.core.intel import Kind
from icewatch.core.scoring import evaluate
from icewatch.intel.enrich import MAX_LOOKUPS, enrich_evidence, make_enricher
from icewatch.intel.runtime import RuntimeHolder, load_runtime
from tests.service.proc import free_port, run_failing, serve_argv, start

ip = ipaddress.ip_address


def test_banner_names_the_data_and_the_lists(tmp_path: Path) -> None:
    dc = tmp_path / "dc.txt"
    dc.write_text("192.0.2.0/24\n")
    served = start(tmp_path, "--list", f"datacenter={dc}", "--data-dir", str(tmp_path / "d"))
    try:
        assert served.popen.stdout is not None
        banner = [served.popen.stdout.readline().decode() for _ in range(8)]
        line = next(x for x in banner if x.strip().startswith("ip intel"))
        assert "embedded default (iporigin" in line
        assert "lists: list:datacenter:dc.txt" in line
        # SIGHUP re-reads the lists
        dc.write_text("192.0.2.0/24\n198.51.100.0/24\n")
        served.popen.send_signal(signal.SIGHUP)
        time.sleep(1.0)
    finally:
        code, _out, err = served.stop()
    assert code == 0
    assert "IP intelligence reloaded" in err


def test_a_bad_list_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.0/8\nnot a network\n")
    argv = serve_argv(free_port(), free_port(), "sqlite:///icewatch.db", "--list", f"vpn={bad}")
    done = run_failing(tmp_path, [*argv, "--data-dir", str(tmp_path / "d")])
    assert done.returncode == 2
    errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1
    assert f"list {bad}: line 2" in errors[0]
    missing = run_failing(tmp_path, [*argv[:-1], f"allow={tmp_path / 'nope.txt'}"])
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    wrong = run_failing(tmp_path, [*argv[:-1], "hosting=/x"])
    assert wrong.returncode == 2
    assert "--list" in wrong.stderr


def _evidence() -> SessionEvidence:
    http = HttpSighting(ip("203.0.113.9"), ip("192.0.2.10"), 1.0)  # via a trusted proxy
    obs = Observation(ObservationSource.STUN, StunKind.BINDING, ip("198.51.100.7"), 5000,
                      "udp", 1.5, "aa")  # fmt: skip
    report = PageReport(
        WebRtcStatus.OK,
        candidates=(
            ReportedCandidate(
                "candidate:1 1 udp 1677729535 198.51.100.7 5000 typ srflx raddr 10.0.0.5 rport 1"
            ),
        ),
    )
    return SessionEvidence("s", 1.0, http, report=report, reported_at=2.0, observations=(obs,))


def test_enricher_looks_up_every_address_once(tmp_path: Path) -> None:
    dc = tmp_path / "dc.txt"
    dc.write_text("198.51.100.0/24\n203.0.113.0/24\n")
    runtime = load_runtime(tmp_path / "d", [f"datacenter={dc}"])
    ev = enrich_evidence(_evidence(), runtime)
    seen = {str(x.ip): x.seen_as for x in ev.intel.lookups}
    assert seen == {
        "192.0.2.10": ("http",),
        "203.0.113.9": ("http_peer",),
        "198.51.100.7": ("observed", "reported"),
        "10.0.0.5": ("reported",),
    }
    assert ev.intel.data.startswith("embedded default")
    obs = next(x for x in ev.intel.lookups if str(x.ip) == "198.51.100.7")
    assert obs.result.hits[-1].kind is Kind.HOSTING
    _, verdict = evaluate(ev)
    sig = next(s for s in verdict.signals if s.code == "ip.datacenter")
    # the trusted proxy (203.0.113.9) is listed too, but never counts
    assert [a["ip"] for a in sig.evidence["addresses"]] == ["198.51.100.7"]


def test_enricher_reads_the_holder_each_time(tmp_path: Path) -> None:
    holder = RuntimeHolder()
    enrich = make_enricher(holder)
    first: SessionEvidence = asyncio.run(enrich(_evidence()))  # type: ignore[arg-type]
    assert first.intel.data == "none"
    holder.current = load_runtime(tmp_path)
    second: SessionEvidence = asyncio.run(enrich(_evidence()))  # type: ignore[arg-type]
    assert second.intel.data.startswith("embedded default")


def test_lookups_are_bounded() -> None:
    many = tuple(
        ReportedCandidate(f"candidate:{i} 1 udp 2122260223 10.1.{i // 250}.{i % 250} 5000 typ host")
        for i in range(150)
    )
    ev = SessionEvidence(
        "s",
        1.0,
        HttpSighting(ip("192.0.2.1"), ip("192.0.2.1"), 1.0),
        report=PageReport(WebRtcStatus.OK, candidates=many),
    )
    out = enrich_evidence(ev, load_runtime(Path("/nonexistent-icewatch-data")))
    assert len(out.intel.lookups) == MAX_LOOKUPS
    assert str(out.intel.lookups[0].ip) == "192.0.2.1"
