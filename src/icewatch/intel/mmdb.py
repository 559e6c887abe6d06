"""ASN databases in the MaxMind DB format (``.mmdb``), read with the ``maxminddb`` C reader.

DB-IP's ASN lite (CC BY 4.0) and MaxMind's GeoLite2-ASN (needs an account) ship as
``.mmdb`` files whose records carry ``autonomous_system_number`` and
``autonomous_system_organization``. :func:`parse_mmdb_asn` walks every network of such
a file and builds the core's IP → ASN table from it (through
:class:`~icewatch.core.intel.SourceBuilder`), so the compiled lookup answers ASN and
organisation with provenance like any other source. Networks without an ASN are skipped;
a file that is not an ASN database (no such field anywhere) is refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
from typing import Any

import maxminddb

from icewatch.core.intel import IntelParseError, ParsedSource, Role, SourceBuilder
from icewatch.intel.sources import SourceSpec

__all__ = ["parse_mmdb_asn"]

_ASN = "autonomous_system_number"
_ORG = "autonomous_system_organization"


def _network_rows(reader: Any) -> Any:
    yield from reader


def parse_mmdb_asn(data: bytes, spec: SourceSpec, *, version: str = "") -> ParsedSource:
    """The IP → ASN table in an ``.mmdb`` file's bytes; raise :class:`IntelParseError`."""
    fd, path = tempfile.mkstemp(suffix=".mmdb")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            reader = maxminddb.open_database(path)
        except (ValueError, OSError, maxminddb.InvalidDatabaseError) as exc:
            raise IntelParseError("mmdb", f"not a MaxMind DB file: {exc}") from None
        with reader:
            meta = reader.metadata()
            builder = SourceBuilder(
                source=spec.name,
                role=Role.ASN_TABLE,
                kind=None,
                provider=spec.provider,
                licence=spec.licence,
                url=spec.url,
            )
            records: dict[tuple[int, str], int] = {}
            seen_asn = False
            try:
                for network, record in _network_rows(reader):
                    if not isinstance(record, dict):
                        continue
                    asn = record.get(_ASN)
                    if isinstance(asn, bool) or not isinstance(asn, int) or asn <= 0:
                        continue
                    seen_asn = True
                    org = record.get(_ORG)
                    org_text = org if isinstance(org, str) else ""
                    key = (asn, org_text)
                    rec = records.get(key)
                    if rec is None:
                        rec = records[key] = builder.record(asn=asn, org=org_text or None)
                    net = ipaddress.ip_network(network)
                    builder.add(
                        net.version, int(net.network_address), int(net.broadcast_address), rec
                    )
            except (ValueError, OSError, maxminddb.InvalidDatabaseError) as exc:
                raise IntelParseError("mmdb", f"corrupt MaxMind DB file: {exc}") from None
            if not seen_asn:
                raise IntelParseError("mmdb", f"no {_ASN} in any record: not an ASN database")
            built = int(getattr(meta, "build_epoch", 0) or 0)
            db_type = str(getattr(meta, "database_type", "") or "")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    if not version and built:
        import time

        version = time.strftime("%Y-%m-%d", time.gmtime(built))
    return builder.build(version=version, metadata=(("database_type", db_type),))
