"""README.md and docs/: the two commands exist, every relative link leads somewhere, and
README's signal table is the rule table.

README's table between ``<!-- signals:start -->`` and ``<!-- signals:end -->`` is
generated; regenerate it after changing the rule table with ``ICEWATCH_UPDATE_DOCS=1
.venv/bin/pytest tests/test_readme.py`` (then commit README.md; CI never sets it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from icewatch.core.scoring import RULES, SignalCode

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- signals:start -->", "<!-- signals:end -->"

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\]\n]|\](?=[^(]))*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)=["']([^"']+)["']""", re.I)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*?(?:id|name)=["']([^"']+)["']""", re.I)


def signal_table() -> str:
    """README's signal table, rendered from the rule table."""
    rows = ["| code | weight | what it means |", "|---|---:|---|"]
    for rule in RULES:
        code = rule.code.value
        anchor = code.replace(".", "")
        rows.append(f"| [`{code}`](docs/signals.md#{anchor}) | {rule.weight} | {rule.title} |")
    return "\n".join(rows) + "\n"


def _strip_code(text: str) -> str:
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped (but
    ``-`` and ``_``), spaces to ``-``."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    kept = [ch for ch in text if ch in "-_ " or ch.isalnum()]
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found: set[str] = set(_HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for _, heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return found


def links(path: Path) -> list[str]:
    text = _strip_code(path.read_text(encoding="utf-8"))
    return _LINK.findall(text) + _HTML_LINK.findall(text)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    bad: list[str] = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http:, https:, mailto: — not checked here (no network in tests)
        file_part, _, fragment = target.partition("#")
        dest = path if not file_part else (path.parent / unquote(file_part)).resolve()
        if not dest.exists():
            bad.append(f"{path.relative_to(root)}: {target} (no such file)")
            continue
        if (
            fragment
            and dest.is_file()
            and dest.suffix == ".md"
            and unquote(fragment) not in anchors(dest)
        ):
            bad.append(f"{path.relative_to(root)}: {target} (no such anchor)")
    return bad


def test_the_two_commands_exist_and_are_executable() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## The two commands\n(.*?)\n## ", text, re.S)
    assert block is not None, "README has no 'The two commands' section"
    commands = re.findall(r"^(scripts/\S+)", block.group(1), re.M)
    assert sorted(set(commands)) == ["scripts/icewatch", "scripts/test"]
    for command in commands:
        script = ROOT / command
        assert script.is_file(), command
        assert os.access(script, os.X_OK), f"{command} is not executable"
    assert re.search(r"^scripts/icewatch serve\b", block.group(1), re.M)


def test_the_readme_diagram_exists_as_svg_and_as_text() -> None:
    text = README.read_text(encoding="utf-8")
    assert "docs/how-it-works.svg" in text
    svg = (ROOT / "docs" / "how-it-works.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg")
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for word in ("HTTP", "UDP", "TCP", "correlation", "verdict"):
        assert word in svg, word
    section = text.split("## How it works", 1)[1].split("\n## ", 1)[0]
    assert "─ UDP+TCP ─" in section  # the terminal version of the diagram


@pytest.mark.parametrize(
    "path",
    [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "CHANGELOG.md"],
    ids=lambda p: str(Path(p).relative_to(ROOT)),
)
def test_every_relative_link_leads_somewhere(path: Path) -> None:
    assert path.is_file(), path
    bad = broken_links(path)
    assert not bad, "\n".join(bad)


def test_the_link_check_catches_broken_links(tmp_path: Path) -> None:
    doc = tmp_path / "a.md"
    (tmp_path / "b.md").write_text("# Title here\n\n## The `x.y` part\n\n## Again\n\n## Again\n")
    doc.write_text(
        "[ok](b.md) [ok](b.md#title-here) [ok](b.md#the-xy-part) [ok](b.md#again-1)\n"
        "[bad](c.md) [bad](b.md#nope) [ok](https://example.org/x) `[code](c.md)`\n"
        '```\n[fenced](d.md)\n```\n[self](#top) <a id="top"></a>\n'
    )
    bad = broken_links(doc, tmp_path)
    assert bad == ["a.md: c.md (no such file)", "a.md: b.md#nope (no such anchor)"]


def test_the_signal_table_is_the_rule_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1, f"README needs exactly one {START}"
    assert text.count(END) == 1, f"README needs exactly one {END}"
    before, rest = text.split(START)
    current, after = rest.split(END)
    rendered = "\n" + signal_table()
    if os.environ.get("ICEWATCH_UPDATE_DOCS") == "1":
        README.write_text(before + START + rendered + END + after, encoding="utf-8")
        current = rendered
    assert current == rendered, (
        "README's signal table differs from the rule table; regenerate it with "
        "ICEWATCH_UPDATE_DOCS=1 .venv/bin/pytest tests/test_readme.py"
    )
    for code in SignalCode:
        assert f"[`{code.value}`](docs/signals.md#{code.value.replace('.', '')})" in current


def test_the_readme_links_the_operator_docs() -> None:
    text = README.read_text(encoding="utf-8")
    for doc in (
        "docs/configuration.md", "docs/deployment.md", "docs/security.md", "docs/rfcs.md",
        "docs/data-sources.md", "docs/cli.md", "docs/signals.md", "CHANGELOG.md",
    ):  # fmt: skip
        assert f"]({doc}" in text, f"README does not link {doc}"


def _command_paths(group: Any, prefix: str = "icewatch") -> list[str]:
    found: list[str] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.extend(_command_paths(command, path) if hasattr(command, "commands") else [path])
    return found


def test_docs_cli_covers_every_command_and_the_exit_codes() -> None:
    from icewatch.cli import cli

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = _command_paths(cli)
    assert "icewatch sessions export" in commands
    assert "icewatch purge" in commands
    missing = [c for c in commands if f"`{c}" not in text]
    assert not missing, f"commands missing from docs/cli.md: {missing}"
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ("| **0** |", "| **1** |", "| **2** |"):
        assert code in table
