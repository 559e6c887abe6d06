"""The IP-intelligence data model: what a source says about an address, and where from.

Everything here is immutable and JSON-friendly (``as_dict`` / ``from_dict``), because the
hits go *into* a session's evidence (the verdict is a pure function of stored evidence).
The result types are ``NamedTuple`` subclasses: immutable and several times cheaper to
build than frozen dataclasses, which matters at 500k lookups a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.netrange import format_range, parse_range

__all__ = [
    "EMPTY_RESULT",
    "IntelHit",
    "IntelResult",
    "Kind",
    "Provenance",
    "Role",
    "SourceInfo",
]


class Kind(StrEnum):
    """What a listed network is. ``allow`` comes from operator allow-lists and wins."""

    CLOUD = "cloud"
    HOSTING = "hosting"
    VPN = "vpn"
    TOR = "tor"
    RELAY_SERVICE = "relay_service"
    CRAWLER = "crawler"
    CDN = "cdn"
    ALLOW = "allow"


#: Stable numbering of :class:`Kind` in the compiled file (append only).
KIND_CODES: tuple[Kind, ...] = (
    Kind.CLOUD,
    Kind.HOSTING,
    Kind.VPN,
    Kind.TOR,
    Kind.RELAY_SERVICE,
    Kind.CRAWLER,
    Kind.CDN,
    Kind.ALLOW,
)


class Role(StrEnum):
    """How a source is used by the lookup."""

    #: Networks (prefixes or ranges), each with a kind and provider: AWS, X4BNet, Tor...
    RANGES = "ranges"
    #: An IP → ASN + organisation table (iptoasn, ip-location-db, an ASN .mmdb).
    ASN_TABLE = "asn_table"
    #: A list of ASNs with a kind (``AS123 # name``): matched through the ASN table.
    ASN_LIST = "asn_list"


def _str(d: Mapping[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise IntelParseError(key, "missing or not a string")
    return value


def _opt_int(d: Mapping[str, Any], key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise IntelParseError(key, "not an integer")
    return value


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntelParseError(key, "not a string")
    return value


def _kind(d: Mapping[str, Any], key: str) -> Kind:
    value = _str(d, key)
    try:
        return Kind(value)
    except ValueError:
        raise IntelParseError(key, f"unknown kind {value!r}") from None


def _extra(d: Mapping[str, Any], key: str) -> tuple[tuple[str, str], ...]:
    value = d.get(key) or {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise IntelParseError(key, "not an object of strings")
    return tuple(value.items())


class Provenance(NamedTuple):
    """Where an answer came from: the source, its date or version, the matched network.

    The matched network is kept as numbers (``family`` 4 or 6, inclusive ``first`` and
    ``last``) and rendered on demand by :attr:`prefix`: a CIDR (``3.5.140.0/22``) when the
    network is one, else an inclusive range (``1.0.4.0-1.0.7.255``) — rendering text for
    every lookup would cost more than the lookup. ``asn`` is set when the hit came from an
    ASN list: the address's ASN (found in that network by the IP → ASN table) is listed.
    """

    source: str
    version: str
    first: int
    last: int
    family: int
    asn: int | None = None

    @property
    def prefix(self) -> str:
        """The matched network as text (CIDR, or ``first-last``)."""
        return format_range(self.family, self.first, self.last)

    @classmethod
    def of(cls, source: str, version: str, prefix: str, asn: int | None = None) -> Provenance:
        """Build from the textual network (as in :meth:`as_dict`)."""
        family, first, last = parse_range(prefix, field="prefix")
        return cls(source, version, first, last, family, asn)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source, "version": self.version, "prefix": self.prefix}
        if self.asn is not None:
            d["asn"] = self.asn
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        return cls.of(_str(d, "source"), _str(d, "version"), _str(d, "prefix"), _opt_int(d, "asn"))


class IntelHit(NamedTuple):
    """One source's classification of an address (most specific network of that source)."""

    kind: Kind
    provider: str
    asn: int | None
    org: str | None
    provenance: Provenance
    #: Source-specific details (AWS ``region``/``service``, geofeed ``country``/``city``...).
    extra: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "provider": self.provider,
            "asn": self.asn,
            "org": self.org,
            "provenance": self.provenance.as_dict(),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IntelHit:
        prov = d.get("provenance")
        if not isinstance(prov, Mapping):
            raise IntelParseError("provenance", "missing or not an object")
        return cls(
            _kind(d, "kind"),
            _str(d, "provider"),
            _opt_int(d, "asn"),
            _opt_str(d, "org"),
            Provenance.from_dict(prov),
            _extra(d, "extra"),
        )


class IntelResult(NamedTuple):
    """Everything the data says about one address.

    ``hits``: one per source that lists the address (in source order), each with its
    provenance. ``asn``/``org``: from the IP → ASN table (``None`` when unknown or not
    routed), with ``asn_provenance``.

    **Allow-lists**: when :attr:`allowed` is true an operator allow-list covers the address;
    consumers (the ``ip.*`` signals) must then ignore the other hits. The policy lives in the
    signals; this type only reports.
    """

    hits: tuple[IntelHit, ...] = ()
    asn: int | None = None
    org: str | None = None
    asn_provenance: Provenance | None = None

    @property
    def allowed(self) -> bool:
        return any(h.kind is Kind.ALLOW for h in self.hits)

    def kinds(self) -> frozenset[Kind]:
        return frozenset(h.kind for h in self.hits)

    def hits_of(self, kind: Kind) -> tuple[IntelHit, ...]:
        return tuple(h for h in self.hits if h.kind is kind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hits": [h.as_dict() for h in self.hits],
            "asn": self.asn,
            "org": self.org,
            "asn_provenance": None
            if self.asn_provenance is None
            else self.asn_provenance.as_dict(),
            "allowed": self.allowed,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IntelResult:
        hits = d.get("hits") or []
        if not isinstance(hits, list) or not all(isinstance(h, Mapping) for h in hits):
            raise IntelParseError("hits", "not a list of objects")
        prov = d.get("asn_provenance")
        if prov is not None and not isinstance(prov, Mapping):
            raise IntelParseError("asn_provenance", "not an object")
        return cls(
            tuple(IntelHit.from_dict(h) for h in hits),
            _opt_int(d, "asn"),
            _opt_str(d, "org"),
            None if prov is None else Provenance.from_dict(prov),
        )


#: The answer for an address no source knows.
EMPTY_RESULT = IntelResult()


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One source as compiled: for ``icewatch data status`` and for provenance.

    ``version`` is the source's own date or version (AWS ``createDate``, Google
    ``creationTime``, Azure ``changeNumber``, Oracle ``last_updated_timestamp``; for plain
    lists, what the caller passed: typically the download date). ``metadata`` keeps the
    format's other header fields (``syncToken``, ``cloud``...).
    """

    name: str
    role: Role
    kind: Kind | None
    provider: str
    version: str
    records: int
    licence: str = ""
    url: str = ""
    metadata: tuple[tuple[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": str(self.role),
            "kind": None if self.kind is None else str(self.kind),
            "provider": self.provider,
            "version": self.version,
            "records": self.records,
            "licence": self.licence,
            "url": self.url,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceInfo:
        role = _str(d, "role")
        try:
            role_value = Role(role)
        except ValueError:
            raise IntelParseError("role", f"unknown role {role!r}") from None
        records = d.get("records")
        if isinstance(records, bool) or not isinstance(records, int) or records < 0:
            raise IntelParseError("records", "not a count")
        return cls(
            name=_str(d, "name"),
            role=role_value,
            kind=None if d.get("kind") is None else _kind(d, "kind"),
            provider=_str(d, "provider"),
            version=_str(d, "version"),
            records=records,
            licence=_opt_str(d, "licence") or "",
            url=_opt_str(d, "url") or "",
            metadata=_extra(d, "metadata"),
        )
