"""``icewatch analyze FILE`` and ``icewatch rescore``: scoring that can be replayed.

A verdict is a pure function of the stored evidence, so it can be recomputed anywhere:

* ``analyze`` re-scores evidence from a file, offline, with the rules and weights of
  now (no server, no database): a session's evidence as stored
  (``SessionEvidence.as_dict``), a session JSON document as the API serves it, an
  export ``{"evidence": …, "verdict": …}``, a JSON list of any of these, or JSON Lines
  (one per line). When the input carries the verdict it was answered with, the output
  shows both.
* ``rescore`` recomputes every stored session's verdict and network fingerprint in a
  database (batched, with a progress bar), reports how many changed level, and saves
  them unless ``--dry-run``. It may run while the server runs.

Weights come from ``--weights`` (``code=weight,…``), ``ICEWATCH_SIGNAL_WEIGHTS`` or the
``[signal_weights]`` table of ``--config FILE``, like ``icewatch serve``.

Exit codes: 0 success; 1 the database could not be used (rescore); 2 bad usage,
settings or malformed input, with one line on stderr naming the culprit.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from icewatch.cli._output import EXIT_INPUT, EXIT_PROBLEM, emit_json, fail_input
from icewatch.core.correlate import Correlation
from icewatch.core.document import iso_utc
from icewatch.core.errors import IcewatchError, ParseError
from icewatch.core.evidence import (
    SessionEvidence,
    http_sighting_from_dict,
    observation_from_dict,
    page_report_from_dict,
    session_evidence_from_dict,
)
from icewatch.core.fingerprint import fingerprint_document, network_fingerprint
from icewatch.core.scoring import evaluate
from icewatch.core.verdict import Verdict, verdict_from_dict
from icewatch.service.settings import Settings, SettingsError, load_settings

__all__ = ["analyze", "rescore"]

#: Largest input file read by ``analyze``.
MAX_INPUT_BYTES = 256 * 1024 * 1024
#: Most sessions one ``analyze`` run takes.
MAX_SESSIONS = 1_000_000
_LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "bold red", "none": "dim"}


def _settings(config: str | None, weights: str | None, db: str | None = None) -> Settings:
    cli = {"config": config, "signal_weights": weights, "db": db}
    try:
        return load_settings(cli=cli, env=os.environ)
    except SettingsError as exc:
        _fail(str(exc).replace("--signal-weights", "--weights", 1))


def _fail(message: str, code: int = EXIT_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# --- reading the input -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One session read from the input: its evidence, the verdict it came with (if any),
    and which form it was read from."""

    evidence: SessionEvidence
    previous: Verdict | None
    form: str  # "evidence" | "export" | "session-document"
    where: str


def _ts(value: Any, what: str) -> float | None:
    """An ISO 8601 time of the session JSON (or Unix seconds) as Unix seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(what, "not a time")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ParseError(what, "not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(what, f"not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _http_from_document(h: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "peer_ip": h.get("peer_ip"),
        "client_ip": h.get("client_ip"),
        "at": _ts(h.get("at"), "http.at"),
        "user_agent": h.get("user_agent"),
        "forwarded_for": h.get("forwarded_for"),
        "host": h.get("host"),
    }


def _candidates_from_document(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's candidate events, from the parsed and the malformed lists (by time)."""
    events: list[tuple[float, int, dict[str, Any]]] = []
    for i, c in enumerate(doc.get("candidates") or []):
        events.append(
            (
                c.get("ms") if isinstance(c.get("ms"), int | float) else math.inf,
                i,
                {
                    "candidate": c.get("raw") or "",
                    "ms": c.get("ms"),
                    "sdp_mid": c.get("sdp_mid"),
                    "sdp_mline_index": c.get("sdp_mline_index"),
                    "username_fragment": c.get("ufrag"),
                },
            )
        )
    for i, m in enumerate(doc.get("malformed_candidates") or []):
        if m.get("where") == "report":
            ms = m.get("ms")
            events.append(
                (
                    ms if isinstance(ms, int | float) else math.inf,
                    10_000 + i,
                    {"candidate": m.get("raw") or "", "ms": ms},
                )
            )
    events.sort(key=lambda e: (e[0], e[1]))
    out = [e[2] for e in events]
    sdp = doc.get("sdp") or ""
    if doc.get("end_of_candidates") and "a=end-of-candidates" not in sdp:
        out.append({"candidate": ""})
    return out


def _from_document(doc: Mapping[str, Any]) -> tuple[SessionEvidence, Verdict | None]:
    """Evidence rebuilt from a session JSON document (``icewatch.core.document``).

    The document carries every raw input a verdict needs (candidate lines, SDP, the
    observations, the HTTP sightings); what it lacks (transaction ids, request headers)
    no rule reads."""
    session_id = str(doc["id"])
    report = doc.get("report")
    evidence: dict[str, Any] = {
        "session_id": session_id,
        "created_at": _ts(doc.get("created_at"), "created_at"),
        "http": _http_from_document(doc["http"]),
        "report_http": None
        if doc.get("report_http") is None
        else _http_from_document(doc["report_http"]),
        "reported_at": _ts(doc.get("reported_at"), "reported_at"),
        "observations": [
            {
                **o,
                "at": _ts(o.get("at"), "observed.at"),
                "session_id": session_id if o.get("attributed_by") == "credential" else None,
                "transaction_id": "",
            }
            for o in doc.get("observed") or []
        ],
        "report": None
        if report is None
        else {
            **report,
            "candidates": _candidates_from_document(doc),
            "sdp": doc.get("sdp"),
            "ua_hints": report.get("ua_hints"),
        },
        # Enrichments the document carries in their stored form (the claimed client);
        # IP-intelligence lookups when a document has them.
        "client": doc.get("client"),
        "intel": doc.get("intel") if isinstance(doc.get("intel"), Mapping) else None,
    }
    if evidence["created_at"] is None:
        raise ParseError("created_at", "missing")
    # The readers check every part.
    http_sighting_from_dict(evidence["http"])
    for o in evidence["observations"]:
        observation_from_dict(o)
    if evidence["report"] is not None:
        page_report_from_dict(evidence["report"])
    verdict = doc.get("verdict")
    return (
        session_evidence_from_dict(evidence),
        None if verdict is None else verdict_from_dict(verdict),
    )


def _item(value: Any, where: str) -> Item:
    if not isinstance(value, Mapping):
        raise ParseError("input", f"expected a JSON object, got {type(value).__name__}")
    if isinstance(value.get("evidence"), Mapping):  # an export: evidence + verdict
        verdict = value.get("verdict")
        return Item(
            session_evidence_from_dict(value["evidence"]),
            None if verdict is None else verdict_from_dict(verdict),
            "export",
            where,
        )
    if "session_id" in value and "http" in value:
        return Item(session_evidence_from_dict(value), None, "evidence", where)
    if "id" in value and "http" in value and "version" in value:
        evidence, verdict = _from_document(value)
        return Item(evidence, verdict, "session-document", where)
    raise ParseError(
        "input",
        "neither session evidence (session_id, http, …), a session JSON document "
        "(version, id, http, …) nor an export ({evidence, verdict})",
    )


def _read(path: str) -> list[Item]:
    """Every session in the file; the first unreadable one ends the run (exit 2)."""
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        fail_input(f"{name}: cannot read: {exc.strerror or exc}")
    if len(data) > MAX_INPUT_BYTES:
        fail_input(f"{name}: larger than {MAX_INPUT_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail_input(f"{name}: not UTF-8 (byte {exc.start})")
    if not text.strip():
        fail_input(f"{name}: empty")
    records: list[tuple[Any, str]] = []
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            fail_input(f"{name}: line {exc.lineno}: not JSON: {exc.msg}")
        whole = None
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((json.loads(line), f"{name} line {number}"))
            except json.JSONDecodeError as err:
                fail_input(f"{name} line {number}: not JSON: {err.msg}")
            except RecursionError:
                fail_input(f"{name} line {number}: nested too deeply")
    except RecursionError:
        fail_input(f"{name}: nested too deeply")
    if whole is not None:
        if isinstance(whole, list):
            records = [(v, f"{name} item {i}") for i, v in enumerate(whole, 1)]
        else:
            records = [(whole, name)]
    if not records:
        fail_input(f"{name}: no session in it")
    if len(records) > MAX_SESSIONS:
        fail_input(f"{name}: more than {MAX_SESSIONS} sessions")
    items: list[Item] = []
    for value, where in records:
        try:
            items.append(_item(value, where))
        except (ParseError, KeyError, TypeError, AttributeError, ValueError) as exc:
            reason = (
                f"{exc.field}: {exc.reason}"
                if isinstance(exc, ParseError)
                else f"unreadable: {exc!r}"
            )
            fail_input(f"{where}: {reason}")
    return items


# --- analyze -----------------------------------------------------------------------------


def _result(item: Item, weights: Mapping[str, int] | None) -> dict[str, Any]:
    correlation: Correlation
    correlation, verdict = evaluate(item.evidence, weights)
    previous = item.previous
    return {
        "id": item.evidence.session_id,
        "source": item.where,
        "form": item.form,
        "created_at": iso_utc(item.evidence.created_at),
        "reported": item.evidence.report is not None,
        "verdict": verdict.as_dict(),
        "previous": None
        if previous is None
        else {"score": previous.score, "level": previous.level.value},
        "level_changed": None if previous is None else previous.level is not verdict.level,
        "fingerprint": fingerprint_document(network_fingerprint(correlation)),
    }


def _styled(level: str) -> str:
    return f"[{_LEVEL_STYLE.get(level, '')}]{level}[/]"


def _print_table(results: Sequence[dict[str, Any]], weights: Mapping[str, int] | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{len(results)} session(s) re-scored", title_justify="left")
    for column in ("session", "level", "score", "before", "signals", "fingerprint"):
        table.add_column(column, overflow="fold", no_wrap=column in ("level", "score"))
    for r in results:
        v = r["verdict"]
        before = "-"
        if r["previous"] is not None:
            p = r["previous"]
            before = f"{_styled(p['level'])} {p['score']}"
            if r["level_changed"]:
                before += " [bold]→ changed[/]"
        signals = ", ".join(
            f"{s['code']}" + (f" ({s['weight']})" if s["weight"] else "") for s in v["signals"]
        )
        fp = r["fingerprint"]
        table.add_row(
            r["id"],
            _styled(v["level"]),
            str(v["score"]),
            before,
            signals or "-",
            "-" if fp is None else fp["id"],
        )
    console.print(table)
    changed = sum(1 for r in results if r["level_changed"])
    known = sum(1 for r in results if r["previous"] is not None)
    if known:
        console.print(f"{changed} of {known} with a previous verdict changed level.")
    if weights:
        shown = ", ".join(f"{k}={w}" for k, w in weights.items())
        console.print(f"Weights over the defaults: {shown}")


@click.command()
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@click.option(
    "--weights",
    metavar="CODE=WEIGHT,...",
    default=None,
    help="Signal weights over the defaults (also ICEWATCH_SIGNAL_WEIGHTS, or the "
    "[signal_weights] table of --config).",
)
@click.option("--config", metavar="FILE", default=None, help="TOML config file (as serve's).")
def analyze(file: str, as_json: bool, weights: str | None, config: str | None) -> None:
    """Re-score stored evidence offline, with the rules and weights of now.

    FILE ('-' for standard input) holds a session's evidence as stored, a session JSON
    document as the API serves it, or an export {"evidence", "verdict"}; or a JSON list
    of them, or JSON Lines (one per line). Prints each verdict, with the previous one
    when the input has it, and the network fingerprint (no population counts offline).

    Exit codes: 0 success; 2 bad options or malformed input (one line on stderr naming
    the file, line and field).
    """
    settings = _settings(config, weights)
    items = _read(file)
    effective = dict(settings.signal_weights) or None
    results = [_result(item, effective) for item in items]
    if as_json:
        emit_json(
            {
                "weights": dict(settings.signal_weights),
                "count": len(results),
                "level_changed": sum(1 for r in results if r["level_changed"]),
                "sessions": results,
            }
        )
        return
    _print_table(results, effective)


# --- rescore -----------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d{1,9})\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration back from ``now`` (``90m``, ``12h``, ``7d``, ``2w``), an ISO
    8601 date or time (UTC unless it says otherwise), or Unix seconds; raise ParseError."""
    value = text.strip()
    m = _DURATION.match(value.lower())
    if m is not None:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", value):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(
            "--since",
            f"not a duration (7d, 12h), an ISO 8601 date/time or Unix seconds: {value[:40]!r}",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _print_summary(summary: Any, since: float | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    scope = "" if since is None else f" created since {iso_utc(since)}"
    table = Table(title=f"Rescored {summary.sessions} session(s){scope}", title_justify="left")
    table.add_column("")
    table.add_column("sessions", justify="right")
    table.add_row("level changed", str(summary.changed_level))
    for (a, b), n in sorted(summary.transitions.items()):
        table.add_row(f"  {_styled(a)} → {_styled(b)}", str(n))
    table.add_row("score changed", str(summary.changed_score))
    table.add_row("signals changed", str(summary.changed_signals))
    table.add_row("fingerprint added or changed", str(summary.changed_fingerprint))
    table.add_row("unreadable (skipped)", str(len(summary.unreadable)))
    table.add_row("saved", "0 (dry run)" if summary.dry_run else str(summary.saved))
    console.print(table)
    for session_id, reason in summary.unreadable[:10]:
        console.print(f"[yellow]unreadable[/] {session_id}: {reason}")
    if summary.dry_run:
        console.print("Dry run: nothing was saved.")


@click.command()
@click.option("--db", metavar="URL", default=None, help="Session store (as serve's --db).")
@click.option("--config", metavar="FILE", default=None, help="TOML config file (as serve's).")
@click.option(
    "--weights",
    metavar="CODE=WEIGHT,...",
    default=None,
    help="Signal weights over the defaults (also ICEWATCH_SIGNAL_WEIGHTS, or the "
    "[signal_weights] table of --config).",
)
@click.option(
    "--since",
    metavar="WHEN",
    default=None,
    help="Only sessions created since: a duration (7d, 12h), an ISO 8601 date/time, or "
    "Unix seconds.",
)
@click.option("--dry-run", is_flag=True, help="Compute and report; save nothing.")
@click.option(
    "--batch",
    type=click.IntRange(1, 5000),
    default=500,
    show_default=True,
    help="Sessions read (one read) and saved (one transaction) at a time.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def rescore(
    db: str | None,
    config: str | None,
    weights: str | None,
    since: str | None,
    dry_run: bool,
    batch: int,
    as_json: bool,
) -> None:
    """Recompute every stored session's verdict and network fingerprint with the rules
    and weights of now, and save those that changed (unless --dry-run).

    Database and weights come from --db / --weights, the ICEWATCH_* variables or the
    config file, as for icewatch serve. Runs beside a live server (SQLite WAL).

    Exit codes: 0 success; 1 the database could not be used; 2 bad options or settings
    (one line on stderr).
    """
    from icewatch.service.rescore import mask_url, open_existing_store, rescore_store

    settings = _settings(config, weights, db)
    since_ts: float | None = None
    if since is not None:
        try:
            since_ts = parse_since(since, datetime.now(UTC).timestamp())
        except ParseError as exc:
            fail_input(f"{exc.field}: {exc.reason}")
    effective = dict(settings.signal_weights) or None

    async def main() -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        store = await open_existing_store(settings.db)
        progress = Progress(
            TextColumn("rescoring"),
            BarColumn(),
            MofNCompleteColumn(),
            disable=as_json or not sys.stderr.isatty(),
            console=None,
            transient=True,
        )
        task = progress.add_task("rescore", total=None)
        try:
            with progress:
                return await rescore_store(
                    store,
                    weights=effective,
                    since=since_ts,
                    dry_run=dry_run,
                    batch=batch,
                    on_start=lambda total: progress.update(task, total=total),
                    on_batch=lambda n: progress.advance(task, n),
                )
        finally:
            await store.close()

    try:
        summary = asyncio.run(main())
    except IcewatchError as exc:
        _fail(str(exc), EXIT_PROBLEM)
    if as_json:
        emit_json(
            {
                "db": mask_url(settings.db),
                "since": iso_utc(since_ts),
                "weights": dict(settings.signal_weights),
                **summary.as_dict(),
            }
        )
        return
    _print_summary(summary, since_ts)
