"""The one error type the store adapter raises for an unusable store."""

from __future__ import annotations

from icewatch.core.errors import IcewatchError

__all__ = ["StoreError"]


class StoreError(IcewatchError):
    """The store (or correlation state) cannot be opened or used.

    The message is written for an operator and is safe to print as is: it names the
    file or URL at fault (with any password masked) and what to do about it. Raised by
    :func:`~icewatch.store.open_store` for start-up problems (unknown URL scheme,
    unwritable path, a file that is not a database, a schema newer than this code) and
    by store methods when the database fails underneath (disk full, I/O error) or the
    store is already closed.
    """
