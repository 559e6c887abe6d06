"""Session descriptions (RFC 8866): the parts that tell about the network and the browser.

:func:`parse_sdp` is bounded (:data:`MAX_SDP_SIZE`, :data:`MAX_SDP_LINES`,
:data:`MAX_SDP_LINE_LENGTH`) and accepts CRLF and LF line ends. It raises
:class:`SdpParseError` only when the text is not a session description at all (empty,
oversized, or not starting with ``v=0``). Anything else that is malformed is kept:

* a bad ``a=candidate`` line becomes a :class:`LineError` in its section's
  ``candidate_errors`` — a malformed candidate is evidence, not a reason to stop;
* any other line that cannot be understood becomes a :class:`LineError` in
  :attr:`SessionDescription.problems`.

Per section (and at session level) it extracts ``c=``, ``a=rtcp``, candidates,
``a=end-of-candidates``, ``ice-ufrag``/``ice-pwd``/``ice-options``, ``fingerprint``,
``setup``, ``mid``, codecs (``rtpmap`` + ``fmtp`` + ``rtcp-fb`` per payload type) and
``extmap``; at session level also ``o=``, ``s=`` and ``a=group``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from icewatch.core.addr import ParsedIP, try_parse_ip
from icewatch.core.errors import CandidateParseError, SdpParseError
from icewatch.core.ice.candidate import Candidate, parse_candidate

__all__ = [
    "MAX_SDP_LINES",
    "MAX_SDP_LINE_LENGTH",
    "MAX_SDP_SIZE",
    "Codec",
    "Connection",
    "Extmap",
    "Fingerprint",
    "LineError",
    "MediaSection",
    "Origin",
    "Rtcp",
    "SessionDescription",
    "parse_sdp",
]

#: Largest SDP accepted, in characters. Browser offers are 2-8 KiB; with many
#: transceivers and candidates they stay far below this.
MAX_SDP_SIZE: Final = 64 * 1024
MAX_SDP_LINES: Final = 4096
MAX_SDP_LINE_LENGTH: Final = 4096


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that could not be understood: where, what, and the line as sent."""

    line_number: int  # 1-based
    field: str
    reason: str
    raw: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line_number,
            "field": self.field,
            "reason": self.reason,
            "raw": self.raw,
        }


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    session_id: str
    session_version: str
    net_type: str
    addr_type: str
    address: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "session_id": self.session_id,
            "session_version": self.session_version,
            "net_type": self.net_type,
            "addr_type": self.addr_type,
            "address": self.address,
        }


def _addr_value(text: str) -> ParsedIP | str:
    parsed = try_parse_ip(text)
    return text if parsed is None else parsed


def _addr_json(value: ParsedIP | str | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (a multicast ``/ttl`` is split off)."""

    net_type: str
    addr_type: str
    address: ParsedIP | str
    suffix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "net_type": self.net_type,
            "addr_type": self.addr_type,
            "address": _addr_json(self.address),
            "is_ip": isinstance(self.address, ParsedIP),
            "suffix": self.suffix,
        }


@dataclass(frozen=True, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605)."""

    port: int
    net_type: str | None = None
    addr_type: str | None = None
    address: ParsedIP | str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "net_type": self.net_type,
            "addr_type": self.addr_type,
            "address": _addr_json(self.address),
        }


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint:<hash-func> <fingerprint>`` (RFC 8122); hash name lower-cased."""

    hash_function: str
    value: str

    def as_dict(self) -> dict[str, Any]:
        return {"hash_function": self.hash_function, "value": self.value}


@dataclass(frozen=True, slots=True)
class Codec:
    """One payload type: ``rtpmap`` + ``fmtp`` + every ``rtcp-fb`` for it."""

    payload_type: int
    name: str | None = None
    clock_rate: int | None = None
    channels: int | None = None
    fmtp: str | None = None
    rtcp_fb: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "payload_type": self.payload_type,
            "name": self.name,
            "clock_rate": self.clock_rate,
            "channels": self.channels,
            "fmtp": self.fmtp,
            "rtcp_fb": list(self.rtcp_fb),
        }


@dataclass(frozen=True, slots=True)
class Extmap:
    """``a=extmap:<id>[/<direction>] <uri> [<attributes>]`` (RFC 8285)."""

    id: int
    uri: str
    direction: str | None = None
    attributes: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri,
            "direction": self.direction,
            "attributes": self.attributes,
        }


@dataclass(frozen=True, slots=True)
class MediaSection:
    """One ``m=`` section. For the session level, see :class:`SessionDescription`."""

    media: str
    port: int
    port_count: int | None
    proto: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    rtcp: Rtcp | None = None
    mid: str | None = None
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: tuple[str, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: str | None = None
    candidates: tuple[Candidate, ...] = ()
    candidate_errors: tuple[LineError, ...] = ()
    end_of_candidates: bool = False
    codecs: tuple[Codec, ...] = ()
    extmaps: tuple[Extmap, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "media": self.media,
            "port": self.port,
            "port_count": self.port_count,
            "proto": self.proto,
            "formats": list(self.formats),
            "connection": None if self.connection is None else self.connection.as_dict(),
            "rtcp": None if self.rtcp is None else self.rtcp.as_dict(),
            "mid": self.mid,
            **_ice_dict(self.ice_ufrag, self.ice_pwd, self.ice_options, self.fingerprints),
            "setup": self.setup,
            "candidates": [c.as_dict() for c in self.candidates],
            "candidate_errors": [e.as_dict() for e in self.candidate_errors],
            "end_of_candidates": self.end_of_candidates,
            "codecs": [c.as_dict() for c in self.codecs],
            "extmaps": [e.as_dict() for e in self.extmaps],
        }


def _ice_dict(
    ufrag: str | None, pwd: str | None, options: tuple[str, ...], fps: tuple[Fingerprint, ...]
) -> dict[str, Any]:
    return {
        "ice_ufrag": ufrag,
        "ice_pwd": pwd,
        "ice_options": list(options),
        "fingerprints": [f.as_dict() for f in fps],
    }


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed SDP: session-level fields, the media sections, and what was malformed."""

    version: int = 0
    origin: Origin | None = None
    session_name: str | None = None
    connection: Connection | None = None
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: tuple[str, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: str | None = None
    groups: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    candidate_errors: tuple[LineError, ...] = ()
    end_of_candidates: bool = False
    media: tuple[MediaSection, ...] = ()
    problems: tuple[LineError, ...] = ()
    line_count: int = 0

    def all_candidates(self) -> tuple[Candidate, ...]:
        """Session-level candidates followed by each section's, in order."""
        out = list(self.candidates)
        for section in self.media:
            out.extend(section.candidates)
        return tuple(out)

    def all_candidate_errors(self) -> tuple[LineError, ...]:
        out = list(self.candidate_errors)
        for section in self.media:
            out.extend(section.candidate_errors)
        return tuple(sorted(out, key=lambda e: e.line_number))

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "origin": None if self.origin is None else self.origin.as_dict(),
            "session_name": self.session_name,
            "connection": None if self.connection is None else self.connection.as_dict(),
            **_ice_dict(self.ice_ufrag, self.ice_pwd, self.ice_options, self.fingerprints),
            "setup": self.setup,
            "groups": list(self.groups),
            "candidates": [c.as_dict() for c in self.candidates],
            "candidate_errors": [e.as_dict() for e in self.candidate_errors],
            "end_of_candidates": self.end_of_candidates,
            "media": [m.as_dict() for m in self.media],
            "problems": [p.as_dict() for p in self.problems],
            "line_count": self.line_count,
        }


# --- parsing ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Section:
    """Mutable accumulator for one level (session or media)."""

    media: str = ""
    port: int = 0
    port_count: int | None = None
    proto: str = ""
    formats: tuple[str, ...] = ()
    connection: Connection | None = None
    rtcp: Rtcp | None = None
    mid: str | None = None
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    ice_options: tuple[str, ...] = ()
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    candidate_errors: list[LineError] = field(default_factory=list)
    end_of_candidates: bool = False
    rtpmap: dict[int, tuple[str, int | None, int | None]] = field(default_factory=dict)
    fmtp: dict[int, str] = field(default_factory=dict)
    rtcp_fb: dict[str, list[str]] = field(default_factory=dict)
    extmaps: list[Extmap] = field(default_factory=list)

    def codecs(self) -> tuple[Codec, ...]:
        out: list[Codec] = []
        wildcard = tuple(self.rtcp_fb.get("*", ()))
        for fmt in self.formats:
            if not fmt.isdigit() or len(fmt) > 3:
                continue
            pt = int(fmt)
            name, rate, channels = self.rtpmap.get(pt, (None, None, None))
            out.append(
                Codec(
                    payload_type=pt,
                    name=name,
                    clock_rate=rate,
                    channels=channels,
                    fmtp=self.fmtp.get(pt),
                    rtcp_fb=wildcard + tuple(self.rtcp_fb.get(fmt, ())),
                )
            )
        return tuple(out)

    def freeze(self) -> MediaSection:
        return MediaSection(
            media=self.media,
            port=self.port,
            port_count=self.port_count,
            proto=self.proto,
            formats=self.formats,
            connection=self.connection,
            rtcp=self.rtcp,
            mid=self.mid,
            ice_ufrag=self.ice_ufrag,
            ice_pwd=self.ice_pwd,
            ice_options=self.ice_options,
            fingerprints=tuple(self.fingerprints),
            setup=self.setup,
            candidates=tuple(self.candidates),
            candidate_errors=tuple(self.candidate_errors),
            end_of_candidates=self.end_of_candidates,
            codecs=self.codecs(),
            extmaps=tuple(self.extmaps),
        )


class _Bad(Exception):
    """One line could not be understood (internal; becomes a LineError)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _small_int(text: str, field: str, limit: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > len(str(limit)):
        raise _Bad(field, f"not a number: {text[:24]!r}")
    value = int(text)
    if value > limit:
        raise _Bad(field, f"{value} is above {limit}")
    return value


def parse_sdp(text: str) -> SessionDescription:
    """Parse a session description; see the module docstring for what is kept."""
    if not isinstance(text, str):
        raise SdpParseError("sdp", "not a string")
    if len(text) > MAX_SDP_SIZE:
        raise SdpParseError("sdp", f"larger than {MAX_SDP_SIZE} characters")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line end
    if not lines:
        raise SdpParseError("sdp", "empty")
    if len(lines) > MAX_SDP_LINES:
        raise SdpParseError("sdp", f"more than {MAX_SDP_LINES} lines")
    first = lines[0].removesuffix("\r")
    if first != "v=0":
        raise SdpParseError("v", f"the first line must be 'v=0', got {first[:24]!r}")

    session = _Section()
    sections: list[_Section] = []
    current = session
    origin: Origin | None = None
    session_name: str | None = None
    groups: list[str] = []
    problems: list[LineError] = []

    for number, line in enumerate(lines[1:], start=2):
        line = line.removesuffix("\r")
        if len(line) > MAX_SDP_LINE_LENGTH:
            raise SdpParseError(f"line {number}", f"longer than {MAX_SDP_LINE_LENGTH}")
        if len(line) < 2 or line[1] != "=" or not "a" <= line[0] <= "z":
            problems.append(LineError(number, "line", "not '<type>=<value>'", line))
            continue
        kind, value = line[0], line[2:]
        try:
            if kind == "a":
                if value.startswith("candidate:"):
                    try:
                        current.candidates.append(parse_candidate(value))
                    except CandidateParseError as exc:
                        current.candidate_errors.append(
                            LineError(number, exc.field, exc.reason, line)
                        )
                elif value.startswith("group:"):
                    if current is session:
                        groups.append(value[6:])
                else:
                    _attribute(current, value)
            elif kind == "m":
                current = _media(value)
                sections.append(current)
            elif kind == "c":
                current.connection = _connection(value)
            elif kind == "o":
                origin = _origin(value)
            elif kind == "s":
                session_name = value
            elif kind == "v":
                raise _Bad("v", "repeated")
        except _Bad as exc:
            problems.append(LineError(number, exc.field, exc.reason, line))

    return SessionDescription(
        version=0,
        origin=origin,
        session_name=session_name,
        connection=session.connection,
        ice_ufrag=session.ice_ufrag,
        ice_pwd=session.ice_pwd,
        ice_options=session.ice_options,
        fingerprints=tuple(session.fingerprints),
        setup=session.setup,
        groups=tuple(groups),
        candidates=tuple(session.candidates),
        candidate_errors=tuple(session.candidate_errors),
        end_of_candidates=session.end_of_candidates,
        media=tuple(s.freeze() for s in sections),
        problems=tuple(problems),
        line_count=len(lines),
    )


def _media(value: str) -> _Section:
    # m=<media> <port>[/<number of ports>] <proto> <fmt> ...
    parts = value.split(" ")
    if len(parts) < 3 or "" in parts:
        raise _Bad("m", "expected '<media> <port> <proto> <fmt>...'")
    port_text, _, count_text = parts[1].partition("/")
    port = _small_int(port_text, "m", 65535)
    count = _small_int(count_text, "m", 65535) if count_text else None
    return _Section(
        media=parts[0], port=port, port_count=count, proto=parts[2], formats=tuple(parts[3:])
    )


def _connection(value: str) -> Connection:
    # c=<nettype> <addrtype> <connection-address>
    parts = value.split(" ")
    if len(parts) != 3 or "" in parts:
        raise _Bad("c", "expected '<nettype> <addrtype> <connection-address>'")
    address, sep, suffix = parts[2].partition("/")
    return Connection(parts[0], parts[1], _addr_value(address), suffix if sep else None)


def _origin(value: str) -> Origin:
    # o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
    parts = value.split(" ")
    if len(parts) != 6 or "" in parts:
        raise _Bad("o", "expected six fields")
    return Origin(*parts)


def _attribute(section: _Section, value: str) -> None:
    name, colon, arg = value.partition(":")
    if name == "end-of-candidates":
        section.end_of_candidates = True
    elif name == "ice-ufrag" and colon:
        section.ice_ufrag = arg
    elif name == "ice-pwd" and colon:
        section.ice_pwd = arg
    elif name == "ice-options" and colon:
        section.ice_options = tuple(arg.split())
    elif name == "fingerprint" and colon:
        hash_function, _, digest = arg.partition(" ")
        if not hash_function or not digest:
            raise _Bad("fingerprint", "expected '<hash-function> <fingerprint>'")
        section.fingerprints.append(Fingerprint(hash_function.lower(), digest))
    elif name == "setup" and colon:
        section.setup = arg
    elif name == "mid" and colon:
        section.mid = arg
    elif name == "rtcp" and colon:
        section.rtcp = _rtcp(arg)
    elif name == "rtpmap" and colon:
        _rtpmap(section, arg)
    elif name == "fmtp" and colon:
        pt_text, _, params = arg.partition(" ")
        section.fmtp[_small_int(pt_text, "fmtp", 127)] = params
    elif name == "rtcp-fb" and colon:
        pt_text, _, feedback = arg.partition(" ")
        if pt_text != "*":
            _small_int(pt_text, "rtcp-fb", 127)
        section.rtcp_fb.setdefault(pt_text, []).append(feedback)
    elif name == "extmap" and colon:
        section.extmaps.append(_extmap(arg))


def _rtcp(arg: str) -> Rtcp:
    parts = arg.split(" ")
    port = _small_int(parts[0], "rtcp", 65535)
    if len(parts) == 1:
        return Rtcp(port)
    if len(parts) != 4 or "" in parts:
        raise _Bad("rtcp", "expected '<port> [<nettype> <addrtype> <address>]'")
    return Rtcp(port, parts[1], parts[2], _addr_value(parts[3]))


def _rtpmap(section: _Section, arg: str) -> None:
    # a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
    pt_text, _, encoding = arg.partition(" ")
    pt = _small_int(pt_text, "rtpmap", 127)
    parts = encoding.split("/")
    if not parts[0] or len(parts) > 3:
        raise _Bad("rtpmap", "expected '<pt> <name>/<clock rate>[/<channels>]'")
    rate = _small_int(parts[1], "rtpmap", 2**32 - 1) if len(parts) > 1 else None
    channels = _small_int(parts[2], "rtpmap", 255) if len(parts) > 2 else None
    section.rtpmap[pt] = (parts[0], rate, channels)


def _extmap(arg: str) -> Extmap:
    # a=extmap:<value>["/"<direction>] <URI> <extensionattributes>
    head, _, rest = arg.partition(" ")
    id_text, slash, direction = head.partition("/")
    ext_id = _small_int(id_text, "extmap", 4095)
    uri, _, attributes = rest.partition(" ")
    if not uri:
        raise _Bad("extmap", "missing URI")
    return Extmap(ext_id, uri, direction if slash else None, attributes or None)
