"""``icewatch sdp parse``: summary, JSON, exit 1 when lines were malformed, 2 when not an SDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import DATA

from icewatch.cli import cli

ICEWATCH = Path(sys.executable).with_name("icewatch")
AV_OFFER = DATA / "ice" / "chromium-av-offer.sdp"
CAPTURE = DATA / "captures" / "firefox-153-default.json"


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sdp", "parse", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _firefox_sdp() -> str:
    sdp: str = json.loads(CAPTURE.read_text(encoding="utf-8"))["sdp"]
    return sdp


def test_clean_sdp_from_stdin() -> None:
    text = _firefox_sdp()
    code, out, err = _run("-", stdin=text)
    assert (code, err) == (0, "")
    ufrag = next(ln for ln in text.splitlines() if ln.startswith("a=ice-ufrag:"))[12:]
    assert f"ice-ufrag {ufrag}" in out
    assert out.count("candidate [") == text.count("a=candidate:") > 0
    assert "[srflx/ip/firefox]" in out
    assert "end-of-candidates" in out


def test_json_from_file_with_a_bad_candidate_exits_1() -> None:
    code, out, _ = _run(str(AV_OFFER), "--json")
    assert code == 1
    doc = json.loads(out)
    audio = doc["media"][0]
    assert len(audio["candidates"]) == 2
    assert audio["candidate_errors"][0]["field"] == "connection-address"
    assert audio["codecs"][0]["name"] == "opus"
    assert doc["problems"][0]["field"] == "rtpmap"


def test_summary_lists_bad_lines() -> None:
    code, out, _ = _run(str(AV_OFFER))
    assert code == 1
    assert "bad candidate line 13: connection-address" in out
    assert "problem     line 53: rtpmap" in out
    assert "codecs    111:opus" in out


def test_not_an_sdp_exits_2() -> None:
    code, out, err = _run("-", stdin="hello\n")
    assert code == 2
    assert out == ""
    assert err.splitlines() == ["error: sdp: v: the first line must be 'v=0', got 'hello'"]


def test_missing_file_exits_2() -> None:
    code, _, err = _run("/nonexistent/x.sdp")
    assert code == 2
    assert len(err.splitlines()) == 1


def test_real_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "offer.sdp"
    path.write_text(_firefox_sdp(), encoding="utf-8")
    proc = subprocess.run(
        [str(ICEWATCH), "sdp", "parse", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(proc.stdout)["media"][0]["end_of_candidates"] is True
    bad = subprocess.run(
        [str(ICEWATCH), "sdp", "parse", "-"],
        input="v=1\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1
