"""Which WebRTC stack wrote these candidates and this SDP: the *dialect*.

A browser's user agent is one string a script can change; the way its WebRTC stack
serialises candidates and session descriptions is hundreds of lines of C++ nobody
rewrites to match. Two stacks matter on the web:

* **libwebrtc** — Chromium and everything built on it (Chrome, Edge, Opera, Brave,
  Samsung Internet, Electron…) and WebKit (Safari, every iOS browser), which embeds
  the same library. Candidates end with ``generation N [ufrag U] [network-id I]
  [network-cost C]`` in that order (``api/candidate.cc``), transports are lower case,
  foundations are CRC32 numbers, priorities follow libwebrtc's local-preference layout;
  the SDP starts ``o=- <digits> 2 IN IP4 127.0.0.1``, has ``a=msid-semantic: WMS``,
  ``a=extmap-allow-mixed``, ``a=max-message-size:262144``, a 4-character ufrag and a
  24-character password, fingerprint and ``ice-options`` in the media section.
* **Firefox** (nICEr and Mozilla's SDP code) — ``UDP``/``TCP`` in upper case, small
  integer foundations, no extensions but ``tcptype``, TCP ``active`` host candidates on
  port 9 in the events, nICEr's priority layout, an empty-string candidate event at the
  end; the SDP starts ``o=mozilla...THIS_IS_SDPARTA-…``, has ``a=msid-semantic:WMS *``,
  session-level ``a=sendrecv``, fingerprint and ``ice-options``,
  ``a=max-message-size:1073741823``, ``a=end-of-candidates``, a hex ufrag (8) and
  password (32).

WebKit is not told apart from Chromium: it serialises with the same libwebrtc code,
and what differs (no host candidates before media permission) is also what Chromium's
IP-handling policies produce. The result therefore names the *compatible engines*
(libwebrtc → Blink or WebKit; Firefox → Gecko) rather than a single browser.

Each feature seen is a :class:`DialectFeature` that votes for a dialect with a weight
(or for none, when it is informative only). :func:`classify_dialect` adds the votes:
the dialect with the larger sum wins with ``confidence = margin * coverage`` where
``margin = (W - L) / (W + L)`` and ``coverage = min(1, W / FULL_SCORE)``; when the
loser reaches a quarter of the winner the features are *mixed* (something rewrote
part of the output, or an unknown stack) and the dialect is ``unknown``. Verified on
the real captures in ``tests/data/captures`` (Chromium 156, Firefox 153).

Pure and bounded: the candidate lines and SDP are parsed with the core's bounded
parsers; malformed ones are skipped (``candidate.malformed`` reports them), and no
input raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from icewatch.core.errors import ParseError
from icewatch.core.ice import (
    END_OF_CANDIDATES,
    Candidate,
    CandidateType,
    SessionDescription,
    TcpType,
    Transport,
    parse_ice_line,
    parse_sdp,
)
from icewatch.core.ice.priority import EngineLayout

if TYPE_CHECKING:
    from icewatch.core.correlate import Correlation

__all__ = [
    "COMPATIBLE_ENGINES",
    "CONFIDENT",
    "FULL_SCORE",
    "Dialect",
    "DialectFeature",
    "DialectResult",
    "classify_dialect",
    "classify_parsed",
    "dialect_of",
]

#: Confidence from which a dialect may contradict a claimed browser.
CONFIDENT: Final = 0.8
#: Winning weight at which the coverage factor reaches 1 (one libwebrtc candidate
#: carries 8; one Firefox candidate 7; a full SDP of either about 10).
FULL_SCORE: Final = 8
#: Candidates looked at (a page reports at most a few dozen; the rest adds nothing).
MAX_CANDIDATES: Final = 256


class Dialect(StrEnum):
    LIBWEBRTC = "libwebrtc"
    FIREFOX = "firefox"
    UNKNOWN = "unknown"


#: Engines (``icewatch.core.client.Engine`` values) whose browsers write each dialect.
COMPATIBLE_ENGINES: Final[dict[Dialect, tuple[str, ...]]] = {
    Dialect.LIBWEBRTC: ("blink", "webkit"),
    Dialect.FIREFOX: ("gecko",),
    Dialect.UNKNOWN: (),
}


@dataclass(frozen=True, slots=True)
class DialectFeature:
    """One observed trait: what it is, which dialect it points to and how strongly.

    ``vote`` is :attr:`Dialect.UNKNOWN` (weight 0) for traits that are reported but
    point nowhere (an unusual extension order, mixed transports…)."""

    name: str
    vote: Dialect
    weight: int
    detail: str
    where: str  # "candidates" or "sdp"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vote": self.vote.value,
            "weight": self.weight,
            "detail": self.detail,
            "where": self.where,
        }


@dataclass(frozen=True, slots=True)
class DialectResult:
    """The classification: dialect, confidence (0-1), the vote totals and every feature."""

    dialect: Dialect
    confidence: float
    libwebrtc_score: int
    firefox_score: int
    mixed: bool
    features: tuple[DialectFeature, ...]
    candidates: int  # candidate lines looked at (events and SDP)
    sdp: bool  # whether an SDP was parsed

    @property
    def confident(self) -> bool:
        return self.dialect is not Dialect.UNKNOWN and self.confidence >= CONFIDENT

    @property
    def compatible_engines(self) -> tuple[str, ...]:
        return COMPATIBLE_ENGINES[self.dialect]

    def voting(self, dialect: Dialect | None = None) -> tuple[DialectFeature, ...]:
        """The features that voted (for ``dialect`` only, when given)."""
        return tuple(
            f
            for f in self.features
            if f.vote is not Dialect.UNKNOWN and (dialect is None or f.vote is dialect)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect.value,
            "confidence": self.confidence,
            "confident": self.confident,
            "compatible_engines": list(self.compatible_engines),
            "scores": {"libwebrtc": self.libwebrtc_score, "firefox": self.firefox_score},
            "mixed": self.mixed,
            "candidates": self.candidates,
            "sdp": self.sdp,
            "features": [f.as_dict() for f in self.features],
        }


LIB, FF, NONE = Dialect.LIBWEBRTC, Dialect.FIREFOX, Dialect.UNKNOWN

# libwebrtc writes its extensions in this order, each at most once (api/candidate.cc).
_LIBWEBRTC_EXTENSIONS: Final = ("tcptype", "generation", "ufrag", "network-id", "network-cost")
_LIBWEBRTC_ONLY: Final = frozenset({"generation", "ufrag", "network-id", "network-cost"})
_HEX: Final = frozenset("0123456789abcdef")

# a=max-message-size values each stack offers for its data channel.
_MAX_MESSAGE: Final = {"262144": LIB, "1073741823": FF}
# Payload types each stack gives Opus and VP8 in an offer (public SDP dumps).
_OPUS_PT: Final = {111: LIB, 109: FF}
_VP8_PT: Final = {96: LIB, 120: FF}
# Header extensions one stack offers and the other does not.
_EXTMAP_VOTES: Final = {
    "urn:ietf:params:rtp-hdrext:csrc-audio-level": FF,
    "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type": LIB,
    "http://www.webrtc.org/experiments/rtp-hdrext/video-timing": LIB,
    "http://www.webrtc.org/experiments/rtp-hdrext/color-space": LIB,
}


def _cand(name: str, vote: Dialect, weight: int, detail: str) -> DialectFeature:
    return DialectFeature(name, vote, weight if vote is not NONE else 0, detail, "candidates")


def _sdp(name: str, vote: Dialect, weight: int, detail: str) -> DialectFeature:
    return DialectFeature(name, vote, weight if vote is not NONE else 0, detail, "sdp")


def _in_libwebrtc_order(names: Sequence[str]) -> bool:
    position = -1
    for name in names:
        if name not in _LIBWEBRTC_EXTENSIONS:
            return False
        index = _LIBWEBRTC_EXTENSIONS.index(name)
        if index <= position:
            return False
        position = index
    return True


def _foundation_kind(foundation: str) -> str:
    if not foundation.isdigit() or len(foundation) > 10:
        return "other"
    value = int(foundation)
    if value <= 255:
        return "small"
    if value >= 65536:
        return "large"
    return "other"


def _priority_vote(c: Candidate) -> Dialect:
    """The engine whose priority layout this candidate's priority fits, alone."""
    layout = c.priority_info.engine_layout
    if layout is EngineLayout.FIREFOX:
        return FF
    if layout is EngineLayout.LIBWEBRTC:
        # decode_priority reads a srflx/relay that fits both layouts as libwebrtc; here
        # only an unambiguous fit counts (nICEr: server preference 16..31 in byte 1).
        if c.type in (CandidateType.SRFLX, CandidateType.RELAY):
            type_pref, low = c.priority >> 24, (c.priority >> 8) & 0xFF
            if type_pref in (99, 100, 0, 5) and 16 <= low <= 31:
                return NONE
        return LIB
    return NONE


def _candidate_features(
    candidates: Sequence[Candidate], event_lines: Sequence[Candidate], empty_event: bool
) -> list[DialectFeature]:
    out: list[DialectFeature] = []
    if candidates:
        with_ext = [c for c in candidates if any(n in _LIBWEBRTC_ONLY for n, _ in c.extensions)]
        with_gen = sum(1 for c in candidates if c.generation is not None)
        if with_ext:
            names = sorted({n for c in with_ext for n, _ in c.extensions if n in _LIBWEBRTC_ONLY})
            out.append(
                _cand(
                    "libwebrtc_extensions",
                    LIB,
                    3,
                    f"{len(with_ext)} of {len(candidates)} candidate line(s) carry "
                    f"{', '.join(names)} (only libwebrtc writes these)",
                )
            )
        if with_gen == 0:
            out.append(
                _cand(
                    "no_generation",
                    FF,
                    2,
                    f"none of {len(candidates)} candidate(s) carries 'generation', "
                    "which libwebrtc always writes",
                )
            )
        elif with_gen < len(candidates):
            out.append(
                _cand(
                    "generation_on_some",
                    NONE,
                    0,
                    f"{with_gen} of {len(candidates)} candidate(s) carry 'generation': "
                    "one stack writes it on all or none",
                )
            )
        odd = [c for c in with_ext if not _in_libwebrtc_order([n for n, _ in c.extensions])]
        if odd:
            out.append(
                _cand(
                    "extension_order",
                    NONE,
                    0,
                    f"{len(odd)} candidate(s) carry extensions out of libwebrtc's order or "
                    f"unknown ones, e.g. {' '.join(n for n, _ in odd[0].extensions)[:80]!r}",
                )
            )

        spellings = {c.transport_raw for c in candidates}
        if spellings <= {"udp", "tcp"}:
            out.append(_cand("transport_case", LIB, 2, "transport in lower case (udp/tcp)"))
        elif spellings <= {"UDP", "TCP"}:
            out.append(_cand("transport_case", FF, 2, "transport in upper case (UDP/TCP)"))
        else:
            out.append(
                _cand("transport_case", NONE, 0, f"mixed spellings: {sorted(spellings)[:4]}")
            )

        votes = [_priority_vote(c) for c in candidates]
        lib, ff = votes.count(LIB), votes.count(FF)
        if lib and not ff:
            out.append(
                _cand("priority_layout", LIB, 2, f"{lib} priority(ies) in libwebrtc's layout")
            )
        elif ff and not lib:
            out.append(_cand("priority_layout", FF, 2, f"{ff} priority(ies) in nICEr's layout"))
        elif lib and ff:
            out.append(
                _cand(
                    "priority_layout",
                    NONE,
                    0,
                    f"{lib} priority(ies) in libwebrtc's layout, {ff} in nICEr's",
                )
            )

        kinds = {_foundation_kind(c.foundation) for c in candidates}
        if kinds == {"small"}:
            out.append(_cand("foundation_form", FF, 1, "foundations are small integers"))
        elif kinds == {"large"}:
            out.append(
                _cand("foundation_form", LIB, 1, "foundations are large (CRC32-like) numbers")
            )

    port9 = [
        c
        for c in event_lines
        if c.transport is Transport.TCP
        and c.tcptype is TcpType.ACTIVE
        and c.type is CandidateType.HOST
        and c.port == 9
        and c.generation is None
    ]
    if port9:
        out.append(
            _cand(
                "tcp_active_port9",
                FF,
                1,
                f"{len(port9)} TCP active host candidate(s) on port 9 delivered as events",
            )
        )
    if empty_event:
        out.append(
            _cand(
                "empty_end_of_candidates",
                FF,
                2,
                "an icecandidate event with an empty candidate string ends gathering",
            )
        )
    return out


def _ice_credentials(ufrag: str | None, pwd: str | None) -> DialectFeature | None:
    if ufrag is None or pwd is None:
        return None
    if len(ufrag) == 4 and len(pwd) == 24:
        return _sdp("ice_credentials", LIB, 2, "4-character ice-ufrag, 24-character ice-pwd")
    if len(ufrag) == 8 and len(pwd) == 32 and set(ufrag + pwd) <= _HEX:
        return _sdp("ice_credentials", FF, 2, "8-digit hex ice-ufrag, 32-digit hex ice-pwd")
    return _sdp("ice_credentials", NONE, 0, f"ice-ufrag of {len(ufrag)}, ice-pwd of {len(pwd)}")


def _raw_lines(text: str) -> tuple[list[str], list[str]]:
    """Session-level and media-level ``a=`` lines (the parser does not keep these)."""
    session: list[str] = []
    media: list[str] = []
    target = session
    for line in text.split("\n")[:4096]:
        line = line.removesuffix("\r")
        if line.startswith("m="):
            target = media
        elif line.startswith("a="):
            target.append(line[:256])
    return session, media


def _sdp_features(sdp: SessionDescription, text: str) -> list[DialectFeature]:
    out: list[DialectFeature] = []
    origin = sdp.origin
    if origin is not None:
        if origin.username.startswith("mozilla...THIS_IS_SDPARTA"):
            out.append(_sdp("sdp_origin", FF, 3, f"o={origin.username[:40]} (Mozilla's SDP)"))
        elif (
            origin.username == "-"
            and origin.address == "127.0.0.1"
            and origin.session_id.isdigit()
            and origin.session_version.isdigit()
            and (origin.net_type, origin.addr_type) == ("IN", "IP4")
        ):
            out.append(
                _sdp(
                    "sdp_origin",
                    LIB,
                    3,
                    f"o=- <id> {origin.session_version[:8]} IN IP4 127.0.0.1 (libwebrtc)",
                )
            )
        else:
            out.append(
                _sdp(
                    "sdp_origin",
                    NONE,
                    0,
                    f"unfamiliar o= line: {origin.username[:24]} … {origin.address[:40]}",
                )
            )

    first = sdp.media[0] if sdp.media else None
    ufrag = sdp.ice_ufrag or (first.ice_ufrag if first else None)
    pwd = sdp.ice_pwd or (first.ice_pwd if first else None)
    creds = _ice_credentials(ufrag, pwd)
    if creds is not None:
        out.append(creds)

    media_fp = any(m.fingerprints for m in sdp.media)
    media_opts = any(m.ice_options for m in sdp.media)
    if sdp.fingerprints or sdp.ice_options:
        out.append(
            _sdp(
                "attribute_level",
                FF,
                1,
                "fingerprint / ice-options at session level",
            )
        )
    elif media_fp or media_opts:
        out.append(
            _sdp("attribute_level", LIB, 1, "fingerprint / ice-options in the media section")
        )

    session, media = _raw_lines(text)
    if "a=extmap-allow-mixed" in session:
        out.append(_sdp("extmap_allow_mixed", LIB, 1, "session-level a=extmap-allow-mixed"))
    semantic = next((a for a in session if a.startswith("a=msid-semantic:")), None)
    if semantic is not None:
        if semantic.startswith("a=msid-semantic: WMS"):
            out.append(_sdp("msid_semantic", LIB, 1, repr(semantic[:40])))
        elif semantic.startswith("a=msid-semantic:WMS *"):
            out.append(_sdp("msid_semantic", FF, 1, repr(semantic[:40])))
    if "a=sendrecv" in session:
        out.append(_sdp("session_sendrecv", FF, 1, "session-level a=sendrecv"))
    sizes = {a.partition(":")[2] for a in media if a.startswith("a=max-message-size:")}
    for size in sorted(sizes)[:2]:
        vote = _MAX_MESSAGE.get(size, NONE)
        out.append(_sdp("max_message_size", vote, 1, f"a=max-message-size:{size[:16]}"))
    if sdp.end_of_candidates or any(m.end_of_candidates for m in sdp.media):
        out.append(_sdp("sdp_end_of_candidates", FF, 1, "a=end-of-candidates in the SDP"))

    codec_votes: list[tuple[Dialect, str]] = []
    for m in sdp.media:
        for codec in m.codecs:
            name = (codec.name or "").lower()
            table = _OPUS_PT if name == "opus" else _VP8_PT if name == "vp8" else None
            if table is not None and codec.payload_type in table:
                codec_votes.append((table[codec.payload_type], f"{name} {codec.payload_type}"))
    if codec_votes:
        sides = {v for v, _ in codec_votes}
        detail = "payload types " + ", ".join(d for _, d in codec_votes[:4])
        out.append(_sdp("codec_payload_types", sides.pop() if len(sides) == 1 else NONE, 2, detail))
    ext_votes = {
        e.uri: _EXTMAP_VOTES[e.uri] for m in sdp.media for e in m.extmaps if e.uri in _EXTMAP_VOTES
    }
    if ext_votes:
        sides = set(ext_votes.values())
        out.append(
            _sdp(
                "extmaps",
                sides.pop() if len(sides) == 1 else NONE,
                1,
                "header extensions " + ", ".join(sorted(ext_votes)[:3]),
            )
        )
    return out


def _tally(features: list[DialectFeature], candidates: int, sdp: bool) -> DialectResult:
    lib = sum(f.weight for f in features if f.vote is LIB)
    ff = sum(f.weight for f in features if f.vote is FF)
    winner, high, low = (LIB, lib, ff) if lib >= ff else (FF, ff, lib)
    mixed = low > 0 and low * 4 >= high
    if high == 0 or mixed:
        dialect, confidence = NONE, 0.0
    else:
        dialect = winner
        confidence = round((high - low) / (high + low) * min(1.0, high / FULL_SCORE), 2)
    return DialectResult(
        dialect=dialect,
        confidence=confidence,
        libwebrtc_score=lib,
        firefox_score=ff,
        mixed=mixed,
        features=tuple(features),
        candidates=candidates,
        sdp=sdp,
    )


def classify_parsed(
    events: Sequence[Candidate],
    sdp: SessionDescription | None,
    sdp_text: str | None,
    *,
    empty_event: bool = False,
) -> DialectResult:
    """Classify already-parsed input: the candidates of the ``icecandidate`` events,
    the parsed SDP and its text, and whether an empty-string event was seen."""
    events = list(events[:MAX_CANDIDATES])
    sdp_candidates = list(sdp.all_candidates()[:MAX_CANDIDATES]) if sdp is not None else []
    candidates = events + sdp_candidates
    features = _candidate_features(candidates, events, empty_event)
    if sdp is not None and isinstance(sdp_text, str):
        features += _sdp_features(sdp, sdp_text)
    return _tally(features, len(candidates), sdp is not None)


def classify_dialect(lines: Iterable[str], sdp_text: str | None = None) -> DialectResult:
    """Classify candidate lines as the ``icecandidate`` events gave them (``""`` is the
    end-of-candidates event) and the SDP text. Never raises."""
    events: list[Candidate] = []
    empty = False
    for i, line in enumerate(lines):
        if i >= MAX_CANDIDATES:
            break
        try:
            parsed = parse_ice_line(line)
        except ParseError:
            continue
        if parsed is END_OF_CANDIDATES:
            empty = empty or line == ""
        elif isinstance(parsed, Candidate):
            events.append(parsed)
    sdp: SessionDescription | None = None
    if isinstance(sdp_text, str) and sdp_text:
        try:
            sdp = parse_sdp(sdp_text)
        except ParseError:
            sdp = None
    return classify_parsed(events, sdp, sdp_text, empty_event=empty)


def dialect_of(correlation: Correlation) -> DialectResult | None:
    """The dialect of a correlated session's report (``None`` before any report)."""
    report = correlation.report
    if report is None:
        return None
    return classify_parsed(
        [e.candidate for e in correlation.candidates],
        correlation.sdp,
        report.sdp,
        empty_event=any(rc.candidate == "" for rc in report.candidates),
    )
