"""ICE candidates and session descriptions: pure parsers, no I/O.

* :func:`parse_candidate` / :func:`format_candidate` — one ``candidate`` line (RFC 8839 §5.1);
* :func:`parse_ice_line` — the same, or :data:`END_OF_CANDIDATES` for the empty string;
* :func:`decode_priority` — what a priority says about the hidden address (RFC 8445 §5.1.2);
* :func:`parse_sdp` — the ICE-relevant parts of an offer or answer (RFC 8866).
"""

from __future__ import annotations

from icewatch.core.ice.candidate import (
    END_OF_CANDIDATES,
    Candidate,
    CandidateType,
    EndOfCandidates,
    TcpType,
    Transport,
    format_candidate,
    is_end_of_candidates,
    parse_candidate,
    parse_ice_line,
)
from icewatch.core.ice.grammar import AddressKind, is_uuid4, parse_connection_address
from icewatch.core.ice.priority import (
    AddressClass,
    EngineLayout,
    Priority,
    address_precedence,
    decode_priority,
    network_adapter_from_cost,
)
from icewatch.core.ice.sdp import (
    MAX_SDP_LINE_LENGTH,
    MAX_SDP_LINES,
    MAX_SDP_SIZE,
    Codec,
    Connection,
    Extmap,
    Fingerprint,
    LineError,
    MediaSection,
    Origin,
    Rtcp,
    SessionDescription,
    parse_sdp,
)

__all__ = [
    "END_OF_CANDIDATES",
    "MAX_SDP_LINES",
    "MAX_SDP_LINE_LENGTH",
    "MAX_SDP_SIZE",
    "AddressClass",
    "AddressKind",
    "Candidate",
    "CandidateType",
    "Codec",
    "Connection",
    "EndOfCandidates",
    "EngineLayout",
    "Extmap",
    "Fingerprint",
    "LineError",
    "MediaSection",
    "Origin",
    "Priority",
    "Rtcp",
    "SessionDescription",
    "TcpType",
    "Transport",
    "address_precedence",
    "decode_priority",
    "format_candidate",
    "is_end_of_candidates",
    "is_uuid4",
    "network_adapter_from_cost",
    "parse_candidate",
    "parse_connection_address",
    "parse_ice_line",
    "parse_sdp",
]
