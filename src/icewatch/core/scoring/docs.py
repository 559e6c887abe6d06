"""``docs/signals.md``, rendered from the rule table (a test keeps the file in step)."""

from __future__ import annotations

from icewatch.core.scoring.engine import HIGH_FROM, MEDIUM_FROM
from icewatch.core.scoring.rule import MAX_LISTED, Rule
from icewatch.core.scoring.table import RULES

__all__ = ["render_signal_docs"]

_HEADER = f"""\
# Signals

<!-- Generated from the rule table in src/icewatch/core/scoring/table.py by
     render_signal_docs(); do not edit by hand. Regenerate with:
     ICEWATCH_UPDATE_DOCS=1 .venv/bin/pytest tests/test_signal_docs.py -->

A verdict (`verdict` in the [session JSON](json-output.md#session-json)) is a score 0-100, a
level and the signals that fired. Each signal has a stable `code` (API: codes are never
renamed), the `weight` it contributed, a one-sentence `summary` naming the addresses
involved, and its `evidence` as JSON. Lists in evidence hold at most {MAX_LISTED} items; `count`
gives the full number.

Every signal is computed from stored evidence only (what the server's STUN/TURN listener
received, the HTTP requests, and the page's report), so a verdict can be recomputed when
rules change. Packets that reached icewatch's own socket are ground truth; everything the
page's JavaScript reports is a claim, checked against them.

## Score and level

Each signal that fires contributes its weight `w` as independent evidence:

    score = 100 · (1 - ∏ (1 - w / 100))      rounded half up

One signal scores its own weight; several approach 100 without passing it. The level
follows from the score:

| level | score |
|---|---|
| `low` | 0-{MEDIUM_FROM - 1} |
| `medium` | {MEDIUM_FROM}-{HIGH_FROM - 1} |
| `high` | {HIGH_FROM}-100 |

Informational signals (`net.*`) always weigh 0 and never raise the level. Operators may
change the other weights (0-100); an unknown code, a weight outside 0-100 or a non-zero
weight on an informational signal is refused at start-up. An ordinary browser with default
settings and no proxy scores 0 (`low`), with informational signals only.

## All signals

| code | default weight | title |
|---|---|---|
"""


def _rule_row(rule: Rule) -> str:
    weight = "0 (informational)" if rule.informational else str(rule.weight)
    return f"| [`{rule.code}`](#{_anchor(rule)}) | {weight} | {rule.title} |\n"


def _anchor(rule: Rule) -> str:
    return rule.code.value.replace(".", "")


def _bullets(items: tuple[str, ...], empty: str) -> str:
    if not items:
        return f"{empty}\n"
    return "".join(f"- {item}\n" for item in items)


def _section(rule: Rule) -> str:
    weight = (
        "0 — informational: never raises the level"
        if rule.informational
        else f"{rule.weight} by default"
    )
    fields = "".join(f"| `{name}` | {meaning} |\n" for name, meaning in rule.evidence_fields)
    return (
        f"## {rule.code}\n\n"
        f"**{rule.title}.** Weight: {weight}.\n\n"
        f"{rule.description}\n\n"
        f"**Evidence**\n\n| field | meaning |\n|---|---|\n{fields}\n"
        f"**Common benign causes**\n\n{_bullets(rule.benign_causes, 'None known.')}\n"
        f"**How to fix a leak**\n\n"
        f"{_bullets(rule.fixes, 'Not a leak: nothing to fix.')}"
    )


def render_signal_docs() -> str:
    """The whole of ``docs/signals.md``."""
    table = "".join(_rule_row(rule) for rule in RULES)
    sections = "\n".join(_section(rule) for rule in RULES)
    return f"{_HEADER}{table}\n{sections}"
