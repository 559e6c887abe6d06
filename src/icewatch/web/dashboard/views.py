"""View models: stored sessions, session JSON and overview aggregates → what the
templates show (plain dicts and small dataclasses; formatting of times and numbers
happens here, so templates only place text)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from icewatch.core.export import session_level, session_provider
from icewatch.core.ports import OutboxItem, Overview, StoredSession
from icewatch.core.scoring import RULES
from icewatch.web import charts
from icewatch.web.charts import Series

__all__ = [
    "LEVELS",
    "RANGES",
    "DataTable",
    "SessionRow",
    "TimelineEvent",
    "WebhookState",
    "detail_view",
    "flagged",
    "fmt_time",
    "overview_charts",
    "overview_tables",
    "session_row",
    "share",
    "signal_choices",
    "webhook_state",
]

LEVELS = ("low", "medium", "high", "pending")
#: The overview's time ranges: (query value, label, seconds, buckets).
RANGES: tuple[tuple[str, str, int, int], ...] = (
    ("24h", "Last 24 hours", 86_400, 24),
    ("7d", "Last 7 days", 7 * 86_400, 28),
    ("30d", "Last 30 days", 30 * 86_400, 30),
)
_MAX_EVIDENCE_CHARS = 20_000
_RULES = {rule.code.value: rule for rule in RULES}


def fmt_time(ts: float | None) -> str:
    """``2026-11-28 02:10:28`` (UTC), or an empty string."""
    if ts is None or not math.isfinite(ts):
        return ""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return ""


def signal_choices() -> list[tuple[str, str]]:
    """``(code, title)`` of every rule, for the signal filter's select."""
    return [(rule.code.value, rule.title) for rule in RULES]


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    created: str
    level: str
    score: int | None
    client_ip: str
    observed_ips: tuple[str, ...]
    browser: str
    provider: str
    signals: tuple[tuple[str, int], ...]  # (code, weight), weighted first


def session_row(stored: StoredSession) -> SessionRow:
    ev = stored.evidence
    verdict = stored.verdict
    provider, asn = session_provider(stored)
    label = provider or ""
    if asn is not None:
        label = f"{label} (AS{asn})" if label else f"AS{asn}"
    client = ev.client
    browser = ""
    if client is not None and client.browser:
        browser = client.browser + (f" {client.browser_major}" if client.browser_major else "")
        if client.os:
            browser += f" · {client.os}"
    http_ips = {ev.http.client_ip}
    observed = tuple(dict.fromkeys(str(o.ip) for o in ev.observations if o.ip not in http_ips))[:4]
    signals: tuple[tuple[str, int], ...] = ()
    if verdict is not None:
        ordered = sorted(verdict.signals, key=lambda s: -s.weight)
        signals = tuple((s.code, round(s.weight)) for s in ordered)
    return SessionRow(
        id=ev.session_id,
        created=fmt_time(ev.created_at),
        level=session_level(stored),
        score=None if verdict is None else verdict.score,
        client_ip=str(ev.http.client_ip),
        observed_ips=observed,
        browser=browser,
        provider=label,
        signals=signals,
    )


# -- overview --------------------------------------------------------------------------


def _bucket_label(ts: float, span: int) -> str:
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return "?"
    if span <= 2 * 86_400:
        return moment.strftime("%H:%M")
    if span <= 10 * 86_400:
        return moment.strftime("%d %b %Hh")
    return moment.strftime("%d %b")


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _ttv_bins(bins: Sequence[tuple[float, int]]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    previous = 0.0
    for bound, count in bins:
        label = f">{_seconds(previous)}" if math.isinf(bound) else f"≤{_seconds(bound)}"
        out.append((label, float(count)))
        if not math.isinf(bound):
            previous = bound
    return out


def _surprisal_bins(bins: Sequence[tuple[float, int]]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for i, (low, count) in enumerate(bins):
        high = bins[i + 1][0] if i + 1 < len(bins) else low + 1
        label = f"{low:g} to {high:g}"
        out.append((label, float(count)))
    return out


def overview_charts(ov: Overview, span: int) -> dict[str, str]:
    """The overview's five SVG charts (markup strings)."""
    labels = [_bucket_label(start, span) for start, _ in ov.timeline]
    series = [
        Series(level, tuple(float(counts.get(level, 0)) for _, counts in ov.timeline))
        for level in ("high", "medium", "low", "pending")
    ]
    return {
        "timeline": charts.stacked_bars(
            "Verdict levels over time",
            labels,
            series,
            x_label="Time (UTC)",
            y_label="Sessions",
            width=960,
            height=280,
            uid="chart-timeline",
            max_x_labels=12,
        ),
        "signals": charts.horizontal_bars(
            "Top signals",
            [(code, float(n)) for code, n in ov.top_signals[:10]],
            x_label="Sessions",
            uid="chart-signals",
            css_class="series-signal",
            fill="#3b6fd4",
        ),
        "providers": charts.horizontal_bars(
            "Top providers among flagged sessions",
            [(name, float(n)) for name, n in ov.top_providers[:10]],
            x_label="Sessions at medium or high",
            uid="chart-providers",
            css_class="series-provider",
            fill="#d64545",
        ),
        "ttv": charts.histogram(
            "Time to verdict",
            _ttv_bins(ov.time_to_verdict),
            x_label="Seconds from session creation to verdict",
            y_label="Sessions",
            uid="chart-ttv",
        ),
        "surprisal": charts.histogram(
            "Network-fingerprint surprisal",
            _surprisal_bins(ov.surprisal),
            x_label="Surprisal (bits)",
            y_label="Sessions",
            uid="chart-surprisal",
        ),
    }


@dataclass(frozen=True, slots=True)
class DataTable:
    """A chart's numbers as a table (under the chart, for screen readers and copying):
    the first ``labels`` columns are text (the first names the row), the others are
    numbers (right-aligned)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    labels: int = 1


def share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage for people: ``33.3 %``, ``0 %``, ``—``."""
    if whole <= 0:
        return "\u2014"
    value = 100.0 * part / whole
    return "0 %" if part == 0 else "100 %" if part == whole else f"{value:.1f} %"


def flagged(counts: Mapping[str, int]) -> int:
    """Sessions flagged: at ``medium`` or ``high``."""
    return int(counts.get("medium", 0)) + int(counts.get("high", 0))


def overview_tables(ov: Overview, span: int) -> dict[str, DataTable]:
    """The numbers behind each of :func:`overview_charts`' charts (same keys)."""
    order = ("high", "medium", "low", "pending")
    timeline_rows = []
    for start, counts in ov.timeline:
        total = sum(int(counts.get(level, 0)) for level in order)
        timeline_rows.append(
            (
                fmt_time(start)[:16] or "?",
                *(str(int(counts.get(level, 0))) for level in order),
                str(total),
                share(flagged(counts), total),
            )
        )
    return {
        "timeline": DataTable(
            "Sessions per time bucket by verdict level",
            ("Bucket start (UTC)", *order, "Total", "Flagged (medium or high)"),
            tuple(timeline_rows),
        ),
        "signals": DataTable(
            "Sessions carrying each signal",
            ("Signal", "Title", "Sessions"),
            tuple(
                (code, _RULES[code].title if code in _RULES else "", str(n))
                for code, n in ov.top_signals[:10]
            ),
            labels=2,
        ),
        "providers": DataTable(
            "Providers or ASNs of flagged sessions",
            ("Provider / ASN", "Sessions at medium or high"),
            tuple((name, str(n)) for name, n in ov.top_providers[:10]),
        ),
        "ttv": DataTable(
            "Sessions by time to verdict",
            ("Time to verdict", "Sessions"),
            tuple((label, _count_text(n)) for label, n in _ttv_bins(ov.time_to_verdict)),
        ),
        "surprisal": DataTable(
            "Sessions by network-fingerprint surprisal",
            ("Surprisal (bits)", "Sessions"),
            tuple((label, _count_text(n)) for label, n in _surprisal_bins(ov.surprisal)),
        ),
    }


def _count_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


# -- webhook delivery ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookState:
    """What the dashboard can say about one session's webhook: ``state`` is ``pending``,
    ``dead``, ``delivered`` (no row left at or above the level: the likely reading, with
    its caveats in ``text``), ``below`` (not announced) or ``unscored``."""

    state: str
    text: str
    events: tuple[dict[str, str], ...] = ()


def webhook_state(
    items: Sequence[OutboxItem], level: str | None, threshold: str, now: float
) -> WebhookState:
    """The delivery state from the session's outbox rows, its verdict level (``None``:
    not reported) and ``webhook_level``. Delivered events are deleted from the outbox, so
    "delivered" is an inference from absence, and the wording says so."""
    events = tuple(
        {
            "id": item.event.id,
            "status": item.status,
            "queued": fmt_time(item.event.created_at),
            "attempts": str(item.attempts),
            "next": fmt_time(item.next_at) if item.status == "pending" else "",
            "error": item.last_error or "",
        }
        for item in items
    )
    if any(item.status == "pending" for item in items):
        item = next(i for i in items if i.status == "pending")
        if item.attempts == 0:
            text = "Queued: not sent yet; the next attempt is due " + _when(item.next_at, now)
        else:
            text = (
                f"Pending: {item.attempts} failed attempt{'s' if item.attempts != 1 else ''} "
                f"so far (last: {item.last_error or 'unknown'}); the next is due "
                + _when(item.next_at, now)
            )
        return WebhookState("pending", text, events)
    if items:
        item = items[-1]
        text = (
            f"Dead: given up after {item.attempts} attempt{'s' if item.attempts != 1 else ''}"
            f" (last: {item.last_error or 'unknown'}). The event is kept in the outbox for"
            " inspection and is not retried."
        )
        return WebhookState("dead", text, events)
    if level is None:
        return WebhookState(
            "unscored", "No verdict yet: an event is queued, if at all, when the page reports."
        )
    if _RANK.get(level, -1) < _RANK.get(threshold, 99):
        return WebhookState(
            "below", f"Not sent: the verdict ({level}) is below the webhook level ({threshold})."
        )
    return WebhookState(
        "delivered",
        "Delivered, as far as icewatch can tell: the verdict reached the webhook level"
        f" ({threshold}) and no event for this session is waiting or failed (delivered events"
        " are removed from the outbox). An event is also absent if the outbox was full when"
        " the report came in, or if webhooks were turned on, or the level raised by a"
        " rescore, after it.",
    )


_RANK = {"low": 0, "medium": 1, "high": 2}


def _when(ts: float, now: float) -> str:
    if ts <= now:
        return "now."
    seconds = ts - now
    span = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f"at {fmt_time(ts)} (in {span})."


# -- detail ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    ms: float
    lane: str  # "server" or "page"
    what: str
    detail: str
    css: str


def _f(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _iso_ms(text: Any, start: Any) -> float | None:
    """Milliseconds between two ISO strings of the session JSON."""
    if not isinstance(text, str) or not isinstance(start, str):
        return None
    try:
        a = datetime.fromisoformat(text.replace("Z", "+00:00"))
        b = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((a - b).total_seconds() * 1000, 1)


def _endpoint(ip: Any, port: Any) -> str:
    text = str(ip)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def timeline_events(doc: Mapping[str, Any]) -> list[TimelineEvent]:
    """What the server observed (ms since session creation) and what the page reported
    (ms since its gathering started), one list in time order."""
    events: list[TimelineEvent] = []
    http = doc.get("http") or {}
    events.append(
        TimelineEvent(
            0.0, "server", "HTTP: session created", str(http.get("client_ip", "")), "http"
        )
    )
    for o in doc.get("observed") or []:
        ms = _f(o.get("ms"))
        if ms is None:
            continue
        what = f"{str(o.get('source', '')).upper()} {o.get('kind', '')}"
        detail = f"{_endpoint(o.get('ip'), o.get('port'))} over {o.get('transport', '')}"
        if o.get("attributed_by"):
            detail += f" · attributed by {o['attributed_by']}"
        events.append(TimelineEvent(ms, "server", what, detail, str(o.get("source", "stun"))))
    reported = _iso_ms(doc.get("reported_at"), doc.get("created_at"))
    if reported is not None:
        report_http = doc.get("report_http") or {}
        events.append(
            TimelineEvent(
                reported,
                "server",
                "HTTP: report received",
                str(report_http.get("client_ip", "")),
                "http",
            )
        )
    for c in doc.get("candidates") or []:
        ms = _f(c.get("ms"))
        if ms is None:
            continue
        detail = f"{c.get('address', '')} port {c.get('port', '')} {c.get('protocol', '')}"
        events.append(
            TimelineEvent(ms, "page", f"candidate {c.get('type', '')}", detail, "candidate")
        )
    report = doc.get("report") or {}
    for e in report.get("candidate_errors") or []:
        ms = _f(e.get("ms"))
        if ms is None:
            continue
        detail = f"{e.get('url', '')} {e.get('error_code', '')} {e.get('error_text', '')}"
        events.append(TimelineEvent(ms, "page", "candidate error", detail.strip(), "error"))
    gathering = _f(report.get("gathering_ms"))
    if gathering is not None:
        events.append(
            TimelineEvent(
                gathering, "page", "gathering ended", str(report.get("ended_by") or ""), "done"
            )
        )
    conn = doc.get("connection") or {}
    for key, label in (("answer_ms", "test connection answered"), ("open_ms", "data channel open")):
        ms = _f(conn.get(key))
        if ms is not None:
            events.append(TimelineEvent(ms, "page", label, "", "conn"))
    events.sort(key=lambda e: (e.ms, e.lane != "server"))
    return events[:400]


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    if len(text) > _MAX_EVIDENCE_CHARS:
        text = text[:_MAX_EVIDENCE_CHARS] + "\n… (cut; the full evidence is in the session JSON)"
    return text


def _signals(verdict: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not verdict:
        return []
    out = []
    for s in verdict.get("signals") or []:
        code = str(s.get("code", ""))
        rule = _RULES.get(code)
        out.append(
            {
                "code": code,
                "weight": s.get("weight"),
                "summary": s.get("summary", ""),
                "title": rule.title if rule is not None else code,
                "description": rule.description if rule is not None else "",
                "benign_causes": list(rule.benign_causes) if rule is not None else [],
                "evidence": _pretty(s.get("evidence")),
            }
        )
    out.sort(key=lambda s: -(s["weight"] or 0))
    return out


def detail_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the detail page shows, from the session JSON (``stored_document``)."""
    verdict = doc.get("verdict")
    events = timeline_events(doc)
    lanes = [
        ("Server", [(e.ms, e.what, e.css) for e in events if e.lane == "server"]),
        ("Page", [(e.ms, e.what, e.css) for e in events if e.lane == "page"]),
    ]
    return {
        "doc": doc,
        "level": "pending" if not verdict else verdict.get("level", "pending"),
        "score": None if not verdict else verdict.get("score"),
        "signals": _signals(verdict),
        "events": events,
        "timeline_svg": charts.timeline(
            "Session timeline",
            lanes,
            x_label="Milliseconds (server: since session creation; page: since gathering started)",
            uid="chart-session-timeline",
        ),
        "intel": (doc.get("intel") or {}).get("lookups") or [],
        "intel_data": (doc.get("intel") or {}).get("data") or "",
        "fingerprint": doc.get("fingerprint"),
    }
