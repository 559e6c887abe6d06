"""The layering rule, enforced: ``cli → service → {web | stun | store} → core``.

* ``icewatch.core`` imports only the standard library, and none of the modules that
  do I/O or depend on the outside world (clock, randomness, sockets, logging...).
* ``import icewatch`` and ``import icewatch.core`` pull in no third-party package.
* Adapters never import each other; nothing imports the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "icewatch"

#: Standard-library modules the core must not use: I/O, concurrency, clock, randomness.
CORE_FORBIDDEN = {
    "asyncio", "socket", "socketserver", "ssl", "select", "selectors", "sqlite3",
    "logging", "time", "random", "secrets", "os", "io", "pathlib", "shutil",
    "subprocess", "threading", "multiprocessing", "concurrent", "signal", "urllib",
    "http", "email", "tempfile", "glob", "datetime", "uuid", "ctypes", "mmap",
    "sys", "builtins", "importlib", "pickle", "shelve", "dbm",
}  # fmt: skip

ADAPTERS = {"web", "listener", "store", "intel", "peer"}


def _imports(path: Path, src: Path = SRC) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = path.relative_to(src.parent).with_suffix("").parts
                base = list(pkg[: len(pkg) - node.level])
                if path.name == "__init__.py":
                    base = list(pkg[: len(pkg) - node.level])
                found.append((".".join([*base, node.module or ""]).strip("."), node.lineno))
            elif node.module:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            found.append(("__import__", node.lineno))
    return found


def _py_files(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def core_violations(src: Path) -> list[str]:
    """Imports in ``src/core`` that break the purity rule."""
    bad: list[str] = []
    stdlib = sys.stdlib_module_names
    for path in _py_files(src / "core"):
        for name, line in _imports(path, src):
            top = name.split(".")[0]
            where = f"{path.relative_to(src.parent)}:{line}"
            if name == "__import__":
                bad.append(f"{where}: dynamic import")
            elif top == "__future__" or name.startswith("icewatch.core"):
                continue
            elif top == "icewatch":
                bad.append(f"{where}: core imports {name} (outside the core)")
            elif top not in stdlib:
                bad.append(f"{where}: core imports third-party {name}")
            elif top in CORE_FORBIDDEN:
                bad.append(f"{where}: core imports {name} (I/O, clock or randomness)")
    return bad


def layer_violations(src: Path) -> list[str]:
    """Imports anywhere in ``src`` that break the adapter/CLI layering."""
    bad: list[str] = []
    for path in _py_files(src):
        rel = path.relative_to(src).parts
        owner = rel[0].removesuffix(".py")
        for name, line in _imports(path, src):
            parts = name.split(".")
            if parts[0] != "icewatch" or len(parts) < 2:
                continue
            target = parts[1]
            where = f"{path.relative_to(src.parent)}:{line}"
            if target == "cli" and owner not in {"cli", "__main__"}:
                bad.append(f"{where}: {owner} imports the CLI")
            if owner in ADAPTERS and target in ADAPTERS and target != owner:
                bad.append(f"{where}: adapter {owner} imports adapter {target}")
            if owner == "core" and target != "core":
                bad.append(f"{where}: core imports {name}")
    return bad


def test_core_uses_only_pure_stdlib() -> None:
    assert _py_files(SRC / "core"), "no core modules found"
    bad = core_violations(SRC)
    assert not bad, "\n".join(bad)


def test_adapters_do_not_import_each_other_or_the_cli() -> None:
    bad = layer_violations(SRC)
    assert not bad, "\n".join(bad)


def test_the_checks_catch_violations(tmp_path: Path) -> None:
    src = tmp_path / "icewatch"
    (src / "core" / "ice").mkdir(parents=True)
    (src / "web").mkdir()
    (src / "store").mkdir()
    (src / "core" / "ice" / "bad.py").write_text(
        "import socket\nimport time as t\nfrom click import echo\n"
        "from icewatch.web import app\nfrom . import grammar\nfrom ..addr import parse_ip\n"
    )
    (src / "web" / "app.py").write_text("from icewatch.store import sqlite\nimport icewatch.cli\n")
    core = core_violations(src)
    assert [v.split(": ", 1)[1] for v in core] == [
        "core imports socket (I/O, clock or randomness)",
        "core imports time (I/O, clock or randomness)",
        "core imports third-party click",
        "core imports icewatch.web (outside the core)",
    ]
    layers = layer_violations(src)
    assert len(layers) == 3, layers
    assert any("adapter web imports adapter store" in v for v in layers)
    assert any("web imports the CLI" in v for v in layers)
    assert any("core imports icewatch.web" in v for v in layers)


@pytest.mark.parametrize("module", ["icewatch", "icewatch.core"])
def test_importing_pulls_in_no_third_party(module: str) -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        "import importlib, pkgutil, icewatch.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'icewatch.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "std = sys.stdlib_module_names\n"
        "new = set(sys.modules) - before\n"
        "extra = sorted({n.split('.')[0] for n in new} - std - {'icewatch'})\n"
        "print(','.join(extra))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "", f"importing {module} and all of icewatch.core pulled in: {out}"
