"""The data directory: where compiled data, the last good source files and their state live.

Layout (all written by ``icewatch data update``; the server only reads ``intel.db``)::

    DATA_DIR/
      intel.db           the compiled lookup (core format), swapped in atomically
      state.json         per source: URL, ETag/Last-Modified, dates, size, record count
      sources/NAME       the last good copy of each source, as downloaded
      update.lock        held while an update runs (one at a time)

Every file is replaced the same way (:func:`atomic_write`): write a temporary file in the
same directory, ``fsync`` it, ``os.replace`` it over the old one, ``fsync`` the directory.
A crash at any point leaves either the old file or the new one, never a mix; leftover
temporary files are removed by the next update.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "COMPILED_NAME",
    "DataDir",
    "LockedError",
    "SourceState",
    "atomic_write",
    "default_data_dir",
]

COMPILED_NAME = "intel.db"
STATE_NAME = "state.json"
RAW_DIR = "sources"
LOCK_NAME = "update.lock"
TMP_MARK = ".tmp-"
MAX_STATE_BYTES = 4 * 1024 * 1024


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/icewatch``, else ``~/.local/share/icewatch``."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "icewatch"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems refuse to fsync a directory
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole."""
    tmp = path.with_name(f"{TMP_MARK}{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


@dataclass
class SourceState:
    """What ``state.json`` remembers about one source's last good copy (and last failure)."""

    name: str
    url: str = ""
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float | None = None  # when the kept copy was downloaded (or read from a file)
    checked_at: float | None = None  # last successful check (200 or 304)
    bytes: int = 0
    sha256: str = ""
    records: int = 0
    version: str = ""
    origin: str = "download"  # "download" | "file" (--from-file)
    error: str | None = None  # the last attempt's failure, cleared by a success
    error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceState:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        state = cls(**values)
        if not isinstance(state.name, str):
            raise ValueError("name")
        return state


class LockedError(Exception):
    """Another ``icewatch data update`` holds the data directory."""


@dataclass
class DataDir:
    """One data directory (see the module docstring)."""

    path: Path
    _states: dict[str, SourceState] | None = field(default=None, repr=False)

    @property
    def compiled(self) -> Path:
        return self.path / COMPILED_NAME

    @property
    def state_file(self) -> Path:
        return self.path / STATE_NAME

    @property
    def raw_dir(self) -> Path:
        return self.path / RAW_DIR

    def raw(self, name: str) -> Path:
        return self.raw_dir / name

    def ensure(self) -> None:
        self.raw_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the update lock (non-blocking; :class:`LockedError` when taken)."""
        self.ensure()
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise LockedError(f"another update is running in {self.path}") from None
                raise
            yield
        finally:
            os.close(fd)

    def remove_leftovers(self) -> int:
        """Delete temporary files an interrupted update left; return how many."""
        count = 0
        for folder in (self.path, self.raw_dir):
            if not folder.is_dir():
                continue
            for item in folder.iterdir():
                if item.name.startswith(TMP_MARK) and item.is_file():
                    with contextlib.suppress(OSError):
                        item.unlink()
                        count += 1
        return count

    # -- state.json -------------------------------------------------------------------

    def states(self) -> dict[str, SourceState]:
        """Every source's state (empty when the file is missing or unreadable)."""
        if self._states is None:
            self._states = self._read_states()
        return self._states

    def _read_states(self) -> dict[str, SourceState]:
        try:
            with self.state_file.open("rb") as fh:
                raw = fh.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return {}
        if len(raw) > MAX_STATE_BYTES:
            return {}
        try:
            data = json.loads(raw)
            items = data.get("sources", {}) if isinstance(data, dict) else {}
            return {
                str(name): SourceState.from_dict(value)
                for name, value in items.items()
                if isinstance(value, dict)
            }
        except (ValueError, TypeError, AttributeError):
            return {}  # an unreadable state only costs full downloads next time

    def save_states(self, states: Mapping[str, SourceState]) -> None:
        self.ensure()
        doc = {"version": 1, "sources": {n: s.as_dict() for n, s in sorted(states.items())}}
        atomic_write(self.state_file, json.dumps(doc, indent=2).encode() + b"\n")
        self._states = dict(states)
