"""``icewatch data status``: what the data is made of, how old it is, what the server uses.

:func:`data_status` returns one JSON-able document (``--json`` prints it as is; the text
form is drawn from it): every source with its date or version, size, record count, age,
licence and a staleness warning; the compiled file; the embedded default with its date
and licence; the operator lists; which data ``icewatch serve`` would answer from; and
warnings — notably when no IP → ASN data is present (a warning, not an error).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from icewatch.core.intel import IntelParseError
from icewatch.intel.embedded import EXCLUDED_PROVIDERS, EmbeddedUnavailable, load_embedded
from icewatch.intel.files import DataDir
from icewatch.intel.lists import ListError, load_lists, parse_specs
from icewatch.intel.runtime import NO_ASN_WARNING, load_compiled_file
from icewatch.intel.sources import SOURCES, SourceSpec

__all__ = ["data_status"]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def data_status(
    data_dir: Path,
    enabled: Sequence[SourceSpec],
    *,
    stale_days: int,
    lists: Sequence[str] = (),
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    now = clock()
    directory = DataDir(data_dir)
    states = directory.states()
    warnings: list[str] = []
    enabled_names = {s.name for s in enabled}

    compiled: dict[str, Any] | None = None
    compiled_sources: dict[str, dict[str, Any]] = {}
    asn_data = False
    uses = "none"
    uses_detail = ""
    if directory.compiled.exists():
        path = directory.compiled
        compiled = {"path": str(path), "bytes": path.stat().st_size, "valid": False}
        try:
            db = load_compiled_file(path)
        except (OSError, IntelParseError) as exc:
            compiled["error"] = str(exc)
            warnings.append(f"the compiled file is unusable ({exc}); the server would fall "
                            "back to the embedded default")  # fmt: skip
        else:
            compiled.update(valid=True, built=db.built, sources=len(db.sources))
            compiled_sources = {s.name: s.as_dict() for s in db.sources}
            asn_data = db.has_asn_data()
            uses, uses_detail = "compiled", f"{path} (built {db.built})"
            age = (now - path.stat().st_mtime) / 86400
            compiled["age_days"] = round(age, 1)
            if age > stale_days:
                warnings.append(
                    f"the compiled data is {age:.0f} days old (data_stale_days = "
                    f"{stale_days}): run `icewatch data update`"
                )

    embedded: dict[str, Any] | None = None
    try:
        _source, info = load_embedded()
    except EmbeddedUnavailable as exc:
        embedded = {"available": False, "error": str(exc)}
    else:
        embedded = {
            "available": True,
            "package": info.package,
            "package_version": info.package_version,
            "built": _iso(info.built_at),
            "version": info.version,
            "ranges": info.ranges,
            "kept": info.kept,
            "excluded": sorted(EXCLUDED_PROVIDERS),
            "licence": info.licence,
            "age_days": round((now - info.built_at) / 86400, 1),
        }
        if uses == "none":
            uses, uses_detail = "embedded", info.version
    if uses == "none":
        warnings.append(
            "no IP-intelligence data at all: only operator lists would classify addresses"
        )
    if uses != "compiled":
        asn_data = False
    if not asn_data:
        warnings.append(NO_ASN_WARNING)

    rows = []
    for spec in SOURCES:
        st = states.get(spec.name)
        if spec.name not in enabled_names and st is None:
            continue
        fetched = None if st is None else st.fetched_at
        src_age = None if fetched is None else round((now - fetched) / 86400, 1)
        in_compiled = compiled_sources.get(spec.name)
        stale = src_age is not None and src_age > stale_days and spec.name in enabled_names
        row = {
            "name": spec.name,
            "enabled": spec.name in enabled_names or (st is not None and st.origin == "file"),
            "provider": spec.provider,
            "kind": spec.kind,
            "format": spec.format,
            "authority": spec.authority,
            "url": spec.url if st is None or not st.url else st.url,
            "licence": spec.licence,
            "version": (in_compiled or {}).get("version") or (st.version if st else None),
            "records": (in_compiled or {}).get("records") or (st.records if st else 0),
            "bytes": 0 if st is None else st.bytes,
            "fetched_at": _iso(fetched),
            "checked_at": _iso(None if st is None else st.checked_at),
            "age_days": src_age,
            "stale": stale,
            "in_compiled": in_compiled is not None,
            "last_error": None if st is None else st.error,
            "last_error_at": _iso(None if st is None else st.error_at),
        }
        if stale:
            warnings.append(
                f"source {spec.name} is {src_age:.0f} days old (data_stale_days = {stale_days})"
            )
        if st is not None and st.error:
            warnings.append(f"source {spec.name}: the last update failed: {st.error}")
        rows.append(row)

    list_rows = []
    try:
        specs = parse_specs(lists)
    except ListError as exc:
        specs = ()
        warnings.append(str(exc))
    for spec_ in specs:
        item: dict[str, Any] = {"kind": spec_.kind, "path": str(spec_.path)}
        try:
            parsed = load_lists([spec_])[0]
        except ListError as exc:
            item["error"] = str(exc)
            warnings.append(f"{exc} (the server would refuse to start)")
        else:
            item.update(records=parsed.info.records, version=parsed.info.version)
        list_rows.append(item)

    return {
        "data_dir": str(data_dir),
        "server_uses": uses,
        "server_uses_detail": uses_detail,
        "asn_data": asn_data,
        "stale_days": stale_days,
        "compiled": compiled,
        "embedded": embedded,
        "sources": rows,
        "lists": list_rows,
        "warnings": warnings,
    }
