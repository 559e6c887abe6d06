"""``icewatch analyze`` and ``icewatch rescore`` on evidence made by the real API from the
recorded browser captures, and on real SQLite files — one of them while a real
``icewatch serve`` keeps writing to it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.service.proc import env as serve_env
from tests.service.proc import kill_quietly, start
from tests.web.support import capture, http_peer_of, replay, web_app

from icewatch.cli import cli
from icewatch.cli.analyze import parse_since
from icewatch.core.errors import ParseError
from icewatch.core.scoring import evaluate

PROXY = "10.77.1.3"  # HTTP through a proxy, WebRTC straight out: ip.webrtc_http_mismatch
MISMATCH = "ip.webrtc_http_mismatch"

#: (capture, HTTP peer or None for the capture's own): two low, two medium (proxy).
VISITS = [
    ("chromium-156-default", None),
    ("firefox-153-default", None),
    ("chromium-156-nat", PROXY),
    ("firefox-153-nat", PROXY),
]


def build(db_dir: Path, visits: list[tuple[str, str | None]] = VISITS) -> list[dict[str, Any]]:
    """Report each visit through the real app on ``db_dir/icewatch.db``; return, per
    visit, the session JSON the API answered and the evidence as stored."""

    async def scenario() -> list[dict[str, Any]]:
        out = []
        async with web_app(db_dir) as web:
            for name, peer in visits:
                data = capture(name)
                async with web.client(peer=peer or http_peer_of(data)) as client:
                    created, response = await replay(web, client, data)
                    assert response.status_code == 200, response.text
                stored = await web.store.get_session(created["id"])
                assert stored is not None
                out.append({"document": response.json(), "evidence": stored.evidence.as_dict()})
                web.clock.advance(10)
        return out

    return asyncio.run(scenario())


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    # COLUMNS: rich's width when the output is not a terminal.
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"} | (env or {}))
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return build(tmp_path_factory.mktemp("api"))


# --- analyze -----------------------------------------------------------------------------


def test_analyze_stored_evidence_gives_the_api_verdict(
    made: list[dict[str, Any]], tmp_path: Path
) -> None:
    for i, visit in enumerate(made):
        path = tmp_path / f"evidence-{i}.json"
        path.write_text(json.dumps(visit["evidence"]), encoding="utf-8")
        code, out, err = invoke("analyze", "--json", str(path))
        assert code == 0, err
        assert err == ""
        doc = json.loads(out)
        assert doc["count"] == 1
        assert doc["weights"] == {}
        (result,) = doc["sessions"]
        api = visit["document"]
        assert result["id"] == api["id"]
        assert result["form"] == "evidence"
        assert result["verdict"] == api["verdict"]
        assert result["previous"] is None
        assert result["level_changed"] is None
        assert result["fingerprint"]["id"] == api["fingerprint"]["id"]
        assert result["fingerprint"]["population"] is None  # offline: no population
    assert [v["document"]["verdict"]["level"] for v in made] == ["low", "low", "medium", "medium"]


def test_analyze_session_documents_jsonl_and_lists(
    made: list[dict[str, Any]], tmp_path: Path
) -> None:
    jsonl = tmp_path / "sessions.jsonl"
    jsonl.write_text("".join(json.dumps(v["document"]) + "\n\n" for v in made), "utf-8")
    listed = tmp_path / "sessions.json"
    listed.write_text(
        json.dumps([{"evidence": v["evidence"], "verdict": v["document"]["verdict"]} for v in made])
    )
    for path, form in ((jsonl, "session-document"), (listed, "export")):
        code, out, err = invoke("analyze", "--json", str(path))
        assert code == 0, err
        doc = json.loads(out)
        assert doc["count"] == len(made)
        assert doc["level_changed"] == 0
        for result, visit in zip(doc["sessions"], made, strict=True):
            assert result["form"] == form
            assert result["verdict"] == visit["document"]["verdict"]
            assert result["previous"]["level"] == visit["document"]["verdict"]["level"]
            assert result["level_changed"] is False
            assert result["fingerprint"]["id"] == visit["document"]["fingerprint"]["id"]
        assert doc["sessions"][0]["source"].endswith(("line 1", "item 1"))


def test_session_documents_with_enrichments_give_the_same_verdict(tmp_path: Path) -> None:
    """A session JSON document carries the enrichments rules read (the claimed client,
    parsed by the real user-agent enricher; a spoofed one here): analyze reads them back
    and reaches the verdict the server gave."""
    from icewatch.core.correlate import correlate
    from icewatch.core.document import session_document
    from icewatch.core.evidence import IntelEvidence, IntelLookup, session_evidence_from_dict
    from icewatch.core.intel.model import IntelHit, IntelResult, Kind, Provenance
    from icewatch.web.useragent import enrich_user_agent

    firefox_ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    hosting = IntelResult(
        hits=(
            IntelHit(
                Kind.HOSTING,
                "Example Hosting",
                64500,
                "Example Hosting Ltd",
                Provenance.of("operator-list", "2027-01-01", "10.77.1.0/24"),
            ),
        ),
        asn=64500,
    )
    docs = []
    for visit in build(tmp_path, VISITS[:1] + VISITS[2:3]):
        stored = session_evidence_from_dict(visit["evidence"])
        for ua in (None, firefox_ua):  # the browser's own, and Chromium claiming Firefox
            ev = stored
            if ua is not None and ev.report is not None:
                ev = dataclasses.replace(ev, report=dataclasses.replace(ev.report, user_agent=ua))
            ev = asyncio.run(enrich_user_agent(ev))
            assert ev.client is not None
            if ua is not None:  # and the HTTP address in a hosting network, by a list
                lookup = IntelLookup(ev.http.client_ip, ("http",), hosting)
                ev = dataclasses.replace(ev, intel=IntelEvidence("test", (lookup,)))
            _, verdict = evaluate(ev)
            docs.append(session_document(ev, verdict, correlate(ev)))
    path = tmp_path / "documents.json"
    path.write_text(json.dumps(docs), "utf-8")
    code, out, err = invoke("analyze", "--json", str(path))
    assert code == 0, err
    results = json.loads(out)["sessions"]
    assert [r["verdict"] for r in results] == [d["verdict"] for d in docs]
    assert [r["fingerprint"]["id"] for r in results] == [d["fingerprint"]["id"] for d in docs]
    spoofed = {s["code"] for s in results[1]["verdict"]["signals"]}
    assert {"candidate.shape_mismatch", "ip.datacenter"} <= spoofed, spoofed
    assert results[1]["fingerprint"]["components"][0]["value"] == "AS64500"


def test_analyze_with_other_weights(made: list[dict[str, Any]], tmp_path: Path) -> None:
    jsonl = tmp_path / "sessions.jsonl"
    jsonl.write_text("".join(json.dumps(v["document"]) + "\n" for v in made), "utf-8")
    code, out, err = invoke("analyze", "--json", "--weights", f"{MISMATCH}=80", str(jsonl))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["weights"] == {MISMATCH: 80}
    assert [r["verdict"]["level"] for r in doc["sessions"]] == ["low", "low", "high", "high"]
    assert doc["level_changed"] == 2

    config = tmp_path / "icewatch.toml"
    config.write_text(f'[signal_weights]\n"{MISMATCH}" = 10\n', "utf-8")
    code, out, err = invoke("analyze", "--json", "--config", str(config), str(jsonl))
    assert code == 0, err
    assert [r["verdict"]["level"] for r in json.loads(out)["sessions"]] == ["low"] * 4
    env = {"ICEWATCH_SIGNAL_WEIGHTS": f"{MISMATCH}=65"}
    code, out, err = invoke("analyze", "--json", str(jsonl), env=env)
    assert [r["verdict"]["score"] for r in json.loads(out)["sessions"]][2:] == [65, 65]


def test_analyze_table_for_people(made: list[dict[str, Any]], tmp_path: Path) -> None:
    jsonl = tmp_path / "sessions.jsonl"
    jsonl.write_text("".join(json.dumps(v["document"]) + "\n" for v in made), "utf-8")
    code, out, err = invoke("analyze", "--weights", f"{MISMATCH}=80", str(jsonl))
    assert code == 0, err
    assert "4 session(s) re-scored" in out
    assert "2 of 4 with a previous verdict changed level." in out
    assert f"Weights over the defaults: {MISMATCH}=80" in out
    for v in made:
        assert v["document"]["id"] in out
        assert v["document"]["fingerprint"]["id"] in out
    assert "→ changed" in out


def test_analyze_reads_standard_input(made: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        cli, ["analyze", "--json", "-"], input=json.dumps(made[0]["evidence"]), env={}
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sessions"][0]["id"] == made[0]["document"]["id"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "line 1: not JSON"),
        (b'{"a": 1}\n{"b": \n', "line 2: not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "no session in it"),
        (b"42", "expected a JSON object, got int"),
        (b'{"session_id": "x", "http": {}}', "evidence: unreadable stored session evidence"),
        (b'{"version": 1, "id": "x", "http": {"peer_ip": "nope"}}', "created_at: missing"),
        (
            b'{"version": 1, "id": "x", "created_at": "2027-01-15T08:00:00Z", "http": {}}',
            "address: not an IP address",
        ),
        (b'{"hello": "world"}', "neither session evidence"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_input_exits_2_with_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, out, err = invoke("analyze", str(path))
    assert code == 2
    assert out == ""
    line = one_error_line(err)
    assert str(path) in line
    assert message in line


def test_a_bad_line_among_good_ones_names_it(made: list[dict[str, Any]], tmp_path: Path) -> None:
    broken = dict(made[1]["evidence"])
    del broken["created_at"]
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(made[0]["evidence"]) + "\n" + json.dumps(broken) + "\n")
    code, out, err = invoke("analyze", "--json", str(path))
    assert code == 2
    assert out == ""  # nothing printed before everything was read
    assert f"{path} line 2: evidence:" in one_error_line(err)


def test_analyze_bad_options(tmp_path: Path) -> None:
    code, _, err = invoke("analyze", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read" in one_error_line(err)
    path = tmp_path / "e.json"
    path.write_text("{}")
    code, _, err = invoke("analyze", "--weights", "net.mdns=3", str(path))
    assert code == 2
    assert (
        one_error_line(err) == "error: --weights: net.mdns is informational: its weight is always 0"
    )
    code, _, err = invoke("analyze", "--weights", "no.such=3", str(path))
    assert "unknown signal code 'no.such'" in one_error_line(err)


# --- rescore -----------------------------------------------------------------------------


def levels(db: Path) -> dict[str, tuple[str, int, str | None]]:
    with sqlite3.connect(db) as conn:
        return {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT id, level, score, fingerprint FROM sessions")
        }


def test_rescore_after_changing_weights_in_the_config_file(tmp_path: Path) -> None:
    made = build(tmp_path)
    db = tmp_path / "icewatch.db"
    before = levels(db)
    assert sorted(level for level, _, _ in before.values()) == ["low", "low", "medium", "medium"]
    config = tmp_path / "icewatch.toml"
    config.write_text(f'db = "sqlite:///{db}"\n\n[signal_weights]\n"{MISMATCH}" = 70\n')

    # A dry run reports what would change and changes nothing.
    code, out, err = invoke("rescore", "--config", str(config), "--dry-run", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["dry_run"] is True
    assert summary["sessions"] == 4
    assert summary["changed_level"] == 2
    assert summary["transitions"] == [{"from": "medium", "to": "high", "sessions": 2}]
    assert summary["saved"] == 0
    assert summary["weights"] == {MISMATCH: 70}
    assert levels(db) == before

    code, out, err = invoke("rescore", "--config", str(config), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["changed_level"], summary["saved"]) == (2, 2)
    after = levels(db)
    proxied = {v["document"]["id"] for v in made if v["document"]["verdict"]["level"] == "medium"}
    for session_id, (level, score, fp) in after.items():
        if session_id in proxied:
            assert (level, score) == ("high", 70)
        else:
            assert after[session_id] == before[session_id]
        assert fp == before[session_id][2]

    # The API reads the new verdict back.
    async def read() -> str:
        from icewatch.store import open_store

        store = await open_store(f"sqlite:///{db}")
        stored = await store.get_session(sorted(proxied)[0])
        await store.close()
        assert stored is not None
        assert stored.verdict is not None
        return next(s for s in stored.verdict.signals if s.code == MISMATCH).weight.__str__()

    assert asyncio.run(read()) == "70"

    # Nothing left to change: nothing written.
    code, out, _ = invoke("rescore", "--config", str(config), "--json")
    summary = json.loads(out)
    assert (summary["changed_level"], summary["changed_score"], summary["saved"]) == (0, 0, 0)

    # Back to the defaults, for people this time.
    code, out, err = invoke("rescore", "--db", f"sqlite:///{db}")
    assert code == 0, err
    assert "Rescored 4 session(s)" in out
    assert "level changed" in out
    assert "saved" in out
    assert levels(db) == before


def test_rescore_fills_in_missing_fingerprints_and_honours_since(tmp_path: Path) -> None:
    build(tmp_path)
    db = tmp_path / "icewatch.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET fingerprint = NULL, fingerprint_components = NULL")
        assert (
            conn.execute("SELECT COUNT(*) FROM fingerprint_stats WHERE sessions > 0").fetchone()[0]
            == 0
        )
        created = sorted(r[0] for r in conn.execute("SELECT created_at FROM sessions"))
    url = f"sqlite:///{db}"
    since = str(created[2])  # Unix seconds: the last two sessions
    code, out, err = invoke("rescore", "--db", url, "--since", since, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sessions"] == 2
    assert summary["changed_fingerprint"] == summary["saved"] == 2
    assert summary["changed_level"] == 0
    code, out, _ = invoke("rescore", "--db", url, "--json", "--batch", "1")
    summary = json.loads(out)
    assert (summary["sessions"], summary["changed_fingerprint"]) == (4, 2)
    with sqlite3.connect(db) as conn:
        total = conn.execute("SELECT sessions FROM fingerprint_stats WHERE name = ''").fetchone()
    assert total == (4,)


def test_rescore_skips_and_names_an_unreadable_session(tmp_path: Path) -> None:
    made = build(tmp_path, VISITS[:2])
    db = tmp_path / "icewatch.db"
    broken = made[0]["document"]["id"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET evidence = '{}' WHERE id = ?", (broken,))
    code, out, err = invoke("rescore", "--db", f"sqlite:///{db}", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sessions"] == 1
    assert [u["id"] for u in summary["unreadable"]] == [broken]


def test_rescore_errors(tmp_path: Path) -> None:
    code, _, err = invoke("rescore", "--db", f"sqlite:///{tmp_path / 'nothing.db'}")
    assert code == 1
    assert "no database at" in one_error_line(err)
    assert not (tmp_path / "nothing.db").exists(), "a rescore never creates a database"
    code, _, err = invoke("rescore", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--since", "soon")
    assert code == 2
    assert "--since: not a duration" in one_error_line(err)
    code, _, err = invoke("rescore", "--weights", "ip.webrtc_http_mismatch=500")
    assert code == 2
    assert "--weights: weight of ip.webrtc_http_mismatch: 500" in one_error_line(err)
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("hello, this is not SQLite at all, not even close" * 100)
    code, _, err = invoke("rescore", "--db", f"sqlite:///{not_a_db}")
    assert code == 1
    assert "not an SQLite database" in one_error_line(err)


def test_parse_since() -> None:
    now = 1_800_000_000.0
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("12h", now) == now - 12 * 3600
    assert parse_since("90m", now) == now - 90 * 60
    assert parse_since("2w", now) == now - 14 * 86400
    assert parse_since("1700000000", now) == 1_700_000_000.0
    assert parse_since("2027-01-15", now) == 1_800_000_000.0 - 8 * 3600
    assert parse_since("2027-01-15T08:00:00Z", now) == 1_800_000_000.0
    assert parse_since("2027-01-15T09:00:00+01:00", now) == 1_800_000_000.0
    for bad in ("", "soon", "7 days", "-3d", "2027-13-01"):
        with pytest.raises(ParseError):
            parse_since(bad, now)


# --- while the server runs ---------------------------------------------------------------


@pytest.mark.timeout(90)
def test_rescore_beside_a_running_server(tmp_path: Path) -> None:
    """A real ``icewatch serve`` takes reports on the same file while ``icewatch rescore``
    (another process) rewrites every verdict: both finish, nothing is lost."""
    served = start(tmp_path)
    stop = threading.Event()
    answered: list[int] = []

    def traffic() -> None:
        with httpx.Client(base_url=served.base, timeout=10) as client:
            while not stop.is_set():
                created = client.post("/api/v1/sessions").json()
                report = {
                    "webrtc": "ok",
                    "candidates": [
                        {
                            "candidate": "candidate:1 1 udp 1677729535 192.0.2.9 40000 typ srflx "
                            "raddr 0.0.0.0 rport 0 generation 0 ufrag abcd network-cost 999",
                            "ms": 20.0,
                        },
                        {"candidate": "", "ms": 30.0},
                    ],
                    "user_agent": "icewatch-test",
                    "gathering_ms": 30.0,
                    "ended_by": "complete",
                    "deadline_ms": 1500,
                }
                r = client.post(
                    f"/api/v1/sessions/{created['id']}/report",
                    json=report,
                    headers={"Authorization": f"Bearer {created['token']}"},
                )
                answered.append(r.status_code)

    worker = threading.Thread(target=traffic)
    try:
        worker.start()
        deadline = time.monotonic() + 20
        while len(answered) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(answered) >= 40, "the server did not take reports"
        runs = []
        for weights in ("candidate.spoofed=5", "candidate.spoofed=95"):
            runs.append(
                subprocess.run(
                    [
                        sys.executable, "-m", "icewatch", "rescore", "--db",
                        "sqlite:///icewatch.db", "--weights", weights, "--batch", "7", "--json",
                    ],
                    cwd=tmp_path, env=serve_env(), capture_output=True, text=True, timeout=60,
                    check=False,
                )
            )  # fmt: skip
        stop.set()
        worker.join(timeout=20)
    finally:
        stop.set()
        kill_quietly(served)
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (json.loads(r.stdout) for r in runs)
    assert first["sessions"] >= 40
    assert first["saved"] == first["sessions"], "every unseen srflx verdict gets weight 5"
    assert second["changed_level"] >= 40
    assert set(answered) == {200}, "the server answered every report while rescoring"
    with sqlite3.connect(tmp_path / "icewatch.db") as conn:
        rows = conn.execute("SELECT COUNT(*) FROM sessions WHERE verdict IS NOT NULL").fetchone()
        counted = conn.execute("SELECT sessions FROM fingerprint_stats WHERE name = ''").fetchone()
    assert rows[0] == len(answered), "every acknowledged report is stored"
    assert counted == rows, "every reported session is counted once"
