"""ICE candidate lines: :func:`parse_candidate` text → :class:`Candidate`, and back.

Accepted forms (see :mod:`icewatch.core.ice.grammar` for the grammar and tolerances)::

    a=candidate:1467250027 1 udp 2122260223 192.168.1.10 56143 typ host generation 0
    candidate:0 1 UDP 2122187007 6f1c2a4e-9b3d-4c5e-8f7a-1b2c3d4e5f60.local 52677 typ host
    842163049 1 udp 1677729535 203.0.113.7 61234 typ srflx raddr 0.0.0.0 rport 0

The empty string is not a candidate: browsers hand it to ``onicecandidate`` (Firefox)
or put ``a=end-of-candidates`` in the SDP to say gathering is complete.
:func:`parse_candidate` rejects it (field ``line``); :func:`parse_ice_line` returns the
:data:`END_OF_CANDIDATES` sentinel for it instead, and :func:`is_end_of_candidates`
tests for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, cast

from icewatch.core.addr import ParsedIP
from icewatch.core.errors import CandidateParseError
from icewatch.core.ice.grammar import (
    _ADDRESS_CACHE,
    ICE_CHARS,
    MAX_COMPONENT,
    MAX_EXTENSIONS,
    MAX_FOUNDATION_LENGTH,
    MAX_LINE_LENGTH,
    MAX_PORT,
    MAX_PRIORITY,
    MAX_UFRAG_LENGTH,
    MAX_UINT16,
    MAX_UINT32,
    REDACTED_NAMES,
    AddressKind,
    is_token,
    parse_connection_address,
)
from icewatch.core.ice.priority import Priority, decode_priority, network_adapter_from_cost

__all__ = [
    "END_OF_CANDIDATES",
    "Candidate",
    "CandidateType",
    "EndOfCandidates",
    "TcpType",
    "Transport",
    "format_candidate",
    "is_end_of_candidates",
    "parse_candidate",
    "parse_ice_line",
]


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"  # RFC 6544


class CandidateType(StrEnum):
    HOST = "host"
    SRFLX = "srflx"
    PRFLX = "prflx"
    RELAY = "relay"
    #: A ``token`` the grammar allows but no agent defines; ``type_raw`` keeps it.
    UNKNOWN = "unknown"


class TcpType(StrEnum):
    """RFC 6544 §4.5 ``tcp-type``."""

    ACTIVE = "active"
    PASSIVE = "passive"
    SO = "so"


AddressValue = ParsedIP | str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ICE candidate, every field as sent.

    ``address``/``related_address`` are a :class:`ParsedIP` for IP literals and the
    name as written otherwise (``address_kind`` says which). ``extensions`` holds every
    ``cand-extension`` pair in the order sent — the typed ``tcptype``, ``generation``,
    ``ufrag``, ``network_id`` and ``network_cost`` are views of it, so attribute order,
    duplicates of unknown names and unknown attributes all stay visible as evidence.
    ``transport_raw``/``type_raw`` keep the spelling (Firefox sends ``UDP``).
    ``raw`` is the parsed line; it takes no part in equality.

    Built directly, empty ``transport_raw``/``type_raw`` default to the enum value, an
    empty ``extensions`` is filled from the typed fields in libwebrtc order, and the
    address kinds of names are derived from the name (``.local`` → mdns, the redacted
    placeholders → redacted, else fqdn). Direct construction does not validate.
    """

    foundation: str
    component: int
    transport: Transport
    priority: int
    address: AddressValue
    port: int
    type: CandidateType
    related_address: AddressValue | None = None
    related_port: int | None = None
    tcptype: TcpType | None = None
    generation: int | None = None
    ufrag: str | None = None
    network_id: int | None = None
    network_cost: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    address_kind: AddressKind = AddressKind.IP
    related_address_kind: AddressKind | None = None
    transport_raw: str = ""
    type_raw: str = ""
    raw: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Only for direct construction; parse_candidate() builds instances complete.
        fill = object.__setattr__
        if not self.transport_raw:
            fill(self, "transport_raw", self.transport.value)
        if not self.type_raw:
            fill(self, "type_raw", self.type.value)
        if isinstance(self.address, str) and self.address_kind is AddressKind.IP:
            fill(self, "address_kind", _kind_of_name(self.address))
        if self.related_address is not None and self.related_address_kind is None:
            related = self.related_address
            kind = AddressKind.IP if isinstance(related, ParsedIP) else _kind_of_name(related)
            fill(self, "related_address_kind", kind)
        if not self.extensions:
            fill(self, "extensions", _typed_extensions(self))

    def __str__(self) -> str:
        return format_candidate(self)

    @property
    def mdns(self) -> bool:
        """True when the address is an mDNS ``<UUIDv4>.local`` name."""
        return self.address_kind is AddressKind.MDNS

    @property
    def type_known(self) -> bool:
        return self.type is not CandidateType.UNKNOWN

    @property
    def priority_info(self) -> Priority:
        """The priority decoded (computed on each access; see :mod:`.priority`)."""
        address = self.address
        return decode_priority(
            self.priority,
            candidate_type=self.type.value,
            transport=self.transport.value,
            address=None if isinstance(address, str) else address.ip,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-compatible document with stable lower-case keys (docs/json-output.md)."""
        cost = self.network_cost
        adapter = network_adapter_from_cost(cost) if cost is not None else None
        return {
            "foundation": self.foundation,
            "component": self.component,
            "protocol": self.transport.value,
            "protocol_raw": self.transport_raw,
            "priority": self.priority,
            "priority_decoded": self.priority_info.as_dict(),
            "address": _address_text(self.address),
            "address_kind": self.address_kind.value,
            "address_ip": _ip_dict(self.address),
            "mdns": self.mdns,
            "port": self.port,
            "type": self.type.value,
            "type_raw": self.type_raw,
            "related_address": (
                None if self.related_address is None else _address_text(self.related_address)
            ),
            "related_address_kind": (
                None if self.related_address_kind is None else self.related_address_kind.value
            ),
            "related_port": self.related_port,
            "tcptype": None if self.tcptype is None else self.tcptype.value,
            "generation": self.generation,
            "ufrag": self.ufrag,
            "network_id": self.network_id,
            "network_cost": cost,
            "network_adapter": None if adapter is None else adapter[0],
            "network_vpn": None if adapter is None else adapter[1],
            "extensions": [[name, value] for name, value in self.extensions],
            "raw": self.raw,
        }


def _kind_of_name(name: str) -> AddressKind:
    # For directly built candidates only: the parser validates names itself.
    lower = name.lower()
    if lower.endswith(".local"):
        return AddressKind.MDNS
    if lower in REDACTED_NAMES:
        return AddressKind.REDACTED
    return AddressKind.FQDN


def _address_text(value: AddressValue) -> str:
    return value if isinstance(value, str) else str(value)


def _ip_dict(value: AddressValue) -> dict[str, Any] | None:
    if isinstance(value, str):
        return None
    return {
        "version": value.version,
        "ip": str(value.ip),
        "zone": value.zone,
        "v4_mapped": value.mapped is not None,
    }


def _typed_extensions(c: Candidate) -> tuple[tuple[str, str], ...]:
    # libwebrtc order: [tcptype T] generation N [ufrag U] [network-id I] [network-cost C]
    out: list[tuple[str, str]] = []
    if c.tcptype is not None:
        out.append(("tcptype", c.tcptype.value))
    if c.generation is not None:
        out.append(("generation", str(c.generation)))
    if c.ufrag is not None:
        out.append(("ufrag", c.ufrag))
    if c.network_id is not None:
        out.append(("network-id", str(c.network_id)))
    if c.network_cost is not None:
        out.append(("network-cost", str(c.network_cost)))
    return tuple(out)


class _CandidateSlots:
    """A mutable twin of :class:`Candidate`: the same slots, in the same order.

    A frozen dataclass sets each field through ``object.__setattr__`` — about 1.6 µs for
    twenty fields, more than a whole parse is allowed to take. The parser fills this
    twin with plain attribute stores (~0.2 µs) and then re-labels it as a
    :class:`Candidate` (``__class__`` assignment between layout-identical classes is
    defined behaviour). The result is indistinguishable from ``Candidate(...)``: frozen,
    equal, same hash; ``tests/core/ice/test_candidate.py`` pins that.
    """

    __slots__ = Candidate.__slots__

    # Annotations only (no class attributes), so they coexist with __slots__.
    foundation: str
    component: int
    transport: Transport
    priority: int
    address: AddressValue
    port: int
    type: CandidateType
    related_address: AddressValue | None
    related_port: int | None
    tcptype: TcpType | None
    generation: int | None
    ufrag: str | None
    network_id: int | None
    network_cost: int | None
    extensions: tuple[tuple[str, str], ...]
    address_kind: AddressKind
    related_address_kind: AddressKind | None
    transport_raw: str
    type_raw: str
    raw: str


# --- end of candidates -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndOfCandidates:
    """The end-of-candidates indication (RFC 8838 §8.2): gathering is complete."""

    def as_dict(self) -> dict[str, Any]:
        return {"end_of_candidates": True}

    def __str__(self) -> str:
        return "a=end-of-candidates"


END_OF_CANDIDATES: Final = EndOfCandidates()
_END_FORMS = frozenset({"", "a=end-of-candidates", "end-of-candidates"})


def is_end_of_candidates(line: str) -> bool:
    """True for ``""`` (what ``onicecandidate`` reports) and ``[a=]end-of-candidates``."""
    return line in _END_FORMS


def parse_ice_line(line: str) -> Candidate | EndOfCandidates:
    """Parse a candidate line, or recognise the end-of-candidates indication."""
    if isinstance(line, str) and line in _END_FORMS:
        return END_OF_CANDIDATES
    return parse_candidate(line)


# --- parsing ---------------------------------------------------------------------------

_FIELDS = (
    "foundation",
    "component",
    "transport",
    "priority",
    "connection-address",
    "port",
    "typ",
    "type",
)
_TRANSPORTS: Final = {
    "udp": Transport.UDP,
    "UDP": Transport.UDP,
    "tcp": Transport.TCP,
    "TCP": Transport.TCP,
}
_TYPES: Final[dict[str, CandidateType]] = {
    t.value: t for t in CandidateType if t is not CandidateType.UNKNOWN
}
_TCPTYPES: Final = {t.value: t for t in TcpType}
#: Fast path for the small numbers most fields carry ("0".."999", no leading zeros):
#: one dict look-up instead of isdigit() + len() + int() + a range check.
_SMALL_INTS: Final = {str(i): i for i in range(1000)}
_COMPONENTS: Final = {str(i): i for i in range(1, MAX_COMPONENT + 1)}


def _fail(field: str, reason: str) -> CandidateParseError:
    return CandidateParseError(field, reason)


def _uint(token: str, field: str, max_digits: int, max_value: int) -> int:
    # 1*nDIGIT within range. The line is known to be ASCII, so isdigit() means 0-9.
    if not token.isdigit() or len(token) > max_digits:
        raise _fail(field, f"not 1..{max_digits} digits: {token[:16]!r}")
    value = int(token)
    if value > max_value:
        raise _fail(field, f"{value} is above {max_value}")
    return value


def parse_candidate(line: str) -> Candidate:
    """Parse one candidate line; raise :class:`CandidateParseError` naming the field.

    Written for speed (the collector parses every line a browser reports): ``str``
    methods and dict look-ups instead of regexes, the hot checks inlined.
    """
    if not isinstance(line, str):
        raise _fail("line", "not a string")
    if len(line) > MAX_LINE_LENGTH:
        raise _fail("line", f"longer than {MAX_LINE_LENGTH} characters")
    if not line:
        raise _fail("line", "empty: the end-of-candidates indication (see parse_ice_line)")
    if not line.isascii():
        raise _fail("line", "non-ASCII character")
    # From here on the text is ASCII, so str.isdigit() means [0-9] only.
    if "  " in line or line[0] == " " or line[-1] == " ":
        raise _fail("line", "empty token (leading, trailing or double space)")
    tokens = line.split(" ")
    n = len(tokens)

    # candidate-attribute = "candidate" ":" foundation SP ...  ("a=" and bare form tolerated)
    head = tokens[0]
    if head.startswith("candidate:"):
        foundation = head[10:]
    elif head.startswith("a=candidate:"):
        foundation = head[12:]
    else:
        foundation = _strip_prefix(head)
    # foundation = 1*32ice-char
    if (
        not foundation
        or len(foundation) > MAX_FOUNDATION_LENGTH
        or (not foundation.isalnum() and foundation.strip(ICE_CHARS))
    ):
        raise _fail("foundation", f"not 1..{MAX_FOUNDATION_LENGTH} ice-chars: {foundation!r}")
    if n < 8:
        raise _fail(_FIELDS[n], "missing")
    if n > 8 + 2 * MAX_EXTENSIONS:
        raise _fail("extensions", f"more than {MAX_EXTENSIONS} name/value pairs")
    if n & 1:
        raise _fail("extensions", f"name {tokens[-1]!r} has no value")

    # component-id = 1*3DIGIT  (1..256, RFC 8445 §5.1.2.1)
    component = _COMPONENTS.get(tokens[1])
    if component is None:
        component = _uint(tokens[1], "component", 3, MAX_COMPONENT)
        if component == 0:
            raise _fail("component", "0 is not a component id")
    # transport = "UDP" / transport-extension   (TCP from RFC 6544; any case)
    transport_raw = tokens[2]
    transport = _TRANSPORTS.get(transport_raw)
    if transport is None:
        transport = _TRANSPORTS.get(transport_raw.lower())
        if transport is None:
            raise _fail("transport", f"not UDP or TCP: {transport_raw[:16]!r}")
    # priority = 1*10DIGIT  (<= 2**32-1)
    text = tokens[3]
    if not text.isdigit() or len(text) > 10:
        raise _fail("priority", f"not 1..10 digits: {text[:16]!r}")
    priority = int(text)
    if priority > MAX_PRIORITY:
        raise _fail("priority", f"{priority} is above {MAX_PRIORITY}")
    # connection-address = IP4-address / IP6-address / FQDN  (mDNS, redacted: in the wild)
    hit = _ADDRESS_CACHE.get(tokens[4])
    if hit is None:
        hit = parse_connection_address(tokens[4], "connection-address")
    address, address_kind = hit
    # port = 1*5DIGIT (<= 65535)
    text = tokens[5]
    if not text.isdigit() or len(text) > 5:
        raise _fail("port", f"not 1..5 digits: {text[:16]!r}")
    port = int(text)
    if port > MAX_PORT:
        raise _fail("port", f"{port} is above {MAX_PORT}")
    # cand-type = "typ" SP candidate-types
    if tokens[6] != "typ" and tokens[6].lower() != "typ":
        raise _fail("typ", f"expected 'typ', got {tokens[6][:16]!r}")
    # candidate-types = "host" / "srflx" / "prflx" / "relay" / token
    type_raw = tokens[7]
    ctype = _TYPES.get(type_raw)
    if ctype is None:
        ctype = _TYPES.get(type_raw.lower())
        if ctype is None:
            if not is_token(type_raw):
                raise _fail("type", f"not a token: {type_raw[:16]!r}")
            ctype = CandidateType.UNKNOWN

    raddr: AddressValue | None = None
    raddr_kind: AddressKind | None = None
    rport: int | None = None
    tcptype: TcpType | None = None
    generation: int | None = None
    ufrag: str | None = None
    network_id: int | None = None
    network_cost: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    i = 8
    # rel-addr = "raddr" SP connection-address
    if n > 8 and tokens[8] == "raddr":
        hit = _ADDRESS_CACHE.get(tokens[9])
        if hit is None:
            hit = parse_connection_address(tokens[9], "raddr")
        raddr, raddr_kind = hit
        i = 10
    # rel-port = "rport" SP port
    if n > i and tokens[i] == "rport":
        rport = _SMALL_INTS.get(tokens[i + 1])
        if rport is None:
            rport = _uint(tokens[i + 1], "rport", 5, MAX_PORT)
        i += 2
    if n > i:
        # *(SP cand-extension)
        out: list[tuple[str, str]] = []
        late_rel = False
        for k in range(i, n, 2):
            name = tokens[k]
            value = tokens[k + 1]
            # cand-extension = extension-att-name SP extension-att-value
            if name == "generation":  # libwebrtc: uint32
                if generation is not None:
                    raise _fail(name, "given twice")
                generation = _SMALL_INTS.get(value)
                if generation is None:
                    generation = _uint(value, name, 10, MAX_UINT32)
            elif name == "ufrag":  # libwebrtc: the ice-ufrag; 1*256ice-char here
                if ufrag is not None:
                    raise _fail(name, "given twice")
                if len(value) > MAX_UFRAG_LENGTH or (
                    not value.isalnum() and value.strip(ICE_CHARS)
                ):
                    raise _fail(name, f"not 1..{MAX_UFRAG_LENGTH} ice-chars")
                ufrag = value
            elif name == "network-cost":  # libwebrtc: uint16, sent when > 0
                if network_cost is not None:
                    raise _fail(name, "given twice")
                network_cost = _SMALL_INTS.get(value)
                if network_cost is None:
                    network_cost = _uint(value, name, 5, MAX_UINT16)
            elif name == "network-id":  # libwebrtc: uint16, sent when > 0
                if network_id is not None:
                    raise _fail(name, "given twice")
                network_id = _SMALL_INTS.get(value)
                if network_id is None:
                    network_id = _uint(value, name, 5, MAX_UINT16)
            elif name == "tcptype":  # RFC 6544: tcp-type = "active" / "passive" / "so"
                if tcptype is not None:
                    raise _fail(name, "given twice")
                tcptype = _TCPTYPES.get(value)
                if tcptype is None:
                    raise _fail(name, f"not active, passive or so: {value[:16]!r}")
            elif name == "raddr":  # after an extension: out of grammar order, libwebrtc takes it
                if raddr_kind is not None:
                    raise _fail(name, "given twice")
                raddr, raddr_kind = parse_connection_address(value, name)
                late_rel = True
            elif name == "rport":
                if rport is not None:
                    raise _fail(name, "given twice")
                rport = _uint(value, name, 5, MAX_PORT)
                late_rel = True
            # extension-att-name = token; extension-att-value = *VCHAR
            elif not is_token(name):
                raise _fail("extensions", f"extension name is not a token: {name[:16]!r}")
            elif not value.isprintable():
                raise _fail("extensions", f"control character in the value of {name!r}")
            out.append((name, value))
        extensions = tuple(out)
        if late_rel:
            extensions = tuple(e for e in extensions if e[0] != "raddr" and e[0] != "rport")

    c = _CandidateSlots()
    c.foundation = foundation
    c.component = component
    c.transport = transport
    c.priority = priority
    c.address = address
    c.port = port
    c.type = ctype
    c.related_address = raddr
    c.related_port = rport
    c.tcptype = tcptype
    c.generation = generation
    c.ufrag = ufrag
    c.network_id = network_id
    c.network_cost = network_cost
    c.extensions = extensions
    c.address_kind = address_kind
    c.related_address_kind = raddr_kind
    c.transport_raw = transport_raw
    c.type_raw = type_raw
    c.raw = line
    c.__class__ = Candidate  # type: ignore[assignment]
    return cast(Candidate, c)


def _strip_prefix(head: str) -> str:
    lower = head.lower()
    if lower.startswith("a="):
        if not lower.startswith("a=candidate:"):
            raise _fail("line", f"not a candidate attribute: {head[:24]!r}")
        return head[12:]
    if lower.startswith("candidate:"):
        return head[10:]
    return head  # bare form: the first token is the foundation


def format_candidate(c: Candidate, *, prefix: str = "candidate:") -> str:
    """Serialise ``c`` in libwebrtc order (``prefix`` may be ``"a=candidate:"`` or ``""``)."""
    parts = [
        prefix + c.foundation,
        str(c.component),
        c.transport_raw or c.transport.value,
        str(c.priority),
        _address_text(c.address),
        str(c.port),
        "typ",
        c.type_raw or c.type.value,
    ]
    if c.related_address is not None:
        parts += ("raddr", _address_text(c.related_address))
    if c.related_port is not None:
        parts += ("rport", str(c.related_port))
    for name, value in c.extensions:
        parts += (name, value)
    return " ".join(parts)
