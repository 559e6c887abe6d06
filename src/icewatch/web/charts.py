"""Server-side SVG charts for the dashboard: pure functions from numbers to markup.

No I/O, no clock, no JavaScript: each function returns one standalone ``<svg>``
element (valid XML, also valid inline in HTML5) with a ``<title>`` and a ``<desc>``
that says in words what the picture shows, axis labels, and every text escaped.
Colours come from CSS classes (``series-0``, ``level-high``...) the dashboard's style
sheet fills in, with ``fill`` attributes as the fallback for a chart shown on its own.
A chart with nothing to show draws its frame and says "No data".

* :func:`stacked_bars` — counts over time, one stacked bar per bucket (verdict levels).
* :func:`horizontal_bars` — labelled counts, most first (top signals, top providers).
* :func:`histogram` — counts per bin (time to verdict, fingerprint surprisal).
* :func:`timeline` — events on one time axis in lanes (a session's packets and reports).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "PALETTE",
    "Series",
    "axis_scale",
    "histogram",
    "horizontal_bars",
    "nice_ceiling",
    "stacked_bars",
    "timeline",
]

#: Fallback fills by series name (the style sheet's classes take precedence).
PALETTE: dict[str, str] = {
    "low": "#2e9d5b",
    "medium": "#e0a321",
    "high": "#d64545",
    "pending": "#9aa5b1",
    "http": "#2f5fc4",
    "stun": "#2a9d8f",
    "turn": "#7a5cc7",
    "ice": "#e76f51",
    "candidate": "#8d99ae",
    "error": "#d64545",
    "done": "#26313d",
    "conn": "#e0a321",
}
_DEFAULT_FILLS = ("#3b6fd4", "#7a5cc7", "#2a9d8f", "#e76f51", "#8d99ae")
_FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""
_MAX_LABEL = 36  # characters of a bar label shown before it is cut (full text in <title>)


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked layer: its name (legend, CSS class ``level-NAME``) and a value per bucket."""

    name: str
    values: tuple[float, ...]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate with at most one decimal (short, stable markup)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower())[:32] or "x"


def _fill(name: str, index: int) -> str:
    return PALETTE.get(name, _DEFAULT_FILLS[index % len(_DEFAULT_FILLS)])


def _clip(text: str, limit: int = _MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times 10^k at or above ``value`` (an axis maximum)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exp
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10.0 ** (exp + 1)  # pragma: no cover - the loop always returns


def axis_scale(value: float, max_ticks: int = 5) -> tuple[float, float]:
    """``(top, step)`` of a count axis: a step of 1, 2, 5, 10, 20, 25, 50... (whole
    numbers) so that at most ``max_ticks`` steps reach ``value``; ``top`` is a multiple
    of ``step``. Below 1 (fractions) the step is a nice fraction."""
    if not math.isfinite(value) or value <= 0:
        return 1.0, 1.0
    if value < 1:
        top = nice_ceiling(value)
        return top, top / 4
    step = 1.0
    while math.ceil(value / step) > max_ticks:
        exp = 10.0 ** math.floor(math.log10(step))
        mantissa = round(step / exp, 1)
        step = {1.0: 2.0, 2.0: 2.5, 2.5: 5.0, 5.0: 10.0}.get(mantissa, 10.0) * exp
        if step != int(step):  # 2.5 only from 25 up
            step = 5.0 * exp
    return math.ceil(value / step - 1e-9) * step, step


def _ticks(top: float, step: float) -> list[float]:
    count = max(1, round(top / step))
    return [step * i for i in range(count + 1)]


def _open(title: str, desc: str, width: int, height: int, uid: str, css: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{uid}-title {uid}-desc">',
        f'<title id="{uid}-title">{_e(title)}</title>',
        f'<desc id="{uid}-desc">{_e(desc)}</desc>',
    ]


def _no_data(parts: list[str], width: int, height: int) -> None:
    parts.append(
        f'<text class="chart-empty" x="{width / 2:.0f}" y="{height / 2:.0f}" '
        f'text-anchor="middle" fill="#6b7785" font-size="14" {_FONT}>No data</text>'
    )


def _finite(values: Sequence[float]) -> list[float]:
    return [v if math.isfinite(v) and v > 0 else 0.0 for v in values]


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    width: int = 720,
    height: int = 260,
    uid: str = "chart",
    legend: bool = True,
    max_x_labels: int = 8,
) -> str:
    """One bar per label, its series stacked bottom-up in the order given.

    ``labels[i]`` names bucket ``i``; each series has one value per label (missing values
    count as 0; negative or non-finite values as 0). Only every n-th label is written
    under the axis so at most ``max_x_labels`` appear; every bar has a ``<title>`` with
    its label and the values of each series."""
    n = len(labels)
    layers = [(s.name, _finite([*s.values, *([0.0] * n)][:n])) for s in series]
    totals = [sum(values[i] for _, values in layers) for i in range(n)]
    grand = sum(totals)
    desc = (
        f"{y_label} per {x_label.lower()}, {n} bars"
        + (", stacked: " + ", ".join(name for name, _ in layers) if len(layers) > 1 else "")
        + (f"; total {_count(grand)}" if grand else "; no data")
        + "."
    )
    parts = _open(title, desc, width, height, uid, "chart-bars")
    left, right, bottom = 52, 28, 44
    top = 28 if legend and len(layers) > 1 else 12
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax, ystep = axis_scale(max(totals, default=0.0))
    parts.append(f'<g class="axis" {_FONT} font-size="11" fill="#5b6673">')
    for tick in _ticks(ymax, ystep):
        y = top + plot_h - tick / ymax * plot_h
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="#e3e7ec" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{_e(_count(tick))}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="14" y="{_num(top + plot_h / 2)}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_num(top + plot_h / 2)})">{_e(y_label)}</text>'
    )
    parts.append(
        f'<text class="axis-label" x="{_num(left + plot_w / 2)}" y="{height - 4}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    if n:
        every = max(1, math.ceil(n / max(1, max_x_labels)))
        slot = plot_w / n
        for i, label in enumerate(labels):
            if i % every == 0:
                x = left + slot * (i + 0.5)
                parts.append(
                    f'<text x="{_num(x)}" y="{top + plot_h + 16}" '
                    f'text-anchor="middle">{_e(_clip(label, 16))}</text>'
                )
    parts.append("</g>")
    parts.append(
        f'<line class="baseline" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" stroke="#9aa5b1" stroke-width="1"/>'
    )
    if not grand:
        _no_data(parts, width, height)
    else:
        slot = plot_w / n
        bar_w = min(max(1.0, slot * 0.72), 72.0)
        parts.append('<g class="bars">')
        for i, label in enumerate(labels):
            if not totals[i]:
                continue
            x = left + slot * i + (slot - bar_w) / 2
            base = float(top + plot_h)
            tip = f"{label}: " + ", ".join(
                f"{name} {_count(values[i])}" for name, values in layers if values[i]
            )
            parts.append(f'<g class="bar"><title>{_e(tip)}</title>')
            for j, (name, values) in enumerate(layers):
                h = values[i] / ymax * plot_h
                if h <= 0:
                    continue
                base -= h
                parts.append(
                    f'<rect class="series-{j} level-{_slug(name)}" x="{_num(x)}" '
                    f'y="{_num(base)}" width="{_num(bar_w)}" height="{_num(h)}" '
                    f'fill="{_fill(name, j)}"/>'
                )
            parts.append("</g>")
        parts.append("</g>")
    if legend and len(layers) > 1:
        parts.append(f'<g class="legend" {_FONT} font-size="11" fill="#3d4752">')
        x = float(left)
        for j, (name, _) in enumerate(layers):
            parts.append(
                f'<rect class="series-{j} level-{_slug(name)}" x="{_num(x)}" y="8" width="10" '
                f'height="10" rx="2" fill="{_fill(name, j)}"/>'
            )
            parts.append(f'<text x="{_num(x + 14)}" y="17">{_e(name)}</text>')
            x += 22 + 7 * len(name)
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    x_label: str,
    width: int = 520,
    row: int = 26,
    label_width: int = 210,
    uid: str = "chart",
    css_class: str = "series-0",
    fill: str = _DEFAULT_FILLS[0],
    empty_height: int = 120,
) -> str:
    """One labelled bar per item, in the order given, its value written at its end.

    Labels longer than 36 characters are cut with an ellipsis on the axis; the bar's
    ``<title>`` keeps the whole label."""
    rows = [(label, v if math.isfinite(v) and v > 0 else 0.0) for label, v in items]
    top, bottom, right = 8, 34, 44
    height = top + bottom + row * len(rows) if rows else empty_height
    desc = (
        f"{x_label} by {title.lower()}: "
        + "; ".join(f"{label} {_count(v)}" for label, v in rows[:20])
        + "."
        if rows
        else f"{title}: no data."
    )
    parts = _open(title, desc, width, height, uid, "chart-hbars")
    plot_w = width - label_width - right
    xmax, xstep = axis_scale(max((v for _, v in rows), default=0.0))
    if not rows:
        _no_data(parts, width, height)
        parts.append("</svg>")
        return "".join(parts)
    parts.append(f'<g class="axis" {_FONT} font-size="11" fill="#5b6673">')
    parts.append(
        f'<text class="axis-label" x="{_num(label_width + plot_w / 2)}" y="{height - 4}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    for tick in _ticks(xmax, xstep):
        x = label_width + tick / xmax * plot_w
        parts.append(
            f'<line class="grid" x1="{_num(x)}" x2="{_num(x)}" y1="{top}" '
            f'y2="{height - bottom}" stroke="#e3e7ec" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_num(x)}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{_e(_count(tick))}</text>'
        )
    parts.append("</g>")
    if rows:
        parts.append(f'<g class="bars" {_FONT} font-size="12" fill="#26313d">')
        for i, (label, value) in enumerate(rows):
            y = top + row * i
            w = value / xmax * plot_w
            parts.append(f'<g class="bar"><title>{_e(f"{label}: {_count(value)}")}</title>')
            parts.append(
                f'<text class="bar-label" x="{label_width - 8}" y="{_num(y + row / 2 + 4)}" '
                f'text-anchor="end">{_e(_clip(label))}</text>'
            )
            parts.append(
                f'<rect class="{_e(css_class)}" x="{label_width}" y="{_num(y + 4)}" '
                f'width="{_num(max(w, 1.0))}" height="{row - 8}" rx="2" fill="{_e(fill)}"/>'
            )
            parts.append(
                f'<text class="bar-value" x="{_num(label_width + w + 5)}" '
                f'y="{_num(y + row / 2 + 4)}">{_e(_count(value))}</text>'
            )
            parts.append("</g>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    title: str,
    bins: Sequence[tuple[str, float]],
    *,
    x_label: str,
    y_label: str = "sessions",
    width: int = 520,
    height: int = 240,
    uid: str = "chart",
) -> str:
    """Counts per bin (``(bin label, count)``, in axis order), as adjacent bars."""
    return stacked_bars(
        title,
        [label for label, _ in bins],
        [Series(y_label, tuple(v for _, v in bins))],
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
        uid=uid,
        legend=False,
        max_x_labels=len(bins) or 1,
    )


def timeline(
    title: str,
    lanes: Sequence[tuple[str, Sequence[tuple[float, str, str]]]],
    *,
    x_label: str,
    width: int = 960,
    lane_height: int = 44,
    uid: str = "chart",
) -> str:
    """Events on one time axis, one horizontal lane each: ``(lane name, [(ms, label,
    kind)])``; ``kind`` picks the marker's CSS class (``event-KIND``). Each marker has a
    ``<title>`` with its time and label; markers closer than a few pixels stack up."""
    points = [
        (lane_i, ms, label, kind)
        for lane_i, (_, events) in enumerate(lanes)
        for ms, label, kind in events
        if math.isfinite(ms)
    ]
    left, right, top, bottom = 70, 16, 10, 40
    height = top + bottom + lane_height * max(1, len(lanes))
    plot_w = width - left - right
    low = min((ms for _, ms, _, _ in points), default=0.0)
    low = min(0.0, low)
    high = nice_ceiling(max((ms for _, ms, _, _ in points), default=0.0) - low) + low
    desc = (
        f"{len(points)} events on {len(lanes)} lanes between {_count(round(low))} and "
        f"{_count(round(high))} ms."
        if points
        else f"{title}: no events."
    )
    parts = _open(title, desc, width, height, uid, "chart-timeline")
    span = high - low or 1.0

    def xpos(ms: float) -> float:
        return left + (ms - low) / span * plot_w

    parts.append(f'<g class="axis" {_FONT} font-size="11" fill="#5b6673">')
    for i in range(5):
        ms = low + span * i / 4
        x = xpos(ms)
        parts.append(
            f'<line class="grid" x1="{_num(x)}" x2="{_num(x)}" y1="{top}" '
            f'y2="{height - bottom}" stroke="#e3e7ec" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_num(x)}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{_e(_count(round(ms)))}</text>'
        )
    for i, (name, _) in enumerate(lanes):
        y = top + lane_height * i + lane_height / 2
        parts.append(
            f'<text class="lane-label" x="{left - 8}" y="{_num(y + 4)}" '
            f'text-anchor="end">{_e(_clip(name, 10))}</text>'
        )
        parts.append(
            f'<line class="lane" x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="#c9d1da" stroke-width="1"/>'
        )
    parts.append(
        f'<text class="axis-label" x="{_num(left + plot_w / 2)}" y="{height - 4}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    parts.append("</g>")
    if not points:
        _no_data(parts, width, height)
    else:
        parts.append('<g class="events">')
        stacks: dict[tuple[int, int], int] = {}
        for lane_i, ms, label, kind in points:
            x = xpos(ms)
            key = (lane_i, int(x // 6))
            depth = stacks.get(key, 0)
            stacks[key] = depth + 1
            y = top + lane_height * lane_i + lane_height / 2 + (depth % 3 - 1) * 8 * (depth > 0)
            parts.append(
                f'<circle class="event event-{_slug(kind)}" cx="{_num(x)}" cy="{_num(y)}" r="5" '
                f'fill="{_fill(kind, lane_i)}" stroke="#ffffff" stroke-width="1">'
                f"<title>{_e(f'{_count(round(ms, 1))} ms: {label}')}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
