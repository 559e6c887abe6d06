"""The catalogue of IP-intelligence sources ``icewatch data update`` knows how to fetch.

Each :class:`SourceSpec` names one published data set: where it lives (the provider's
own URL by default), which core parser reads it, what kind of address it lists, who
publishes it and under which licence, and how large a download may be. Operators can
point a source at another URL (a mirror, or Azure's dated file directly) and choose
which sources are fetched with the ``sources`` setting (see :func:`select_sources`).

Authority tells how much a hit can be trusted, which the signals' evidence carries:

* ``provider`` — the network's owner publishes its own ranges (AWS, Google, Apple…);
* ``community`` — a maintained third-party list (X4BNet, the embedded default);
* ``registry`` — routing data (IP → ASN tables);
* ``operator`` — a list the operator supplied (``--list``, ``--from-file``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "ALL_SOURCES",
    "DEFAULT_SOURCES",
    "EMBEDDED_SOURCE",
    "MIB",
    "SOURCES",
    "SOURCES_BY_NAME",
    "SourceSpec",
    "parse_source_entry",
    "select_sources",
]

MIB = 1024 * 1024

_X4B = "https://raw.githubusercontent.com/X4BNet/lists_vpn/main"
_X4B_HOME = "https://github.com/X4BNet/lists_vpn"
_X4B_LICENCE = "MIT (X4BNet lists_vpn)"
_FEED = "provider's published feed, for programmatic use"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One data set: where to fetch it and how to read it."""

    name: str
    url: str
    format: str  # the core parser: aws, google, azure, oracle, geofeed, cidr, tor, asn_list…
    kind: str | None  # what the listed ranges are (core ``Kind`` value); None for ASN tables
    provider: str  # who the listed addresses belong to (or who publishes the list)
    licence: str
    homepage: str
    authority: str = "provider"  # provider | community | registry | operator
    max_bytes: int = 32 * MIB  # largest download accepted (compressed size for .gz)
    gzip: bool = False  # the body is a gzip file (iptoasn)
    #: A regular expression finding the real file's URL in the page at ``url`` (Azure
    #: publishes a weekly dated file linked from a download page). A configured URL that
    #: itself matches the pattern is fetched directly.
    discover: str | None = None
    note: str = ""
    #: Fetched unless the ``data_sources`` setting says otherwise. Sources without a URL
    #: are read only from files (``--from-file NAME=PATH``) or a configured ``NAME=URL``.
    default: bool = True

    @property
    def is_asn_table(self) -> bool:
        return self.format in ("iptoasn", "asn_csv", "mmdb")

    @property
    def downloadable(self) -> bool:
        return self.url.startswith(("http://", "https://"))

    def with_url(self, url: str) -> SourceSpec:
        return replace(self, url=url)


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(
        "aws",
        "https://ip-ranges.amazonaws.com/ip-ranges.json",
        "aws",
        "cloud",
        "Amazon Web Services",
        _FEED,
        "https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html",
    ),
    SourceSpec(
        "google-cloud",
        "https://www.gstatic.com/ipranges/cloud.json",
        "google",
        "cloud",
        "Google Cloud",
        _FEED,
        "https://support.google.com/a/answer/10026322",
    ),
    SourceSpec(
        "google",
        "https://www.gstatic.com/ipranges/goog.json",
        "google",
        "cloud",
        "Google",
        _FEED,
        "https://support.google.com/a/answer/10026322",
        note="every Google range, services included",
    ),
    SourceSpec(
        "googlebot",
        "https://developers.google.com/search/apis/ipranges/googlebot.json",
        "google",
        "crawler",
        "Googlebot",
        _FEED,
        "https://developers.google.com/search/docs/crawling-indexing/verifying-googlebot",
    ),
    SourceSpec(
        "azure",
        "https://www.microsoft.com/en-us/download/details.aspx?id=56519",
        "azure",
        "cloud",
        "Microsoft Azure",
        _FEED,
        "https://www.microsoft.com/en-us/download/details.aspx?id=56519",
        max_bytes=64 * MIB,
        discover=r"https?://[^\s\"'<>]+/ServiceTags_Public_(\d{8})\.json",
        note="weekly dated file found on the download page; set a direct URL if that fails",
    ),
    SourceSpec(
        "oracle",
        "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json",
        "oracle",
        "cloud",
        "Oracle Cloud",
        _FEED,
        "https://docs.oracle.com/en-us/iaas/Content/General/Concepts/addressranges.htm",
    ),
    SourceSpec(
        "digitalocean",
        "https://www.digitalocean.com/geo/google.csv",
        "geofeed",
        "cloud",
        "DigitalOcean",
        _FEED + " (RFC 8805 geofeed)",
        "https://www.digitalocean.com/geo/google.csv",
    ),
    SourceSpec(
        "linode",
        "https://geoip.linode.com/",
        "geofeed",
        "cloud",
        "Linode (Akamai)",
        _FEED + " (RFC 8805 geofeed)",
        "https://geoip.linode.com/",
    ),
    SourceSpec(
        "vultr",
        "https://geofeed.constant.com/?text",
        "geofeed",
        "cloud",
        "Vultr",
        _FEED + " (RFC 8805 geofeed)",
        "https://geofeed.constant.com/",
    ),
    SourceSpec(
        "cloudflare-v4",
        "https://www.cloudflare.com/ips-v4",
        "cidr",
        "cdn",
        "Cloudflare",
        _FEED,
        "https://www.cloudflare.com/ips/",
        max_bytes=1 * MIB,
    ),
    SourceSpec(
        "cloudflare-v6",
        "https://www.cloudflare.com/ips-v6",
        "cidr",
        "cdn",
        "Cloudflare",
        _FEED,
        "https://www.cloudflare.com/ips/",
        max_bytes=1 * MIB,
    ),
    SourceSpec(
        "apple-private-relay",
        "https://mask-api.icloud.com/egress-ip-ranges.csv",
        "geofeed",
        "relay_service",
        "iCloud Private Relay",
        _FEED + " (RFC 8805-style egress ranges)",
        "https://developer.apple.com/support/prepare-your-network-for-icloud-private-relay/",
        max_bytes=64 * MIB,
    ),
    SourceSpec(
        "tor-exits",
        "https://check.torproject.org/torbulkexitlist",
        "tor",
        "tor",
        "Tor exit relays",
        "The Tor Project's public exit list",
        "https://check.torproject.org/",
        max_bytes=4 * MIB,
    ),
    SourceSpec(
        "iptoasn",
        "https://iptoasn.com/data/ip2asn-combined.tsv.gz",
        "iptoasn",
        None,
        "iptoasn.com",
        "PDDL 1.0 (iptoasn.com, from public BGP data)",
        "https://iptoasn.com/",
        authority="registry",
        max_bytes=64 * MIB,
        gzip=True,
    ),
    SourceSpec(
        "x4b-datacenter-asn",
        f"{_X4B}/input/datacenter/ASN.txt",
        "asn_list",
        "hosting",
        "X4BNet hosting ASNs",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
        max_bytes=4 * MIB,
        note="needs an IP → ASN table (iptoasn) to match anything",
    ),
    SourceSpec(
        "x4b-vpn-asn",
        f"{_X4B}/input/vpn/ASN.txt",
        "asn_list",
        "vpn",
        "X4BNet VPN ASNs",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
        max_bytes=4 * MIB,
        note="needs an IP → ASN table (iptoasn) to match anything",
    ),
    SourceSpec(
        "x4b-datacenter-v4",
        f"{_X4B}/output/datacenter/ipv4.txt",
        "cidr",
        "hosting",
        "X4BNet hosting networks",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
    ),
    SourceSpec(
        "x4b-datacenter-v6",
        f"{_X4B}/output/datacenter/ipv6.txt",
        "cidr",
        "hosting",
        "X4BNet hosting networks",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
    ),
    SourceSpec(
        "x4b-vpn-v4",
        f"{_X4B}/output/vpn/ipv4.txt",
        "cidr",
        "vpn",
        "X4BNet VPN networks",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
    ),
    SourceSpec(
        "x4b-vpn-v6",
        f"{_X4B}/output/vpn/ipv6.txt",
        "cidr",
        "vpn",
        "X4BNet VPN networks",
        _X4B_LICENCE,
        _X4B_HOME,
        authority="community",
    ),
    SourceSpec(
        "asn-mmdb",
        "",
        "mmdb",
        None,
        "MaxMind-format ASN database",
        "as supplied: DB-IP ASN lite is CC BY 4.0 (attribution to DB-IP.com); GeoLite2-ASN "
        "is under MaxMind's GeoLite2 EULA",
        "https://db-ip.com/db/download/ip-to-asn-lite",
        authority="registry",
        max_bytes=256 * MIB,
        default=False,
        note="an .mmdb with autonomous_system_number/organization (DB-IP ASN lite, "
        "GeoLite2-ASN): --from-file asn-mmdb=PATH or asn-mmdb=URL in data_sources",
    ),
    SourceSpec(
        "asn-csv",
        "",
        "asn_csv",
        None,
        "IP → ASN CSV (start,end,asn,org)",
        "as supplied: ip-location-db's asn is CC BY 4.0 (RouteViews, DB-IP)",
        "https://github.com/sapics/ip-location-db",
        authority="registry",
        max_bytes=256 * MIB,
        default=False,
        note="--from-file asn-csv=PATH (gzip accepted)",
    ),
    SourceSpec(
        "embedded",
        "package:iporigin",
        "iporigin",
        None,
        "embedded default (iporigin)",
        "iporigin (MIT code); data from the providers' feeds and CC0 lists; labels whose "
        "permission is unrecorded are excluded",
        "https://pypi.org/project/iporigin/",
        authority="community",
        note="read from the installed package, never downloaded: keeps Hetzner, OVH, "
        "Mullvad, ProtonVPN… classified after an update",
    ),
)

#: The embedded default, read from an installed package (no download): see ``embedded``.
EMBEDDED_SOURCE = "embedded"

SOURCES_BY_NAME = {s.name: s for s in SOURCES}
#: What ``sources`` is when not configured: every catalogued source.
DEFAULT_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES if s.default)
#: Every catalogued name (what ``data_sources`` and ``--from-file`` accept).
ALL_SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCES)


def parse_source_entry(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME=URL`` (another URL for a catalogued source); raise ValueError."""
    name, sep, url = text.strip().partition("=")
    name = name.strip().lower()
    if name not in SOURCES_BY_NAME:
        known = ", ".join(ALL_SOURCES)
        raise ValueError(f"unknown source {name!r} (known: {known})")
    if not sep:
        return name, None
    url = url.strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise ValueError(f"source {name}: not an http(s) URL: {url!r}")
    return name, url


def select_sources(
    entries: Iterable[str] | None, only: Sequence[str] = ()
) -> tuple[SourceSpec, ...]:
    """The sources to fetch: ``entries`` (the ``sources`` setting; None: all, official
    URLs) narrowed to the names in ``only`` (``--source``); raise ValueError."""
    chosen: dict[str, SourceSpec] = {}
    for entry in DEFAULT_SOURCES if entries is None else entries:
        name, url = parse_source_entry(entry)
        spec = SOURCES_BY_NAME[name]
        chosen[name] = spec if url is None else spec.with_url(url)
    for name in only:
        if name not in SOURCES_BY_NAME:
            raise ValueError(f"unknown source {name!r} (known: {', '.join(ALL_SOURCES)})")
        if name not in chosen:
            raise ValueError(f"source {name!r} is not enabled in the sources setting")
    if only:
        return tuple(chosen[n] for n in dict.fromkeys(only))
    return tuple(chosen.values())


def valid_name(name: str) -> bool:
    """A name an operator-supplied file may take (``--from-file NAME=PATH``)."""
    return bool(_NAME.match(name))
