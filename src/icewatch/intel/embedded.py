"""The embedded default: datacenter, VPN, Tor and relay ranges that ship with the install.

A fresh install classifies addresses with no download, from the data of the `iporigin`
package (a dependency; MIT code). Its table (``iporigin/data/ranges.bin``, format v1: a
header, a label table, then sorted disjoint inclusive IPv4 and IPv6 ranges) is compiled
from the providers' own feeds (AWS, Google, Azure, DigitalOcean, Linode, Vultr, Oracle,
GitHub, Cloudflare, Fastly) and two CC0 community repositories (Hetzner, OVHcloud,
Mullvad, ProtonVPN, iCloud Private Relay, Tor exits, declared crawlers…).

Its NOTICE lists two further repositories used "with the maintainer's permission" whose
written record is still "to be added". icewatch does not take data whose licence is
unsettled: every label that comes from them (:data:`EXCLUDED_PROVIDERS`, Akamai whole,
as its ranges are mixed with one of them) is dropped here, and ``data status`` says so.

The file is read directly (bounded, magic and version checked) because the package's
public API classifies one address at a time and exposes no iteration; a format this
reader does not know makes the default unavailable (a warning), never a crash.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from importlib import metadata, resources

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import Kind, Role
from icewatch.core.intel.source import ParsedSource, SourceBuilder

__all__ = [
    "EMBEDDED_NAME",
    "EXCLUDED_PROVIDERS",
    "EmbeddedInfo",
    "EmbeddedUnavailable",
    "embedded_info",
    "load_embedded",
    "parse_iporigin",
]

EMBEDDED_NAME = "embedded"
PACKAGE = "iporigin"
MAX_FILE_BYTES = 16 * 1024 * 1024
LICENCE = (
    "iporigin (MIT code); data from the providers' published feeds and CC0 lists "
    "(rezmoss/cloud-provider-ip-addresses, lord-alfred/ipranges); labels whose permission "
    "is unrecorded are excluded"
)
HOMEPAGE = "https://pypi.org/project/iporigin/"

#: Labels that come from the two repositories iporigin uses without a licence file
#: ("evidence: to be added" in its NOTICE). Akamai is dropped whole: its ranges mix a
#: CC0 source with one of those two, and the table no longer tells them apart.
EXCLUDED_PROVIDERS = frozenset(
    {
        "Akamai",
        "BunnyCDN",
        "BuyVM",
        "CDN77",
        "Cogent",
        "Contabo",
        "DataCamp",
        "GTHost",
        "GleSYS",
        "Melbicom",
        "Scalaxy",
        "Vercel",
    }
)

_MAGIC = b"IPORIGIN"
_FORMAT = 1
_HEADER = struct.Struct("<8sHQHII")
_V4 = struct.Struct("<IIH")
_V6 = struct.Struct("<16s16sH")
_KINDS = {
    "hosting": Kind.HOSTING,
    "cdn": Kind.CDN,
    "vpn": Kind.VPN,
    "tor": Kind.TOR,
    "bot": Kind.CRAWLER,
}
#: Providers whose iporigin kind is too coarse for icewatch's classes.
_RELAYS = frozenset({"Apple Private Relay"})


class EmbeddedUnavailable(Exception):
    """The embedded default cannot be used (package missing, unknown format…)."""


@dataclass(frozen=True, slots=True)
class EmbeddedInfo:
    """What the embedded default is, for ``data status`` and the docs."""

    package: str
    package_version: str
    built_at: float  # Unix seconds, from the table's header
    ranges: int  # in the package's table
    kept: int  # after the exclusions
    licence: str = LICENCE

    @property
    def version(self) -> str:
        day = time.strftime("%Y-%m-%d", time.gmtime(self.built_at))
        return f"{self.package} {self.package_version}, data built {day}"


def _read_package_file() -> tuple[bytes, str]:
    try:
        version = metadata.version(PACKAGE)
        blob = resources.files(PACKAGE).joinpath("data", "ranges.bin")
        with blob.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except (ModuleNotFoundError, metadata.PackageNotFoundError):
        raise EmbeddedUnavailable(f"the {PACKAGE} package is not installed") from None
    except OSError as exc:
        raise EmbeddedUnavailable(f"cannot read {PACKAGE}'s data: {exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise EmbeddedUnavailable(f"{PACKAGE}'s data is larger than {MAX_FILE_BYTES} bytes")
    return data, version


def parse_iporigin(data: bytes, *, package_version: str = "") -> tuple[ParsedSource, EmbeddedInfo]:
    """Read an iporigin v1 table into a core source; raise :class:`IntelParseError`."""
    if len(data) < _HEADER.size:
        raise IntelParseError("header", "truncated", offset=0)
    magic, fmt, built_at, n_labels, n_v4, n_v6 = _HEADER.unpack_from(data, 0)
    if magic != _MAGIC:
        raise IntelParseError("magic", "not an iporigin table", offset=0)
    if fmt != _FORMAT:
        raise IntelParseError("version", f"iporigin table format v{fmt}, expected v{_FORMAT}")
    offset = _HEADER.size
    labels: list[tuple[str, str]] = []
    for _ in range(n_labels):
        if offset + 2 > len(data):
            raise IntelParseError("labels", "truncated", offset=offset)
        (length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        raw = data[offset : offset + length]
        if len(raw) != length:
            raise IntelParseError("labels", "truncated", offset=offset)
        try:
            provider, _, kind_name = raw.decode("utf-8").partition("\t")
        except UnicodeDecodeError:
            raise IntelParseError("labels", "not UTF-8", offset=offset) from None
        labels.append((provider, kind_name))
        offset += length
    need = offset + n_v4 * _V4.size + n_v6 * _V6.size
    if need != len(data):
        raise IntelParseError("ranges", f"{len(data)} bytes, expected {need}", offset=offset)
    version = time.strftime("%Y-%m-%d", time.gmtime(built_at))
    builder = SourceBuilder(
        source=EMBEDDED_NAME,
        role=Role.RANGES,
        kind=None,
        provider="iporigin",
        licence=LICENCE,
        url=HOMEPAGE,
    )
    record_of: dict[int, int | None] = {}
    for index, (provider, kind_text) in enumerate(labels):
        kind = Kind.RELAY_SERVICE if provider in _RELAYS else _KINDS.get(kind_text)
        if kind is None or provider in EXCLUDED_PROVIDERS:
            record_of[index] = None
        else:
            record_of[index] = builder.record(kind, provider)
    total = n_v4 + n_v6
    for first, last, label in _V4.iter_unpack(data[offset : offset + n_v4 * _V4.size]):
        rec = _record(record_of, label)
        if rec is not None:
            builder.add(4, first, last, rec)
    offset += n_v4 * _V4.size
    for a, b, label in _V6.iter_unpack(data[offset:]):
        rec = _record(record_of, label)
        if rec is not None:
            builder.add(6, int.from_bytes(a, "big"), int.from_bytes(b, "big"), rec)
    source = builder.build(
        version=version,
        metadata=(
            ("package", f"{PACKAGE} {package_version}".strip()),
            ("excluded", ", ".join(sorted(EXCLUDED_PROVIDERS))),
        ),
    )
    info = EmbeddedInfo(PACKAGE, package_version, float(built_at), total, source.info.records)
    return source, info


def _record(record_of: dict[int, int | None], label: int) -> int | None:
    if label not in record_of:
        raise IntelParseError("ranges", f"label {label} not in the label table")
    return record_of[label]


def load_embedded() -> tuple[ParsedSource, EmbeddedInfo]:
    """The embedded default as a core source; raise :class:`EmbeddedUnavailable`."""
    data, version = _read_package_file()
    try:
        return parse_iporigin(data, package_version=version)
    except IntelParseError as exc:
        raise EmbeddedUnavailable(f"{PACKAGE} {version}: {exc}") from None


def embedded_info() -> EmbeddedInfo | None:
    """What the embedded default holds, or ``None`` when unavailable."""
    try:
        return load_embedded()[1]
    except EmbeddedUnavailable:
        return None
