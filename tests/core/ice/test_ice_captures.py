"""Every candidate line and SDP the real browsers produced (tests/data/captures/) parses.

The capture files are recorded by ``tests/browser/capture.py`` (see the README there);
this test fails when the directory is empty rather than passing on nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import DATA

from icewatch.core.ice import (
    END_OF_CANDIDATES,
    AddressKind,
    Candidate,
    EngineLayout,
    parse_candidate,
    parse_ice_line,
    parse_sdp,
)

CAPTURES = sorted((DATA / "captures").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def test_there_are_captures() -> None:
    assert len(CAPTURES) >= 2, "tests/data/captures/ holds no capture files"
    browsers = {_load(p)["browser"] for p in CAPTURES}
    assert {"chromium", "firefox"} <= browsers


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_capture_parses(path: Path) -> None:
    doc = _load(path)
    engine = EngineLayout.FIREFOX if doc["browser"] == "firefox" else EngineLayout.LIBWEBRTC
    lines = [c["candidate"] for c in doc["candidates"] if "candidate" in c]
    assert lines
    parsed: list[Candidate] = []
    for line in lines:
        result = parse_ice_line(line)
        if result is END_OF_CANDIDATES:
            assert line == ""
            continue
        assert isinstance(result, Candidate)
        assert parse_candidate(str(result)) == result
        assert result.priority_info.engine_layout is engine, line
        parsed.append(result)
    assert parsed

    desc = parse_sdp(doc["sdp"])
    assert desc.problems == ()
    assert desc.all_candidate_errors() == ()
    in_sdp = desc.all_candidates()
    assert in_sdp
    # The SDP's candidates are the trickled ones (Chromium drops ufrag in the SDP).
    trickled = {(c.foundation, c.port, str(c.address)) for c in parsed}
    assert {(c.foundation, c.port, str(c.address)) for c in in_sdp} <= trickled
    ufrags = {m.ice_ufrag for m in desc.media} | {desc.ice_ufrag}
    assert all(c.ufrag in ufrags for c in parsed if c.ufrag is not None)
    if "mdns" not in path.stem and "nomdns" not in path.stem and "noobfuscate" not in path.stem:
        assert any(c.address_kind is AddressKind.MDNS for c in parsed)
