"""Turning a downloaded (or operator-supplied) file into a core source.

:func:`parse_file` decompresses when the source is gzip (bounded: a small file cannot
expand into gigabytes), decodes UTF-8, and hands the text to the core parser the
source's format names. ``.mmdb`` ASN databases (DB-IP ASN lite, GeoLite2-ASN) are read
with the ``maxminddb`` C reader (:mod:`icewatch.intel.mmdb`); the embedded default
from its package (:mod:`icewatch.intel.embedded`). Every failure is an
:class:`~icewatch.core.intel.IntelParseError`.
"""

from __future__ import annotations

import zlib

from icewatch.core.intel import IntelParseError, Kind, ParsedSource
from icewatch.core.intel.parsers import (
    parse_asn_csv,
    parse_asn_list,
    parse_aws_ip_ranges,
    parse_azure_service_tags,
    parse_cidr_list,
    parse_geofeed,
    parse_google_ranges,
    parse_iptoasn_tsv,
    parse_oracle_ranges,
    parse_tor_exits,
)
from icewatch.intel.sources import SourceSpec

__all__ = ["MAX_DECOMPRESSED", "gunzip", "parse_file"]

#: Largest decompressed size accepted (the combined iptoasn table is ~30 MB).
MAX_DECOMPRESSED = 512 * 1024 * 1024


def gunzip(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Decompress a gzip file, refusing output over ``limit``; raise IntelParseError."""
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise IntelParseError("gzip", f"decompresses to more than {limit} bytes")
        out += d.flush()
    except zlib.error as exc:
        raise IntelParseError("gzip", f"not a valid gzip file: {exc}") from None
    if not d.eof:
        raise IntelParseError("gzip", "truncated gzip file")
    if len(out) > limit:
        raise IntelParseError("gzip", f"decompresses to more than {limit} bytes")
    return out


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IntelParseError("text", f"not UTF-8 (byte {exc.start})") from None


def parse_file(spec: SourceSpec, data: bytes, *, version: str) -> ParsedSource:
    """Parse one source's file; ``version`` dates formats that carry no date of their own
    (lists, geofeeds, ASN tables: the server's Last-Modified or the download date)."""
    if spec.format == "mmdb":
        from icewatch.intel.mmdb import parse_mmdb_asn  # the C reader only when used

        raw = gunzip(data) if data[:2] == b"\x1f\x8b" else data
        return parse_mmdb_asn(raw, spec, version=version)
    if spec.format == "iporigin":
        from icewatch.intel.embedded import parse_iporigin

        return parse_iporigin(data)[0]
    if spec.gzip or data[:2] == b"\x1f\x8b":
        data = gunzip(data)
    text = _text(data)
    n, p, lic, url = spec.name, spec.provider, spec.licence, spec.url
    kind = Kind(spec.kind) if spec.kind is not None else None
    fmt = spec.format
    if fmt == "aws":
        return parse_aws_ip_ranges(text, source=n, provider=p, licence=lic, url=url)
    if fmt == "google":
        return parse_google_ranges(
            text, kind=kind or Kind.CLOUD, source=n, provider=p, licence=lic, url=url
        )
    if fmt == "azure":
        return parse_azure_service_tags(text, source=n, provider=p, licence=lic, url=url)
    if fmt == "oracle":
        return parse_oracle_ranges(text, source=n, provider=p, licence=lic, url=url)
    if kind is not None:
        if fmt == "geofeed":
            return parse_geofeed(
                text, kind=kind, version=version, source=n, provider=p, licence=lic, url=url
            )
        if fmt == "cidr":
            return parse_cidr_list(
                text, kind=kind, version=version, source=n, provider=p, licence=lic, url=url
            )
        if fmt == "tor":
            return parse_tor_exits(
                text, version=version, source=n, provider=p, licence=lic, url=url
            )
        if fmt == "asn_list":
            return parse_asn_list(
                text, kind=kind, version=version, source=n, provider=p, licence=lic, url=url
            )
    if fmt == "iptoasn":
        return parse_iptoasn_tsv(text, version=version, source=n, provider=p, licence=lic, url=url)
    if fmt == "asn_csv":
        return parse_asn_csv(text, version=version, source=n, provider=p, licence=lic, url=url)
    raise IntelParseError("format", f"source {spec.name}: unknown format {fmt!r}")
