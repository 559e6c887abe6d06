"""What the server looks addresses up in: the data, the operator lists, and warnings.

:func:`load_runtime` picks the data, in this order:

1. ``DATA_DIR/intel.db``, compiled by ``icewatch data update`` (verified on load: a
   corrupt or truncated file is a warning and the next choice is used);
2. the embedded default (:mod:`icewatch.intel.embedded`), compiled in memory (~0.1 s);
3. nothing: every lookup answers nothing (a warning says so).

Operator lists (``--list KIND=PATH``) are compiled into a second, small lookup and
consulted for every address on top of the data. Both are immutable; the server swaps a
new :class:`IntelRuntime` into its :class:`RuntimeHolder` on SIGHUP, so a lookup is a
dict-and-bisect in memory with no I/O per request.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from icewatch.core.addr import IPAddress
from icewatch.core.intel import (
    EMPTY_RESULT,
    IntelDB,
    IntelParseError,
    IntelResult,
    SourceInfo,
    load_compiled,
)
from icewatch.core.netclass import Category, classify_ip
from icewatch.intel.embedded import EmbeddedUnavailable, load_embedded
from icewatch.intel.files import DataDir
from icewatch.intel.lists import load_lists, parse_specs

__all__ = [
    "MAX_COMPILED_BYTES",
    "IntelRuntime",
    "RuntimeHolder",
    "load_compiled_file",
    "load_runtime",
]

log = logging.getLogger("icewatch.intel")

#: Largest compiled file the server reads (the full ASN table compiles to ~30 MB).
MAX_COMPILED_BYTES = 1024 * 1024 * 1024
NO_ASN_WARNING = (
    "no IP → ASN data: hits carry no ASN or organisation and ASN lists (X4BNet) match "
    "nothing; run `icewatch data update` (source iptoasn) to add it"
)


def _is_public(ip: IPAddress) -> bool:
    return classify_ip(str(ip)).category is Category.PUBLIC


@dataclass(frozen=True, slots=True)
class IntelRuntime:
    """The data and the lists one server process answers from."""

    data: IntelDB
    lists: IntelDB
    origin: str  # "compiled" | "embedded" | "none"
    description: str  # one line: which data, its date; stored in each session's evidence
    warnings: tuple[str, ...] = ()
    list_names: tuple[str, ...] = ()
    #: When the data in use was built (Unix seconds; ``None``: no data), for the
    #: ``icewatch_intel_data_age_seconds`` gauge, and its version text.
    built_at: float | None = None
    version: str = ""

    def lookup(self, ip: IPAddress) -> IntelResult:
        """Every source's answer for ``ip``: the data's, then the operator lists'.

        Only public addresses are looked up in the data: published feeds sometimes carry
        documentation or private ranges (a geofeed's example lines), and a private or
        CGNAT address says nothing about a provider. Operator lists see every address
        (a lab or an intranet lists its own private networks)."""
        found = self.data.lookup(ip) if _is_public(ip) else EMPTY_RESULT
        if self.lists.is_empty():
            return found
        extra = self.lists.lookup(ip)
        if not extra.hits:
            return found
        return found._replace(hits=found.hits + extra.hits)

    @property
    def sources(self) -> tuple[SourceInfo, ...]:
        return self.data.sources + self.lists.sources

    @classmethod
    def empty(cls) -> IntelRuntime:
        return cls(IntelDB.empty(), IntelDB.empty(), "none", "none")


@dataclass
class RuntimeHolder:
    """The current runtime, replaced whole on reload (readers never see a mix)."""

    current: IntelRuntime = field(default_factory=IntelRuntime.empty)


def load_compiled_file(path: Path) -> IntelDB:
    """Read and verify a compiled file; raise ``OSError`` or :class:`IntelParseError`."""
    with path.open("rb") as fh:
        data = fh.read(MAX_COMPILED_BYTES + 1)
    if len(data) > MAX_COMPILED_BYTES:
        raise IntelParseError("file", f"larger than {MAX_COMPILED_BYTES} bytes")
    return load_compiled(data)


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _parse_built(stamp: str, fallback: float) -> float:
    """The compiled file's ``built`` stamp (``2026-11-28T02:00:00Z``) as Unix seconds;
    ``fallback`` (the file's modification time) when it has none or it does not parse."""
    try:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return fallback


def load_runtime(
    data_dir: Path,
    lists: Sequence[str] = (),
    *,
    stale_days: int = 7,
    clock: Callable[[], float] = time.time,
) -> IntelRuntime:
    """The runtime for ``data_dir`` and the ``lists`` setting (``KIND=PATH`` texts).

    Raise :class:`~icewatch.intel.lists.ListError` for a bad operator list (the server
    refuses to start); any problem with the data itself is a warning, never an error."""
    list_sources = load_lists(parse_specs(lists))
    list_db = IntelDB.from_sources(list_sources) if list_sources else IntelDB.empty()
    warnings: list[str] = []
    directory = DataDir(data_dir)
    data: IntelDB | None = None
    origin = "none"
    description = "none"
    built_at: float | None = None
    version = ""
    if directory.compiled.exists():
        try:
            data = load_compiled_file(directory.compiled)
        except (OSError, IntelParseError) as exc:
            warnings.append(
                f"compiled data {directory.compiled} unusable ({exc}); "
                "falling back to the embedded default"
            )
        else:
            origin = "compiled"
            mtime = directory.compiled.stat().st_mtime
            description = f"compiled {data.built or _day(mtime)} ({len(data.sources)} sources)"
            built_at = _parse_built(data.built, mtime)
            version = data.built or _day(mtime)
            age_days = (clock() - mtime) / 86400
            if age_days > stale_days:
                warnings.append(
                    f"compiled data is {age_days:.0f} days old (over data_stale_days = "
                    f"{stale_days}); run `icewatch data update`"
                )
    if data is None:
        try:
            source, info = load_embedded()
        except EmbeddedUnavailable as exc:
            warnings.append(
                f"no IP-intelligence data: no compiled file in {data_dir} and the embedded "
                f"default is unavailable ({exc}); only operator lists classify addresses"
            )
            data = IntelDB.empty()
        else:
            data = IntelDB.from_sources([source], built=source.info.version)
            origin = "embedded"
            description = f"embedded default ({info.version})"
            built_at = info.built_at
            version = info.version
            age_days = (clock() - info.built_at) / 86400
            if age_days > max(stale_days, 60):  # released monthly
                warnings.append(
                    f"the embedded default is {age_days:.0f} days old; run "
                    "`icewatch data update` for current data"
                )
    if not data.has_asn_data():
        warnings.append(NO_ASN_WARNING)
    names = tuple(s.name for s in list_sources)
    if names:
        description += "; lists: " + ", ".join(names)
    return IntelRuntime(
        data=data,
        lists=list_db,
        origin=origin,
        description=description,
        warnings=tuple(warnings),
        list_names=names,
        built_at=built_at,
        version=version,
    )


def reload_into(
    holder: RuntimeHolder,
    data_dir: Path,
    lists: Sequence[str],
    *,
    stale_days: int = 7,
) -> bool:
    """Reload (SIGHUP): swap in a new runtime, or keep the old one and log why not."""
    try:
        fresh = load_runtime(data_dir, lists, stale_days=stale_days)
    except Exception as exc:
        log.error("IP intelligence not reloaded, keeping the previous data: %s", exc)
        return False
    holder.current = fresh
    log.info("IP intelligence reloaded: %s", fresh.description)
    for warning in fresh.warnings:
        with contextlib.suppress(Exception):
            log.warning("%s", warning)
    return True
