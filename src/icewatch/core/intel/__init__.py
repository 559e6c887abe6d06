"""IP intelligence, pure: provider formats in, a compiled fast lookup out, with provenance.

* :mod:`.model` — :class:`Kind`, :class:`Provenance`, :class:`IntelHit`,
  :class:`IntelResult`, :class:`SourceInfo`.
* :mod:`.parsers` — ``parse_<format>(text, *, source=..., ...) -> ParsedSource`` for every
  provider format; :class:`SourceBuilder` for formats read elsewhere (an ASN ``.mmdb``).
* :mod:`.db` — :class:`IntelDB`: ``lookup(ip) -> IntelResult``.
* :mod:`.compiled` — :func:`compile_sources` (bytes out) and :func:`load_compiled`
  (bytes or memoryview in, checksum verified).

No I/O here: the adapter (``icewatch.intel``) reads files and passes text or bytes.
See ``docs/ip-intelligence.md``.
"""

from __future__ import annotations

from icewatch.core.intel.compiled import (
    FORMAT_VERSION,
    MAGIC,
    compile_sources,
    load_compiled,
    read_header,
)
from icewatch.core.intel.db import IntelDB
from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import (
    EMPTY_RESULT,
    IntelHit,
    IntelResult,
    Kind,
    Provenance,
    Role,
    SourceInfo,
)
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
from icewatch.core.intel.source import (
    ParsedSource,
    Record,
    Row,
    SourceBuilder,
    format_range,
    parse_network,
)

__all__ = [
    "EMPTY_RESULT",
    "FORMAT_VERSION",
    "MAGIC",
    "IntelDB",
    "IntelHit",
    "IntelParseError",
    "IntelResult",
    "Kind",
    "ParsedSource",
    "Provenance",
    "Record",
    "Role",
    "Row",
    "SourceBuilder",
    "SourceInfo",
    "compile_sources",
    "format_range",
    "load_compiled",
    "parse_asn_csv",
    "parse_asn_list",
    "parse_aws_ip_ranges",
    "parse_azure_service_tags",
    "parse_cidr_list",
    "parse_geofeed",
    "parse_google_ranges",
    "parse_iptoasn_tsv",
    "parse_network",
    "parse_oracle_ranges",
    "parse_tor_exits",
    "read_header",
]
