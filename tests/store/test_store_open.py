"""Opening stores and states: URL schemes, password masking, and clean start-up errors."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from icewatch.store import StoreError, mask_url, open_state, open_store
from icewatch.store.url import MEMORY, parse_sqlite_url


def open_error(url: str) -> str:
    async def scenario() -> str:
        try:
            store = await open_store(url)
        except StoreError as exc:
            return str(exc)
        await store.close()
        raise AssertionError(f"{url} opened")

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///icewatch.db", "icewatch.db"),
        ("sqlite:///data/icewatch.db", "data/icewatch.db"),
        ("sqlite:////var/lib/icewatch/db.sqlite", "/var/lib/icewatch/db.sqlite"),
        ("SQLite:///x.db", "x.db"),
        ("sqlite:///with%20space.db", "with space.db"),
        ("sqlite://:memory:", MEMORY),
        ("sqlite:///:memory:", MEMORY),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert parse_sqlite_url(url).path == path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://host/x.db", "has a host part"),
        ("sqlite:///", "names no file"),
        ("sqlite:///dir/", "names no file"),
        ("sqlite:///x.db?mode=ro", "no query"),
        ("sqlite:///x%00.db", "NUL"),
    ],
)
def test_bad_sqlite_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        parse_sqlite_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://ice:hunter2@db.example:5432/icewatch",
            "postgresql://ice:***@db.example:5432/icewatch",
        ),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://ice@db/icewatch", "postgresql://ice@db/icewatch"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://ice:hunter2@db:notaport/x", "postgresql://ice:***@db:notaport/x"),
        ("postgresql://ice:hunter2@[::1/x", "postgresql://***"),
    ],
)
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "hunter2" not in mask_url(url)


def test_reserved_and_unknown_store_schemes() -> None:
    later = open_error("postgresql://ice:hunter2@db.example/icewatch")
    assert "not available yet" in later
    assert "sqlite://" in later
    assert "hunter2" not in later
    unknown = open_error("mysql://root:hunter2@localhost/x")
    assert "mysql://" in unknown
    assert "supported: sqlite://" in unknown
    assert "hunter2" not in unknown
    assert "no scheme" in open_error("icewatch.db")


def test_state_urls() -> None:
    async def scenario() -> None:
        state = await open_state("memory://")
        await state.close()
        for url, message in (
            ("redis://:hunter2@cache:6379/0", "not available yet"),
            ("memcached://x", "supported: memory://"),
            ("memory://elsewhere", "takes nothing"),
        ):
            with pytest.raises(StoreError, match=message) as info:
                await open_state(url)
            assert "hunter2" not in str(info.value)

    asyncio.run(scenario())


def test_missing_directory(tmp_path: Path) -> None:
    message = open_error(f"sqlite:///{tmp_path}/nope/icewatch.db")
    assert "does not exist" in message
    assert str(tmp_path / "nope") in message


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in open_error(f"sqlite:///{tmp_path}/file/icewatch.db")


def test_path_is_a_directory(tmp_path: Path) -> None:
    assert "is a directory" in open_error(f"sqlite:///{tmp_path}")


def test_relative_path_names_the_absolute_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = open_error("sqlite:///missing/icewatch.db")
    assert "missing/icewatch.db" in message
    assert str(tmp_path / "missing" / "icewatch.db") in message


_UNPRIVILEGED = """
import asyncio, sys
from icewatch.store import StoreError, open_store
async def main():
    try:
        store = await open_store(sys.argv[1])
    except StoreError as exc:
        print("StoreError:", exc)
        return
    await store.close()
    print("opened")
asyncio.run(main())
"""


def _open_unprivileged(url: str) -> str:
    """Open in a child process that file permissions apply to: as root, one without the
    capabilities that override them (``setpriv`` from util-linux)."""
    src = Path(__file__).resolve().parents[2] / "src"
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*drop, sys.executable, "-c", _UNPRIVILEGED, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(src)},
        timeout=60,
    ).stdout.strip()


def test_unwritable_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    out = _open_unprivileged(f"sqlite:///{ro}/icewatch.db")
    assert out.startswith("StoreError:"), out
    assert "not writable" in out
    assert not (ro / "icewatch.db").exists()


def test_unwritable_file(tmp_path: Path) -> None:
    db = tmp_path / "icewatch.db"
    sqlite3.connect(db).close()
    db.chmod(0o444)
    out = _open_unprivileged(f"sqlite:///{db}")
    assert out.startswith("StoreError:"), out
    assert "not readable and writable" in out


def test_writable_place_opens_unprivileged(tmp_path: Path) -> None:
    # The control for the two tests above: the same child opens a store where it may.
    assert _open_unprivileged(f"sqlite:///{tmp_path}/icewatch.db") == "opened"


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"these are not the pages you are looking for\n" * 200)
    message = open_error(f"sqlite:///{junk}")
    assert "is not an SQLite database" in message
    assert str(junk) in message
    assert junk.read_bytes().startswith(b"these are not")  # left untouched


def test_someone_elses_database(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    message = open_error(f"sqlite:///{db}")
    assert "not an icewatch one" in message
    assert "invoices" in message
