"""Parsers for every provider format: text in, :class:`ParsedSource` out.

Each ``parse_<format>(text, *, source=..., ...)`` raises only
:class:`~icewatch.core.intel.errors.IntelParseError` (naming the field and line) for
malformed input, caps the number of rows (``max_rows``) and the length of a line
(``max_line``), and skips blank lines and ``#`` comments where the format has them.
No I/O: the adapter reads (and decompresses) files and passes their text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import Kind, Role
from icewatch.core.intel.source import (
    DEFAULT_MAX_ROWS,
    ParsedSource,
    SourceBuilder,
    parse_address,
    parse_network,
)

__all__ = [
    "DEFAULT_MAX_LINE",
    "MAX_TEXT",
    "parse_asn_csv",
    "parse_asn_list",
    "parse_aws_ip_ranges",
    "parse_azure_service_tags",
    "parse_cidr_list",
    "parse_geofeed",
    "parse_google_ranges",
    "parse_iptoasn_tsv",
    "parse_oracle_ranges",
    "parse_tor_exits",
]

#: Longest line accepted in line-oriented formats (characters).
DEFAULT_MAX_LINE = 4096
#: Largest text accepted by any parser (characters): the biggest official file, Azure's
#: Service Tags, is ~4 MB; the combined iptoasn table ~30 MB uncompressed.
MAX_TEXT = 256 * 1024 * 1024


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise IntelParseError("text", "not a string")
    if len(text) > MAX_TEXT:
        raise IntelParseError("text", f"{len(text)} characters, over {MAX_TEXT}")


def _lines(text: str, max_line: int, comment: str | None = "#") -> Iterator[tuple[int, str]]:
    """``(line number, stripped content)`` of each non-blank, non-comment line."""
    _check_text(text)
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) > max_line:
            raise IntelParseError("line", f"{len(raw)} characters, over {max_line}", line=number)
        line = raw
        if comment is not None:
            line = line.partition(comment)[0]
        line = line.strip()
        if line:
            yield number, line


def parse_cidr_list(
    text: str,
    *,
    source: str,
    kind: Kind,
    provider: str,
    version: str = "",
    licence: str = "",
    url: str = "",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """A plain list: one CIDR prefix or bare address a line (IPv4 and IPv6 mixed).

    Cloudflare ``ips-v4``/``ips-v6``, X4BNet ``datacenter``/``vpn`` lists, lord-alfred's
    per-provider lists, the Tor bulk exit list (bare addresses), operators' own lists.
    ``#`` starts a comment (whole line or trailing). ``version`` is the list's date (the
    format has none: pass the download date or ``Last-Modified``).
    """
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=kind,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    rec = b.record()
    for number, line in _lines(text, max_line):
        fam, first, last = parse_network(line, line=number)
        b.add(fam, first, last, rec, line=number)
    return b.build(version=version)


# --- JSON helpers ------------------------------------------------------------------------


def _load_json(text: str) -> dict[str, Any]:
    _check_text(text)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise IntelParseError("json", "nested too deeply") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or "invalid number"
        raise IntelParseError("json", f"not JSON: {msg}", line=line) from None
    if not isinstance(doc, dict):
        raise IntelParseError("json", "top level is not an object")
    return doc


def _list(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> list[Any]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise IntelParseError(f"{where}{key}", "missing or not a list")
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IntelParseError(where, "not an object")
    return value


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise IntelParseError(f"{where}{key}", "missing or not a string")
    return str(value)


def _json_prefix(text: str, where: str) -> tuple[int, int, int]:
    if len(text) > 64:
        raise IntelParseError(where, f"prefix of {len(text)} characters")
    return parse_network(text.strip(), field=where)


# --- cloud providers ---------------------------------------------------------------------

_AWS_CDN_SERVICES = frozenset({"CLOUDFRONT", "CLOUDFRONT_ORIGIN_FACING"})


def parse_aws_ip_ranges(
    text: str,
    *,
    source: str = "aws",
    provider: str = "Amazon Web Services",
    licence: str = "",
    url: str = "https://ip-ranges.amazonaws.com/ip-ranges.json",
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ParsedSource:
    """AWS ``ip-ranges.json``: ``prefixes[].ip_prefix`` and ``ipv6_prefixes[].ipv6_prefix``.

    Version: ``createDate`` (``YYYY-MM-DD-hh-mm-ss``); ``syncToken`` goes to the metadata.
    AWS lists a prefix once per service (``AMAZON`` is the superset, ``EC2``, ``S3``...):
    each prefix becomes one row whose ``service`` detail lists them all (``AMAZON,EC2``).
    Kind: ``cdn`` when the only services besides ``AMAZON`` are CloudFront's, else
    ``cloud``.
    """
    doc = _load_json(text)
    create = _text(doc, "createDate", "")
    sync = _text(doc, "syncToken", "", required=False)
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=Kind.CLOUD,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    merged: dict[tuple[int, int, int], tuple[str, str, set[str]]] = {}
    listed: list[tuple[str, str]] = []
    for list_key, prefix_key in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        items = _list(doc, list_key, "", required=list_key == "prefixes")
        listed.append((list_key, str(len(items))))
        if len(items) > max_rows:
            raise IntelParseError(list_key, f"more than {max_rows} rows")
        for i, item in enumerate(items):
            where = f"{list_key}[{i}]."
            obj = _obj(item, where.rstrip("."))
            net = _json_prefix(_text(obj, prefix_key, where), where + prefix_key)
            region = _text(obj, "region", where, required=False)
            border = _text(obj, "network_border_group", where, required=False)
            service = _text(obj, "service", where, required=False)
            seen = merged.get(net)
            if seen is None:
                merged[net] = (region, border, {service} if service else set())
            elif service:
                seen[2].add(service)
    for (fam, first, last), (region, border, services) in merged.items():
        others = services - {"AMAZON"}
        kind = Kind.CDN if others and others <= _AWS_CDN_SERVICES else Kind.CLOUD
        extra = [("region", region), ("service", ",".join(sorted(services)))]
        if border and border != region:
            extra.append(("network_border_group", border))
        rec = b.record(kind, extra=tuple((k, v) for k, v in extra if v))
        b.add(fam, first, last, rec)
    meta = (("createDate", create), ("syncToken", sync), *listed)
    return b.build(version=create, metadata=tuple((k, v) for k, v in meta if v))


def parse_google_ranges(
    text: str,
    *,
    source: str = "google-cloud",
    kind: Kind = Kind.CLOUD,
    provider: str = "Google Cloud",
    licence: str = "",
    url: str = "https://www.gstatic.com/ipranges/cloud.json",
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ParsedSource:
    """Google ``cloud.json`` / ``goog.json`` / ``googlebot.json``.

    ``prefixes[]`` each with ``ipv4Prefix`` or ``ipv6Prefix`` (and, in ``cloud.json``,
    ``service`` and ``scope``). Version: ``creationTime``; ``syncToken`` in the metadata.
    Pass ``kind=Kind.CRAWLER`` for ``googlebot.json``.
    """
    doc = _load_json(text)
    created = _text(doc, "creationTime", "", required=False)
    sync = _text(doc, "syncToken", "", required=False)
    if not created and not sync:
        raise IntelParseError("creationTime", "missing (and no syncToken either)")
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=kind,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    for i, item in enumerate(_list(doc, "prefixes", "")):
        where = f"prefixes[{i}]."
        obj = _obj(item, where.rstrip("."))
        key = "ipv4Prefix" if "ipv4Prefix" in obj else "ipv6Prefix"
        fam, first, last = _json_prefix(_text(obj, key, where), where + key)
        service = _text(obj, "service", where, required=False)
        scope = _text(obj, "scope", where, required=False)
        extra = tuple((k, v) for k, v in (("service", service), ("scope", scope)) if v)
        b.add(fam, first, last, b.record(extra=extra))
    meta = (("creationTime", created), ("syncToken", sync))
    return b.build(version=created or sync, metadata=tuple((k, v) for k, v in meta if v))


def parse_azure_service_tags(
    text: str,
    *,
    source: str = "azure",
    provider: str = "Microsoft Azure",
    licence: str = "",
    url: str = "",
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ParsedSource:
    """Azure Service Tags JSON (``ServiceTags_Public_YYYYMMDD.json`` and the other clouds).

    ``values[].properties.addressPrefixes`` (IPv4 and IPv6 mixed). Version:
    ``changeNumber``; ``cloud`` (``Public``, ``AzureGovernment``...) in the metadata. The same
    prefix appears under many tags (``AzureCloud``, ``AzureCloud.eastus``, ``Storage``...):
    one row per prefix with its ``region`` and the ``service`` names (``systemService``).
    """
    doc = _load_json(text)
    change = _text(doc, "changeNumber", "")
    cloud = _text(doc, "cloud", "", required=False)
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=Kind.CLOUD,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    merged: dict[tuple[int, int, int], tuple[list[str], set[str]]] = {}
    rows = 0
    for i, item in enumerate(_list(doc, "values", "")):
        where = f"values[{i}]."
        obj = _obj(item, where.rstrip("."))
        props = _obj(obj.get("properties"), where + "properties")
        pwhere = where + "properties."
        region = _text(props, "region", pwhere, required=False)
        service = _text(props, "systemService", pwhere, required=False)
        prefixes = _list(props, "addressPrefixes", pwhere)
        rows += len(prefixes)
        if rows > max_rows:
            raise IntelParseError("rows", f"more than {max_rows} rows")
        for j, prefix in enumerate(prefixes):
            pw = f"{pwhere}addressPrefixes[{j}]"
            if not isinstance(prefix, str):
                raise IntelParseError(pw, "not a string")
            net = _json_prefix(prefix, pw)
            seen = merged.get(net)
            if seen is None:
                seen = merged[net] = ([], set())
            if region and not seen[0]:
                seen[0].append(region)
            if service:
                seen[1].add(service)
    for (fam, first, last), (regions, services) in merged.items():
        extra = (("region", regions[0] if regions else ""), ("service", ",".join(sorted(services))))
        rec = b.record(extra=tuple((k, v) for k, v in extra if v))
        b.add(fam, first, last, rec)
    meta = (("changeNumber", change), ("cloud", cloud))
    version = f"{cloud} {change}".strip() if cloud else change
    return b.build(version=version, metadata=tuple((k, v) for k, v in meta if v))


def parse_oracle_ranges(
    text: str,
    *,
    source: str = "oracle",
    provider: str = "Oracle Cloud",
    licence: str = "",
    url: str = "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json",
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ParsedSource:
    """Oracle Cloud ``public_ip_ranges.json``: ``regions[].cidrs[].cidr`` (with ``tags``).

    Version: ``last_updated_timestamp``.
    """
    doc = _load_json(text)
    updated = _text(doc, "last_updated_timestamp", "")
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=Kind.CLOUD,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    for i, item in enumerate(_list(doc, "regions", "")):
        where = f"regions[{i}]."
        obj = _obj(item, where.rstrip("."))
        region = _text(obj, "region", where, required=False)
        for j, cidr in enumerate(_list(obj, "cidrs", where)):
            cw = f"{where}cidrs[{j}]."
            cobj = _obj(cidr, cw.rstrip("."))
            fam, first, last = _json_prefix(_text(cobj, "cidr", cw), cw + "cidr")
            tags = cobj.get("tags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise IntelParseError(cw + "tags", "not a list of strings")
            extra = tuple((k, v) for k, v in (("region", region), ("tags", ",".join(tags))) if v)
            b.add(fam, first, last, b.record(extra=extra))
    return b.build(version=updated, metadata=(("last_updated_timestamp", updated),))


# --- line formats ------------------------------------------------------------------------


def _csv_rows(text: str, max_line: int, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each non-blank, non-``#`` CSV line."""
    where = [0]

    def lines() -> Iterator[str]:
        for number, line in _lines(text, max_line, comment=None):
            if not line.startswith("#"):
                where[0] = number
                yield line

    try:
        for fields in csv.reader(lines(), delimiter=delimiter, strict=True):
            yield where[0], fields
    except csv.Error as exc:
        raise IntelParseError("csv", f"bad CSV: {exc}", line=where[0]) from None


def parse_geofeed(
    text: str,
    *,
    source: str,
    kind: Kind,
    provider: str,
    version: str = "",
    licence: str = "",
    url: str = "",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """An RFC 8805 geofeed: ``prefix,country,region,city,postal`` with ``#`` comments.

    DigitalOcean, Linode, Vultr publish their networks this way (``kind=Kind.HOSTING``);
    Apple iCloud Private Relay its egress ranges (``kind=Kind.RELAY_SERVICE``). Country,
    region and city go to each hit's ``extra`` (postal codes are deprecated, §2.1.1.5, and
    dropped). Fields beyond the fifth are ignored.
    """
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=kind,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    for number, fields in _csv_rows(text, max_line):
        fam, first, last = parse_network(fields[0].strip(), field="prefix", line=number)
        extra = tuple(
            (name, fields[i].strip())
            for i, name in ((1, "country"), (2, "region"), (3, "city"))
            if i < len(fields) and fields[i].strip()
        )
        b.add(fam, first, last, b.record(extra=extra), line=number)
    return b.build(version=version)


def parse_tor_exits(
    text: str,
    *,
    source: str = "tor-exits",
    provider: str = "Tor Project",
    version: str = "",
    licence: str = "",
    url: str = "https://check.torproject.org/torbulkexitlist",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """The Tor bulk exit list (one address a line), or TorDNSEL's ``exit-addresses``.

    In ``exit-addresses`` only ``ExitAddress <ip> <date> <time>`` lines carry addresses;
    ``ExitNode``/``Published``/``LastStatus`` lines are skipped. Kind ``tor``.
    """
    b = SourceBuilder(
        source=source,
        role=Role.RANGES,
        kind=Kind.TOR,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    rec = b.record()
    for number, line in _lines(text, max_line):
        first_word, _, rest = line.partition(" ")
        if first_word in ("ExitNode", "Published", "LastStatus"):
            continue
        if first_word == "ExitAddress":
            first_word = rest.strip().partition(" ")[0]
        fam, n = parse_address(first_word, line=number)
        b.add(fam, n, n, rec, line=number)
    return b.build(version=version)


def parse_asn_list(
    text: str,
    *,
    source: str,
    kind: Kind,
    provider: str,
    version: str = "",
    licence: str = "",
    url: str = "",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """A list of ASNs, one a line: ``AS123 # name`` (X4BNet ``input/*/ASN.txt``).

    ``AS`` is optional (``123`` works), the comment becomes the hit's ``org``. These lists
    match through the IP → ASN table: an address whose ASN is listed gets a hit.
    """
    b = SourceBuilder(
        source=source,
        role=Role.ASN_LIST,
        kind=kind,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )
    _check_text(text)
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) > max_line:
            raise IntelParseError("line", f"{len(raw)} characters, over {max_line}", line=number)
        body, _, comment = raw.partition("#")
        token = body.strip()
        if not token:
            continue
        asn = _asn(token, number)
        b.add_asn(asn, b.record(asn=asn, org=comment.strip() or None), line=number)
    return b.build(version=version)


def _asn(token: str, line: int) -> int:
    digits = token[2:] if token[:2] in ("AS", "as", "As", "aS") else token
    if not (0 < len(digits) <= 10 and digits.isascii() and digits.isdigit()):
        raise IntelParseError("asn", f"not an AS number: {token[:40]!r}", line=line)
    n = int(digits)
    if n >= 0xFFFFFFFF:  # 4294967295 is reserved (RFC 7300); above is not 32-bit
        raise IntelParseError("asn", f"AS number {n} out of range", line=line)
    return n


def _asn_table_builder(
    source: str, provider: str, licence: str, url: str, max_rows: int
) -> SourceBuilder:
    return SourceBuilder(
        source=source,
        role=Role.ASN_TABLE,
        kind=None,
        provider=provider,
        licence=licence,
        url=url,
        max_rows=max_rows,
    )


def _add_asn_range(
    b: SourceBuilder,
    records: dict[tuple[int, str], int],
    start: str,
    end: str,
    asn_text: str,
    org: str,
    number: int,
) -> None:
    fam, first = parse_address(start.strip(), field="start", line=number)
    fam_end, last = parse_address(end.strip(), field="end", line=number)
    if fam_end != fam:
        raise IntelParseError("end", "start and end of different IP versions", line=number)
    if last < first:
        raise IntelParseError("end", "range ends before it starts", line=number)
    asn = _asn(asn_text.strip(), number)
    if asn == 0:  # iptoasn: "Not routed"
        return
    key = (asn, org)
    rec = records.get(key)
    if rec is None:
        rec = records[key] = b.record(asn=asn, org=org.strip() or None)
    b.add(fam, first, last, rec, line=number)


def parse_iptoasn_tsv(
    text: str,
    *,
    source: str = "iptoasn",
    provider: str = "iptoasn.com",
    version: str = "",
    licence: str = "",
    url: str = "https://iptoasn.com/data/ip2asn-combined.tsv.gz",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """iptoasn ``ip2asn-{v4,v6,combined}.tsv``: ``range_start range_end AS_number
    country_code AS_description`` separated by tabs, inclusive ranges.

    AS 0 (``Not routed``) rows are dropped: no ASN is known there.
    """
    b = _asn_table_builder(source, provider, licence, url, max_rows)
    records: dict[tuple[int, str], int] = {}
    for number, line in _lines(text, max_line, comment=None):
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise IntelParseError(
                "fields", f"{len(fields)} tab-separated fields, need 5", line=number
            )
        org = fields[4] if len(fields) > 4 else ""
        _add_asn_range(b, records, fields[0], fields[1], fields[2], org, number)
    return b.build(version=version)


def parse_asn_csv(
    text: str,
    *,
    source: str = "ip-location-db-asn",
    provider: str = "ip-location-db",
    version: str = "",
    licence: str = "",
    url: str = "",
    max_rows: int = DEFAULT_MAX_ROWS,
    max_line: int = DEFAULT_MAX_LINE,
) -> ParsedSource:
    """An IP → ASN CSV ``start,end,asn,org`` with inclusive ranges (ip-location-db's
    ``asn-ipv4.csv`` / ``asn-ipv6.csv``, DB-IP's ASN lite CSV). Organisations may be quoted.
    """
    b = _asn_table_builder(source, provider, licence, url, max_rows)
    records: dict[tuple[int, str], int] = {}
    for number, fields in _csv_rows(text, max_line):
        if len(fields) < 3:
            raise IntelParseError(
                "fields", f"{len(fields)} fields, need start,end,asn,org", line=number
            )
        org = fields[3] if len(fields) > 3 else ""
        _add_asn_range(b, records, fields[0], fields[1], fields[2], org, number)
    return b.build(version=version)
