"""Parsers for every provider format: text in, :class:`ParsedSource` out.

Each ``parse_<format>(text, *, source=..., ...)`` raises only
:class:`~icewatch.core.intel.errors.IntelParseError` (naming the field and line) for
malformed input, caps the number of rows (``max_rows``) and the length of a line
(``max_line``), and skips blank lines and ``#`` comments where the format has them.
No I/O: the adapter reads (and decompresses) files and passes their text.
"""

from __future__ import annotations

from collections.abc import Iterator

from icewatch.core.intel.errors import IntelParseError
from icewatch.core.intel.model import Kind, Role
from icewatch.core.intel.source import (
    DEFAULT_MAX_ROWS,
    ParsedSource,
    SourceBuilder,
    parse_network,
)

__all__ = [
    "DEFAULT_MAX_LINE",
    "MAX_TEXT",
    "parse_cidr_list",
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
