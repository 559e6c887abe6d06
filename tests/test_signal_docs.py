"""docs/signals.md is the rule table rendered: every code documented, nothing stale.

Regenerate after changing the table: ``ICEWATCH_UPDATE_DOCS=1 .venv/bin/pytest
tests/test_signal_docs.py`` (then commit the file; CI never sets the variable).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from icewatch.core.scoring import RULES, SignalCode, render_signal_docs

DOC = Path(__file__).resolve().parent.parent / "docs" / "signals.md"


def test_signals_doc_matches_the_rule_table() -> None:
    rendered = render_signal_docs()
    if os.environ.get("ICEWATCH_UPDATE_DOCS") == "1":
        DOC.write_text(rendered, encoding="utf-8")
    assert DOC.is_file(), "docs/signals.md is missing"
    assert DOC.read_text(encoding="utf-8") == rendered, (
        "docs/signals.md differs from the rule table; regenerate it with "
        "ICEWATCH_UPDATE_DOCS=1 .venv/bin/pytest tests/test_signal_docs.py"
    )


def test_every_code_has_a_section_with_all_parts() -> None:
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+)\n\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    for code in SignalCode:
        assert code.value in sections, f"{code.value} is not documented in docs/signals.md"
        body = sections[code.value]
        for part in (
            "Weight:",
            "**Evidence**",
            "**Common benign causes**",
            "**How to fix a leak**",
        ):
            assert part in body, f"{code.value}: no {part}"
        assert f"[`{code.value}`](#{code.value.replace('.', '')})" in text


def test_every_rule_is_fully_described() -> None:
    for rule in RULES:
        assert rule.title
        assert not rule.title.endswith(".")
        assert len(rule.description) > 80
        assert rule.evidence_fields, rule.code
        assert rule.benign_causes, rule.code
        if rule.code.value.startswith(("ip.", "candidate.spoofed", "net.local", "net.ipv6")):
            assert rule.fixes, f"{rule.code} reveals a leak: say how to fix it"


def test_the_checks_catch_a_missing_code(tmp_path: Path) -> None:
    # The section finder really finds sections: drop one and it is gone.
    text = DOC.read_text(encoding="utf-8")
    broken = re.sub(r"^## net\.cgnat\n.*?(?=^## |\Z)", "", text, flags=re.M | re.S)
    sections = dict(re.findall(r"^## (\S+)\n\n(.*?)(?=^## |\Z)", broken, flags=re.M | re.S))
    assert "net.cgnat" not in sections
    assert "net.mdns" in sections
    assert broken != render_signal_docs()
