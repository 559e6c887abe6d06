"""The docs name every category, every tag and every registry row, and the JSON keys."""

from __future__ import annotations

from pathlib import Path

from icewatch.core.netclass import IPV4_ROWS, IPV6_ROWS, Category, Tag, classify_ip

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_ip_classification_doc_lists_categories_tags_and_rows() -> None:
    text = (DOCS / "ip-classification.md").read_text(encoding="utf-8")
    for category in Category:
        assert f"| `{category}` |" in text, category
    for tag in Tag:
        assert f"| `{tag}` |" in text, tag
    for row in (*IPV4_ROWS, *IPV6_ROWS):
        assert f"| `{row.prefix}` | {row.name} |" in text, row.prefix


def test_json_output_doc_has_the_ip_classify_keys() -> None:
    text = (DOCS / "json-output.md").read_text(encoding="utf-8")
    assert "## icewatch ip classify" in text
    section = text.split("## icewatch ip classify", 1)[1].split("\n## ", 1)[0]
    for key in classify_ip("8.8.8.8").as_dict():
        assert f"| `{key}` |" in section, key
