"""``icewatch data update``: fetch, verify, compile into a new file, swap atomically.

One update, start to end (the data directory is locked for its duration):

1. **Fetch** each selected source: from an operator-supplied file (``--from-file``), the
   installed package (the embedded default), or its URL with a conditional request (the
   ETag / Last-Modified of the last good copy; a ``304`` keeps that copy). Downloads are
   bounded in size and time (:mod:`icewatch.intel.fetch`).
2. **Verify** each new copy by parsing it with the core. A source that fails to
   download or to parse keeps its previous copy, is reported, and makes the exit status
   non-zero; the others go on.
3. **Compile** every enabled source's good copy (new, or the last good one) into a new
   file, in catalogue order, and **verify** it by loading it (checksum, tables).
4. **Swap**: the compiled file first (write a temporary file, fsync, ``os.replace``),
   then the sources' copies, then ``state.json``. The server reads only the compiled
   file, so an interrupted update leaves it whole, old or new; never half-updated.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import httpx

from icewatch.core.intel import (
    IntelParseError,
    ParsedSource,
    compile_sources,
    load_compiled,
    read_header,
)
from icewatch.intel.fetch import FetchError, Validators, discover_url, fetch, open_client
from icewatch.intel.files import DataDir, LockedError, SourceState, atomic_write
from icewatch.intel.formats import parse_file
from icewatch.intel.sources import SOURCES, SourceSpec

__all__ = [
    "SourceOutcome",
    "UpdateEvents",
    "UpdateReport",
    "compiled_header",
    "iso_day",
    "run_update",
]

#: Outcome statuses.
UPDATED = "updated"  # a new copy was fetched, verified and compiled in
UNCHANGED = "unchanged"  # the server said 304, or the content is byte-identical
FAILED = "failed"  # download or verification failed: the previous copy is kept
KEPT = "kept"  # not fetched this time (``--source``): its last good copy is compiled in
MISSING = "missing"  # enabled but never fetched successfully: not in the data


def iso_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass
class SourceOutcome:
    """What happened to one source during an update."""

    name: str
    status: str
    detail: str = ""  # the failure, or where the copy came from
    records: int = 0
    bytes: int = 0
    version: str = ""
    url: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "records": self.records,
            "bytes": self.bytes,
            "version": self.version,
            "url": self.url,
        }


@dataclass
class UpdateReport:
    """The whole update: every source's outcome and the compiled file."""

    outcomes: list[SourceOutcome] = field(default_factory=list)
    compiled: Path | None = None
    compiled_bytes: int = 0
    compiled_sources: int = 0
    recompiled: bool = False
    error: str | None = None  # the update as a whole failed (lock, compile, write)

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "error": self.error,
            "compiled": None if self.compiled is None else str(self.compiled),
            "compiled_bytes": self.compiled_bytes,
            "compiled_sources": self.compiled_sources,
            "recompiled": self.recompiled,
            "sources": [o.as_dict() for o in self.outcomes],
        }


class UpdateEvents(Protocol):
    """Progress callbacks (the CLI draws a progress bar from them)."""

    def started(self, name: str, url: str) -> None: ...
    def progress(self, name: str, received: int, total: int | None) -> None: ...
    def finished(self, outcome: SourceOutcome) -> None: ...
    def phase(self, text: str) -> None: ...


class _Quiet:
    def started(self, name: str, url: str) -> None:
        pass

    def progress(self, name: str, received: int, total: int | None) -> None:
        pass

    def finished(self, outcome: SourceOutcome) -> None:
        pass

    def phase(self, text: str) -> None:
        pass


@dataclass
class _Candidate:
    spec: SourceSpec
    raw: bytes
    parsed: ParsedSource
    state: SourceState


def _version_for(state_last_modified: str | None, fetched_at: float) -> str:
    """The date of a format without one: Last-Modified's day, else the download's."""
    if state_last_modified:
        try:
            parsed = time.strptime(state_last_modified, "%a, %d %b %Y %H:%M:%S GMT")
            return time.strftime("%Y-%m-%d", parsed)
        except ValueError:
            pass
    return iso_day(fetched_at)


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FetchError(f"{path} is larger than {limit} bytes")
    return data


def _package_bytes() -> tuple[bytes, str]:
    from importlib import metadata, resources

    try:
        version = metadata.version("iporigin")
        with resources.files("iporigin").joinpath("data", "ranges.bin").open("rb") as fh:
            return fh.read(16 * 1024 * 1024 + 1), version
    except (ModuleNotFoundError, metadata.PackageNotFoundError, OSError) as exc:
        raise FetchError(f"the embedded default is unavailable: {exc}") from None


def _fetch_one(
    spec: SourceSpec,
    directory: DataDir,
    previous: SourceState | None,
    *,
    client: httpx.Client | None,
    from_file: Path | None,
    events: UpdateEvents,
    now: float,
) -> tuple[SourceOutcome, _Candidate | None]:
    """Fetch and verify one source; never raises for the source's own failures."""
    prev_raw = directory.raw(spec.name)
    state = replace(previous) if previous is not None else SourceState(spec.name)
    url = spec.url
    try:
        if from_file is not None:
            events.started(spec.name, str(from_file))
            raw = _read_bounded(from_file, max(spec.max_bytes, 256 * 1024 * 1024))
            origin, url = "file", str(from_file)
            validators = Validators()
        elif spec.format == "iporigin":
            events.started(spec.name, spec.url)
            raw, pkg_version = _package_bytes()
            origin, url = "package", f"package:iporigin {pkg_version}"
            validators = Validators()
        else:
            if not spec.downloadable:
                raise FetchError(
                    "no URL: supply the file with --from-file "
                    f"{spec.name}=PATH or set {spec.name}=URL in data_sources"
                )
            if client is None:
                raise FetchError("no HTTP client")
            if spec.discover:
                events.started(spec.name, spec.url)
                url = discover_url(client, spec.url, spec.discover)
            events.started(spec.name, url)
            usable = previous is not None and previous.url == url and prev_raw.exists()
            validators = (
                Validators(previous.etag, previous.last_modified)
                if usable and previous is not None
                else Validators()
            )
            result = fetch(
                client,
                url,
                max_bytes=spec.max_bytes,
                validators=validators,
                progress=lambda got, total: events.progress(spec.name, got, total),
            )
            if result.not_modified:
                state.checked_at = now
                state.error = None
                state.error_at = None
                outcome = SourceOutcome(
                    spec.name, UNCHANGED, "not modified (304)", state.records, state.bytes,
                    state.version, url,
                )  # fmt: skip
                return outcome, None
            raw = result.body or b""
            origin, url = "download", result.url
            validators = result.validators
        digest = hashlib.sha256(raw).hexdigest()
        version_hint = _version_for(validators.last_modified, now)
        parsed = parse_file(spec, raw, version=version_hint)
    except (FetchError, OSError) as exc:
        detail = str(exc) if isinstance(exc, FetchError) else f"cannot read: {exc}"
        return _failure(spec, state, detail, url, now), None
    except IntelParseError as exc:
        return _failure(spec, state, f"malformed: {exc}", url, now), None
    if len(parsed) == 0:
        return _failure(spec, state, "malformed: no records at all", url, now), None
    unchanged = state.sha256 == digest and prev_raw.exists()
    state = SourceState(
        name=spec.name,
        url=url,
        etag=validators.etag,
        last_modified=validators.last_modified,
        fetched_at=state.fetched_at if unchanged else now,
        checked_at=now,
        bytes=len(raw),
        sha256=digest,
        records=parsed.info.records,
        version=parsed.info.version,
        origin=origin,
    )
    status = UNCHANGED if unchanged else UPDATED
    detail = "same content" if unchanged else origin
    outcome = SourceOutcome(
        spec.name, status, detail, state.records, state.bytes, state.version, url
    )
    return outcome, _Candidate(spec, raw, parsed, state)


def _failure(
    spec: SourceSpec, state: SourceState, detail: str, url: str, now: float
) -> SourceOutcome:
    state.error = detail
    state.error_at = now
    return SourceOutcome(spec.name, FAILED, detail, url=url)


def run_update(
    data_dir: Path,
    enabled: Sequence[SourceSpec],
    *,
    only: Sequence[str] = (),
    from_files: Mapping[str, Path] | None = None,
    client_factory: Callable[[], httpx.Client] = open_client,
    events: UpdateEvents | None = None,
    clock: Callable[[], float] = time.time,
) -> UpdateReport:
    """Update ``data_dir`` (see the module docstring). ``enabled``: the sources the data
    is made of (the ``data_sources`` setting); ``only``: fetch just these this time (the
    others' last good copies are compiled in); ``from_files``: name → file to use instead
    of downloading. Never raises for a source's failure; see :class:`UpdateReport`."""
    events = events or _Quiet()
    files = dict(from_files or {})
    report = UpdateReport()
    directory = DataDir(data_dir)
    try:
        with directory.locked():
            directory.remove_leftovers()
            _update_locked(directory, enabled, only, files, client_factory, events, clock, report)
    except LockedError as exc:
        report.error = str(exc)
    except IntelParseError as exc:
        report.error = f"compiling failed, nothing was changed: {exc}"
    except OSError as exc:
        report.error = f"cannot write the data directory {data_dir}: {exc.strerror or exc}"
    return report


def _update_locked(
    directory: DataDir,
    enabled: Sequence[SourceSpec],
    only: Sequence[str],
    files: dict[str, Path],
    client_factory: Callable[[], httpx.Client],
    events: UpdateEvents,
    clock: Callable[[], float],
    report: UpdateReport,
) -> None:
    states = dict(directory.states())
    # A source the operator once supplied as a file stays part of the data.
    supplied = [
        spec
        for spec in SOURCES
        if spec not in enabled and (st := states.get(spec.name)) is not None and st.origin == "file"
    ]
    enabled = [*enabled, *supplied]
    selected = [
        s
        for s in enabled
        if (not only or s.name in only) and (s not in supplied or s.name in files)
    ]
    for name in files:
        if name not in {s.name for s in enabled}:
            # an operator file for a source that is not enabled by default (asn-mmdb...)
            spec = next((s for s in SOURCES if s.name == name), None)
            if spec is not None:
                enabled = [*enabled, spec]
                selected.append(spec)
    candidates: dict[str, _Candidate] = {}
    needs_http = any(
        s.name not in files and s.format != "iporigin" and s.downloadable for s in selected
    )
    client = client_factory() if needs_http else None
    try:
        for spec in selected:
            now = clock()
            outcome, candidate = _fetch_one(
                spec,
                directory,
                states.get(spec.name),
                client=client,
                from_file=files.get(spec.name),
                events=events,
                now=now,
            )
            if candidate is not None:
                candidates[spec.name] = candidate
            elif outcome.status == UNCHANGED and spec.name in states:
                states[spec.name].checked_at = now
                states[spec.name].error = None
                states[spec.name].error_at = None
            elif outcome.status == FAILED:
                prev = states.get(spec.name) or SourceState(spec.name)
                prev.error, prev.error_at = outcome.detail, now
                states[spec.name] = prev
            report.outcomes.append(outcome)
            events.finished(outcome)
    finally:
        if client is not None:
            client.close()

    # Compile every enabled source's good copy: the new one, else the last good one.
    events.phase("compiling")
    parsed: list[ParsedSource] = []
    for spec in enabled:
        if spec.name in candidates:
            parsed.append(candidates[spec.name].parsed)
            continue
        kept = _last_good(directory, spec, states.get(spec.name))
        if kept is not None:
            parsed.append(kept)
            if spec not in selected:
                st = states[spec.name]
                o = SourceOutcome(spec.name, KEPT, "last good copy", st.records, st.bytes,
                                  st.version, st.url)  # fmt: skip
                report.outcomes.append(o)
        elif spec not in selected:
            report.outcomes.append(SourceOutcome(spec.name, MISSING, "never fetched"))
    prev_sha = {n: st.sha256 for n, st in states.items()}
    changed = any(c.state.sha256 != prev_sha.get(n, "") for n, c in candidates.items())
    names_now = [p.info.name for p in parsed]
    current = _compiled_names(directory)
    if changed or current != names_now:
        built = _iso(clock())
        blob = compile_sources(parsed, built=built)
        events.phase("verifying")
        db = load_compiled(blob)  # a file that does not load is never swapped in
        if [s.name for s in db.sources] != names_now:
            raise IntelParseError("compiled", "the compiled file does not list its sources")
        events.phase("swapping")
        atomic_write(directory.compiled, blob)
        report.recompiled = True
    for name, c in candidates.items():
        if c.state.sha256 != prev_sha.get(name, "") or not directory.raw(name).exists():
            atomic_write(directory.raw(name), c.raw)
        states[name] = c.state
    directory.save_states(states)
    if directory.compiled.exists():
        report.compiled = directory.compiled
        report.compiled_bytes = directory.compiled.stat().st_size
        report.compiled_sources = len(names_now)


def _last_good(
    directory: DataDir, spec: SourceSpec, state: SourceState | None
) -> ParsedSource | None:
    """The kept copy of a source, parsed again (``None`` when there is none or it fails)."""
    if spec.format == "iporigin" and state is not None and state.records:
        try:
            raw, _ = _package_bytes()
            return parse_file(spec, raw, version="")
        except (FetchError, IntelParseError):
            return None
    path = directory.raw(spec.name)
    if state is None or not path.exists():
        return None
    try:
        raw = path.read_bytes()
        return parse_file(
            spec, raw, version=_version_for(state.last_modified, state.fetched_at or 0)
        )
    except (OSError, IntelParseError):
        return None


def compiled_header(path: Path) -> dict[str, Any] | None:
    """The compiled file's header (sources, build stamp, counts), or ``None``."""
    try:
        data = path.read_bytes()
        return read_header(data)
    except (OSError, IntelParseError):
        return None


def _compiled_names(directory: DataDir) -> list[str] | None:
    header = compiled_header(directory.compiled)
    sources = None if header is None else header.get("sources")
    if not isinstance(sources, list):
        return None
    return [str(s.get("name")) for s in sources if isinstance(s, dict)]
