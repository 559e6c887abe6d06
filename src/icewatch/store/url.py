"""Store and state URLs: the scheme picks the backend; passwords never reach a message.

``sqlite:///relative/path.db`` (three slashes: a path relative to the working
directory), ``sqlite:////absolute/path.db`` (four: an absolute path) and
``sqlite://:memory:`` (a private in-memory database, for tests) name SQLite stores;
``memory://`` names the in-process correlation state. ``postgresql://`` and
``redis://`` are reserved for the multi-process deployment of a later milestone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from icewatch.store.errors import StoreError

__all__ = ["MEMORY", "SqliteTarget", "mask_url", "parse_sqlite_url", "scheme_of"]

#: The ``path`` of an in-memory SQLite target.
MEMORY = ":memory:"


def mask_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``, for logs and errors."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # a malformed netloc (bad port, unbalanced bracket)
        return url.split("://", 1)[0] + "://***" if "@" in url else url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def scheme_of(url: str) -> str:
    """The lower-case scheme of ``url`` (``""`` when it has none)."""
    if not isinstance(url, str) or "://" not in url:
        return ""
    return url.split("://", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """Where an SQLite store lives: a file path, or :data:`MEMORY`."""

    path: str

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY


def parse_sqlite_url(url: str) -> SqliteTarget:
    """Read an ``sqlite://`` URL; raise :class:`StoreError` naming what is wrong."""
    if scheme_of(url) != "sqlite":
        raise StoreError(f"not an sqlite:// URL: {mask_url(url)}")
    rest = url.split("://", 1)[1]
    if rest in (MEMORY, "/" + MEMORY):
        return SqliteTarget(MEMORY)
    if "?" in rest or "#" in rest:
        raise StoreError(f"sqlite URLs take no query or fragment: {mask_url(url)}")
    if not rest.startswith("/"):
        raise StoreError(
            f"sqlite URL has a host part: {mask_url(url)}; use sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    path = unquote(rest[1:])  # "/rel.db" -> "rel.db"; "//abs.db" -> "/abs.db"
    if not path or path.endswith("/"):
        raise StoreError(f"sqlite URL names no file: {mask_url(url)}")
    if "\x00" in path:
        raise StoreError("sqlite URL contains a NUL character")
    return SqliteTarget(path)
