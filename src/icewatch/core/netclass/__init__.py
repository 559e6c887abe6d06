"""Address classification: the IANA special-purpose registries as data, and ``classify_ip``.

Pure: standard library only, no I/O. The tables live in :mod:`.registry`, the
overlay/VPN hints in :mod:`.tags`, the lookup in :mod:`.classify`.

>>> c = classify_ip("100.64.1.2")
>>> c.category, [str(t) for t in c.tags]
(<Category.CGNAT: 'cgnat'>, ['possible_tailscale'])
"""

from __future__ import annotations

from icewatch.core.netclass.category import CATEGORY_DESCRIPTIONS, Category
from icewatch.core.netclass.classify import Classification, EmbeddedIPv4, classify_ip
from icewatch.core.netclass.registry import (
    IPV4_REGISTRY_DATE,
    IPV4_ROWS,
    IPV6_REGISTRY_DATE,
    IPV6_ROWS,
    RegistrySource,
    SpecialPurposeRow,
)
from icewatch.core.netclass.tags import TAG_PREFIXES, TAG_TABLE, Tag, TagInfo, TagPrefix

__all__ = [
    "CATEGORY_DESCRIPTIONS",
    "IPV4_REGISTRY_DATE",
    "IPV4_ROWS",
    "IPV6_REGISTRY_DATE",
    "IPV6_ROWS",
    "TAG_PREFIXES",
    "TAG_TABLE",
    "Category",
    "Classification",
    "EmbeddedIPv4",
    "RegistrySource",
    "SpecialPurposeRow",
    "Tag",
    "TagInfo",
    "TagPrefix",
    "classify_ip",
]
