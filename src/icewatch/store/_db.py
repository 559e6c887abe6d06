"""The SQLite machinery: one writer thread fed by a queue, readers in a small pool.

Why this shape (after datasette's ``database.py``): SQLite allows one writer at a time,
so every write goes to one thread that owns the only writing connection. It takes what
is queued (up to :data:`MAX_BATCH` jobs), runs each job in its own SAVEPOINT inside one
transaction, commits once, and only then resolves the callers' futures: a write is
acknowledged after it is durable, and a burst of writes shares one fsync (group
commit). A job that fails rolls back to its savepoint and fails alone. Reads run on a
small thread pool of read-only connections; WAL lets them proceed while the writer
commits. Nothing here runs on the event loop: callers await an ``asyncio`` future that
the worker thread resolves.

Shutdown puts a sentinel on the queue: everything queued before it is committed and
acknowledged, then the thread closes its connection.

An in-memory database (tests) exists on one connection only, so there its reads are
queued to the writer thread too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from icewatch.store.errors import StoreError
from icewatch.store.schema import MIGRATIONS, Migration, migrate
from icewatch.store.url import MEMORY, SqliteTarget

__all__ = ["MAX_BATCH", "Database"]

T = TypeVar("T")

#: Most jobs committed in one transaction (one fsync).
MAX_BATCH = 256
#: How long a connection waits for a lock held by another process before failing.
BUSY_TIMEOUT_MS = 5000


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]
    read: bool = False


_STOP = object()


class _BatchLost(Exception):
    """The transaction of a batch was rolled back as a whole (I/O error, disk full)."""


def describe_error(exc: BaseException, where: str) -> StoreError:
    """An operator-readable :class:`StoreError` for a failure opening or using ``where``."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    low = text.lower()
    if isinstance(exc, sqlite3.DatabaseError):
        if "not a database" in low or "malformed" in low:
            return StoreError(f"{where} is not an SQLite database (or it is damaged): {text}")
        if "unable to open" in low:
            return StoreError(
                f"cannot open {where}: check that the path and its directory exist "
                f"and are writable ({text})"
            )
        if "readonly" in low or "read-only" in low:
            return StoreError(
                f"{where} is read-only: icewatch needs to write to it and to its directory ({text})"
            )
        if "locked" in low or "busy" in low:
            return StoreError(f"{where} is locked by another process ({text})")
        if "disk" in low and "full" in low:
            return StoreError(f"{where}: the disk is full ({text})")
        return StoreError(f"{where}: database error: {text}")
    if isinstance(exc, OSError):
        return StoreError(f"cannot open {where}: {exc.strerror or text}")
    return StoreError(f"{where}: {type(exc).__name__}: {text}")


def _check_path(path: Path, where: str) -> None:
    """Clear messages for the usual start-up mistakes, before SQLite's terse ones; create
    a new database file readable by its owner only (it holds secrets and IP addresses)."""
    parent = path.parent
    if path.is_dir():
        raise StoreError(f"{where} is a directory, not a database file")
    if not parent.exists():
        raise StoreError(f"cannot open {where}: directory {parent} does not exist")
    if not parent.is_dir():
        raise StoreError(f"cannot open {where}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot open {where}: directory {parent} is not writable "
            "(SQLite creates its -wal and -shm files beside the database)"
        )
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(f"cannot open {where}: the file is not readable and writable")
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Database:
    """A connection set to one SQLite database; see the module docstring."""

    def __init__(
        self,
        target: SqliteTarget,
        *,
        readers: int = 2,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.target = target
        self.path = Path(target.path)
        self.where = (
            "in-memory database"
            if target.in_memory
            else (
                str(self.path)
                if self.path.is_absolute()
                else f"{self.path} ({self.path.absolute()})"
            )
        )
        self._migrations = migrations
        self._n_readers = 0 if target.in_memory else max(1, readers)
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._reader_conns: list[sqlite3.Connection] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.schema_version = 0
        self.batches = 0  # transactions committed by the writer
        self.writes = 0  # write jobs that succeeded

    # -- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Start the writer (which creates/migrates the database), then the readers."""
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="icewatch-store-writer", daemon=True
        )
        self._thread.start()
        try:
            self.schema_version = await asyncio.wrap_future(started)
            if self._n_readers:
                await asyncio.to_thread(self._open_readers)
        except BaseException:  # a start-up error, or cancelled while starting
            await self.close()
            raise

    def _open_readers(self) -> None:
        try:
            for _ in range(self._n_readers):
                conn = self._connect(writer=False)
                self._reader_conns.append(conn)
                self._readers.put(conn)
        except Exception as exc:
            raise describe_error(exc, self.where) from None
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._n_readers, thread_name_prefix="icewatch-store-read"
        )

    async def close(self) -> None:
        """Commit and acknowledge every write queued so far, then release everything.
        Idempotent; later calls to :meth:`write`/:meth:`read` raise :class:`StoreError`."""
        with self._lock:
            first = not self._closed
            self._closed = True
            if first and self._thread is not None:
                self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.wrap_future(self._done)
        if first:
            await asyncio.to_thread(self._close_readers)

    def _close_readers(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def writer_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- submitting work ----------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer's transaction; return once it is committed."""
        return await self._submit(fn, read=False)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one read transaction (one consistent snapshot)."""
        if self._pool is None:  # in-memory: the writer's connection is the database
            return await self._submit(fn, read=True)
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.where}: the store is closed")
            fut = self._pool.submit(self._pooled_read, fn)
        return await asyncio.wrap_future(fut)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], *, read: bool) -> T:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._closed or not self.writer_alive:
                raise StoreError(f"{self.where}: the store is closed")
            self._queue.put(_Job(fn, fut, read))
        return await asyncio.wrap_future(fut)

    def _pooled_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._readers.get()
        try:
            return self._read_on(conn, fn)
        finally:
            self._readers.put(conn)

    def _read_on(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise describe_error(exc, self.where) from None

    # -- the writer thread ----------------------------------------------------------------

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        if self.target.in_memory:
            conn = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if writer:
                mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
                if mode != "wal" and not self.target.in_memory:
                    raise StoreError(f"{self.where}: could not switch to WAL mode (got {mode})")
                # FULL: in WAL mode, NORMAL may lose the last commits on power loss; a
                # write is acknowledged only after commit, so the commit must be on disk.
                conn.execute("PRAGMA synchronous = FULL")
                # Deleted and overwritten rows are zeroed in the file, not left in free
                # pages: a purged session or a rewritten address is gone (docs/privacy.md).
                conn.execute("PRAGMA secure_delete = ON")
            else:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _main(self, started: concurrent.futures.Future[int]) -> None:
        started.set_running_or_notify_cancel()  # from now on it always gets an outcome
        try:
            try:
                if not self.target.in_memory:
                    _check_path(self.path, self.where)
                conn = self._connect(writer=True)
            except Exception as exc:
                started.set_exception(describe_error(exc, self.where))
                return
            try:
                version = migrate(conn, self.where, self._migrations)
            except Exception as exc:
                conn.close()
                started.set_exception(describe_error(exc, self.where))
                return
            started.set_result(version)
            try:
                self._serve(conn)
            finally:
                conn.close()
        finally:
            with self._lock:
                self._closed = True
            self._fail_queued()
            self._done.set_result(None)

    def _fail_queued(self) -> None:
        """After the writer stopped: anything still queued (only possible if the thread
        died) is refused, never left waiting."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job) and job.future.set_running_or_notify_cancel():
                job.future.set_exception(StoreError(f"{self.where}: the store is closed"))

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < MAX_BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            pending: list[_Job] = []
            for item in items:
                if not isinstance(item, _Job):
                    stop = True
                elif item.read:
                    self._commit(conn, pending)
                    pending = []
                    if item.future.set_running_or_notify_cancel():
                        try:
                            item.future.set_result(self._read_on(conn, item.fn))
                        except Exception as exc:
                            item.future.set_exception(exc)
                else:
                    pending.append(item)
            self._commit(conn, pending)
            if stop:
                return

    def _commit(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        """Run ``jobs`` in one transaction, each in a savepoint; resolve after COMMIT."""
        jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]
        if not jobs:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except Exception as exc:
                    if not conn.in_transaction:
                        raise _BatchLost(exc) from exc
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    if isinstance(exc, sqlite3.Error):
                        exc = describe_error(exc, self.where)
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((True, value))
            conn.execute("COMMIT")
        except Exception as exc:
            cause = exc.args[0] if isinstance(exc, _BatchLost) else exc
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            error = describe_error(cause, self.where)
            for job in jobs:
                job.future.set_exception(error)
            return
        self.batches += 1
        for job, (ok, value) in zip(jobs, outcomes, strict=True):
            if ok:
                self.writes += 1
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
