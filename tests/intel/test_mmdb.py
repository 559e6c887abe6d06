"""ASN databases in the MaxMind DB format, written with mmdb-writer and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from icewatch.core.intel import IntelParseError
from icewatch.intel.runtime import load_compiled_file
from icewatch.intel.sources import SOURCES_BY_NAME
from icewatch.intel.update import run_update

mmdb_writer = pytest.importorskip("mmdb_writer")


def _write(path: Path, rows: dict[str, dict[str, object]], db_type: str = "GeoLite2-ASN") -> None:
    from netaddr import IPSet  # type: ignore[import-untyped]

    w = mmdb_writer.MMDBWriter(ip_version=6, database_type=db_type, ipv4_compatible=True)
    for net, record in rows.items():
        w.insert_network(IPSet([net]), record)
    w.to_db_file(str(path))


def test_asn_mmdb_from_file_gives_asn_and_org(tmp_path: Path) -> None:
    path = tmp_path / "asn.mmdb"
    _write(
        path,
        {
            "203.0.113.0/24": {
                "autonomous_system_number": 64500,
                "autonomous_system_organization": "Example Hosting",
            },
            "2001:db8::/32": {"autonomous_system_number": 64501},
        },
    )
    report = run_update(
        tmp_path / "d",
        [SOURCES_BY_NAME["asn-mmdb"]],
        from_files={"asn-mmdb": path},
    )
    assert report.ok, report.as_dict()
    db = load_compiled_file(tmp_path / "d" / "intel.db")
    assert db.has_asn_data()
    r = db.lookup("203.0.113.77")
    assert (r.asn, r.org) == (64500, "Example Hosting")
    assert r.asn_provenance is not None
    assert r.asn_provenance.source == "asn-mmdb"
    assert r.asn_provenance.prefix == "203.0.113.0/24"
    assert db.lookup("2001:db8::1").asn == 64501


def test_an_mmdb_without_asns_is_refused(tmp_path: Path) -> None:
    from icewatch.intel.mmdb import parse_mmdb_asn

    path = tmp_path / "city.mmdb"
    _write(path, {"203.0.113.0/24": {"city": "Nowhere"}}, db_type="GeoLite2-City")
    with pytest.raises(IntelParseError, match="not an ASN database"):
        parse_mmdb_asn(path.read_bytes(), SOURCES_BY_NAME["asn-mmdb"])
    with pytest.raises(IntelParseError, match="not a MaxMind DB"):
        parse_mmdb_asn(b"nothing here", SOURCES_BY_NAME["asn-mmdb"])
