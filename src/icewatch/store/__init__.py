"""The storage adapter: sessions in a database, and the short-lived correlation state.

Both are chosen by URL scheme and opened by an async factory that returns a ready
object or raises :class:`StoreError` with a message an operator can act on::

    store = await open_store("sqlite:///icewatch.db")   # a core.ports.SessionStore
    state = await open_state("memory://")               # a core.ports.CorrelationState
    ...
    await state.close()
    await store.close()      # finishes every acknowledged write first

Backends are imported only when their scheme is used, so ``import icewatch.store``
costs nothing and a later PostgreSQL or Redis backend can bring its own driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from icewatch.store.errors import StoreError
from icewatch.store.url import mask_url, scheme_of

if TYPE_CHECKING:
    from icewatch.core.ports import CorrelationState, SessionStore
    from icewatch.store.memory_state import StateLimits

__all__ = [
    "STATE_SCHEMES",
    "STORE_SCHEMES",
    "StoreError",
    "mask_url",
    "open_state",
    "open_store",
]

#: Store URL schemes: available now, and reserved for a later milestone.
STORE_SCHEMES = ("sqlite",)
_STORE_LATER = ("postgresql", "postgres")
#: Correlation-state URL schemes: available now, and reserved for a later milestone.
STATE_SCHEMES = ("memory",)
_STATE_LATER = ("redis", "rediss")


def _unsupported(
    kind: str, url: str, scheme: str, now: tuple[str, ...], later: tuple[str, ...]
) -> StoreError:
    supported = ", ".join(f"{s}://" for s in now)
    if scheme in later:
        return StoreError(
            f"{kind} URL {mask_url(url)}: {scheme}:// is not available yet "
            f"(a later release adds it); supported now: {supported}"
        )
    shown = f"scheme {scheme}://" if scheme else "no scheme"
    example = " (e.g. sqlite:///icewatch.db)" if kind == "store" else ""
    return StoreError(f"{kind} URL {mask_url(url)} has {shown}; supported: {supported}{example}")


async def open_store(url: str, *, readers: int = 2) -> SessionStore:
    """Open (create, migrate) the session store named by ``url``; raise :class:`StoreError`.

    * ``sqlite:///relative/path.db`` — relative to the working directory;
    * ``sqlite:////absolute/path.db`` — an absolute path;
    * ``sqlite://:memory:`` — a private in-memory database (tests; gone on close).

    ``readers`` is the number of read connections (file databases only).
    """
    scheme = scheme_of(url)
    if scheme != "sqlite":
        raise _unsupported("store", url, scheme, STORE_SCHEMES, _STORE_LATER)
    from icewatch.store.sqlite import SqliteStore
    from icewatch.store.url import parse_sqlite_url

    store = SqliteStore(parse_sqlite_url(url), mask_url(url), readers=readers)
    await store.open()
    return store


async def open_state(url: str, *, limits: StateLimits | None = None) -> CorrelationState:
    """Open the correlation state named by ``url``; raise :class:`StoreError`.

    * ``memory://`` — in this process, bounded by ``limits`` (see
      :class:`~icewatch.store.memory_state.StateLimits`).
    """
    scheme = scheme_of(url)
    if scheme != "memory":
        raise _unsupported("state", url, scheme, STATE_SCHEMES, _STATE_LATER)
    if url.split("://", 1)[1] not in ("", "/"):
        raise StoreError(f"state URL {mask_url(url)}: memory:// takes nothing after the scheme")
    from icewatch.store.memory_state import MemoryCorrelationState

    return MemoryCorrelationState(limits)
