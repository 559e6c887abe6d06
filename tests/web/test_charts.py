"""The dashboard's SVG charts: valid XML, the bars and labels the numbers ask for,
escaped text, accessible titles, and a clear picture when there is no data."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from icewatch.web.charts import (
    Series,
    histogram,
    horizontal_bars,
    nice_ceiling,
    stacked_bars,
    timeline,
)

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own markup
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    title = root.find(f"{NS}title")
    desc = root.find(f"{NS}desc")
    assert title is not None
    assert title.text
    assert desc is not None
    assert desc.text
    labelled = (root.get("aria-labelledby") or "").split()
    assert labelled == [title.get("id"), desc.get("id")]
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def rects(root: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if cls in (r.get("class") or "").split()]


def test_stacked_bars_stack_each_series_in_each_bucket() -> None:
    svg = stacked_bars(
        "Levels",
        ["00:00", "01:00", "02:00"],
        [Series("high", (1, 0, 2)), Series("medium", (0, 0, 3)), Series("low", (4, 0, 5))],
        x_label="Time (UTC)",
        y_label="Sessions",
    )
    root = parse(svg)
    assert root.find(f"{NS}title").text == "Levels"  # type: ignore[union-attr]
    # Zero values draw nothing: 2 high, 1 medium, 2 low bars (plus the legend's swatches).
    assert len(rects(root, "level-high")) == 2 + 1
    assert len(rects(root, "level-medium")) == 1 + 1
    assert len(rects(root, "level-low")) == 2 + 1
    labels = texts(root)
    for needle in ("00:00", "01:00", "02:00", "Time (UTC)", "Sessions", "high", "medium", "low"):
        assert needle in labels
    # The tallest bar (10) sets the axis: its top is the top gridline value.
    assert "10" in labels
    # Heights are proportional: the third bucket's stack fills the plot height.
    third = [r for r in root.iter(f"{NS}rect") if r.get("class", "").startswith("series-")]
    heights = [float(r.get("height", "0")) for r in third if float(r.get("width", "0")) > 10]
    assert heights
    bars = [g for g in root.iter(f"{NS}g") if g.get("class") == "bar"]
    assert len(bars) == 2  # the empty bucket has no bar
    tips = [g.find(f"{NS}title").text for g in bars]  # type: ignore[union-attr]
    assert tips == ["00:00: high 1, low 4", "02:00: high 2, medium 3, low 5"]


def test_stacked_bar_heights_are_proportional() -> None:
    root = parse(stacked_bars("t", ["a", "b"], [Series("low", (2, 4))], x_label="x", y_label="y"))
    heights = [float(r.get("height", "0")) for r in rects(root, "level-low")]
    assert len(heights) == 2
    assert math.isclose(heights[1], 2 * heights[0], rel_tol=0.02)


def test_horizontal_bars_in_order_with_values() -> None:
    root = parse(
        horizontal_bars(
            "Top signals",
            [("ip.webrtc_http_mismatch", 12), ("net.mdns", 3)],
            x_label="Sessions",
        )
    )
    labels = texts(root)
    assert labels.index("ip.webrtc_http_mismatch") < labels.index("net.mdns")
    assert "12" in labels
    assert "3" in labels
    widths = [float(r.get("width", "0")) for r in rects(root, "series-0")]
    assert len(widths) == 2
    assert widths[0] > widths[1] * 3


def test_long_labels_are_cut_on_the_axis_but_whole_in_the_title() -> None:
    name = "A very long provider name that goes on and on, Inc."
    root = parse(horizontal_bars("Providers", [(name, 5)], x_label="Sessions"))
    assert name not in texts(root)
    assert any(t.endswith("\u2026") for t in texts(root))
    titles = [t.text for t in root.iter(f"{NS}title")]
    assert f"{name}: 5" in titles


def test_histogram_one_bar_per_nonempty_bin_and_every_label() -> None:
    bins = [("≤ 500 ms", 4), ("≤ 1 s", 0), ("≤ 2 s", 1), ("> 2 s", 2)]
    root = parse(histogram("Time to verdict", bins, x_label="Seconds"))
    assert len(rects(root, "series-0")) == 3
    labels = texts(root)
    for label, _ in bins:
        assert label in labels
    assert "Seconds" in labels


@pytest.mark.parametrize(
    "svg",
    [
        stacked_bars("Empty", [], [], x_label="Time", y_label="Sessions"),
        stacked_bars("Zeros", ["a", "b"], [Series("low", (0, 0))], x_label="T", y_label="S"),
        horizontal_bars("Empty", [], x_label="Sessions"),
        histogram("Empty", [], x_label="Bits"),
        timeline("Empty", [("Server", []), ("Page", [])], x_label="ms"),
    ],
)
def test_empty_data_says_no_data(svg: str) -> None:
    root = parse(svg)
    assert "No data" in texts(root)
    assert not [r for r in root.iter(f"{NS}rect") if "series-0" in (r.get("class") or "")]


def test_text_is_escaped() -> None:
    hostile = "<script>alert('x')</script> & \"q\""
    for svg in (
        stacked_bars(hostile, [hostile], [Series(hostile, (1,))], x_label=hostile, y_label="y"),
        horizontal_bars(hostile, [(hostile, 1)], x_label=hostile),
        timeline(hostile, [(hostile, [(1.0, hostile, hostile)])], x_label=hostile),
    ):
        assert "<script>" not in svg
        root = parse(svg)  # still well-formed XML
        assert root.find(f"{NS}title").text == hostile  # type: ignore[union-attr]


def test_bad_numbers_count_as_zero() -> None:
    root = parse(
        stacked_bars(
            "t",
            ["a", "b", "c"],
            [Series("low", (math.nan, -3, math.inf))],
            x_label="x",
            y_label="y",
        )
    )
    assert "No data" in texts(root)


def test_timeline_places_events_on_one_axis() -> None:
    root = parse(
        timeline(
            "Session timeline",
            [("Server", [(0.0, "created", "http"), (50.0, "STUN binding", "stun")]),
             ("Page", [(20.0, "candidate srflx", "candidate")])],
            x_label="ms",
        )
    )  # fmt: skip
    circles = list(root.iter(f"{NS}circle"))
    assert len(circles) == 3
    xs = {c.find(f"{NS}title").text: float(c.get("cx", "0")) for c in circles}  # type: ignore[union-attr]
    assert xs["0 ms: created"] < xs["20 ms: candidate srflx"] < xs["50 ms: STUN binding"]
    assert {"Server", "Page", "ms"} <= set(texts(root))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (21, 25), (240, 250), (0.3, 0.5)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert math.isclose(nice_ceiling(value), expected)
