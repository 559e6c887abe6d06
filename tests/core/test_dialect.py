"""The WebRTC dialect classifier, on the real captures and on hand-made edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.core.scoring.capture_evidence import CAPTURES, evidence, load

from icewatch.core.correlate import correlate
from icewatch.core.dialect import (
    CONFIDENT,
    Dialect,
    DialectResult,
    classify_dialect,
    dialect_of,
)

EXPECTED = {"chromium": Dialect.LIBWEBRTC, "firefox": Dialect.FIREFOX}


def lines(doc: dict[str, Any]) -> list[str]:
    return [c["candidate"] for c in doc["candidates"] if "candidate" in c]


def names(result: DialectResult, dialect: Dialect | None = None) -> set[str]:
    return {f.name for f in result.voting(dialect)}


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_capture_is_its_own_dialect_with_full_confidence(path: Any) -> None:
    doc = load(path)
    result = classify_dialect(lines(doc), doc["sdp"])
    assert result.dialect is EXPECTED[doc["browser"]]
    assert result.confidence == 1.0
    assert result.confident
    assert not result.mixed
    # Nothing in a real browser's output votes for the other stack.
    other = Dialect.FIREFOX if result.dialect is Dialect.LIBWEBRTC else Dialect.LIBWEBRTC
    assert result.voting(other) == ()
    assert result.firefox_score == 0 or result.libwebrtc_score == 0
    # Both halves of the evidence agree on their own.
    assert {f.where for f in result.voting()} == {"candidates", "sdp"}
    assert result.candidates > 0
    assert result.sdp


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_events_alone_and_sdp_alone_are_each_confident(path: Any) -> None:
    doc = load(path)
    expected = EXPECTED[doc["browser"]]
    events_only = classify_dialect(lines(doc), None)
    sdp_only = classify_dialect([], doc["sdp"])
    for result in (events_only, sdp_only):
        assert result.dialect is expected
        assert result.confidence >= CONFIDENT, result.as_dict()
    assert not events_only.sdp
    assert sdp_only.candidates == len(doc["sdp"].split("a=candidate:")) - 1


def test_the_features_that_tell_each_stack() -> None:
    chromium = load("chromium-156-default")
    firefox = load("firefox-153-default")
    c = classify_dialect(lines(chromium), chromium["sdp"])
    f = classify_dialect(lines(firefox), firefox["sdp"])
    assert names(c, Dialect.LIBWEBRTC) >= {
        "libwebrtc_extensions",
        "transport_case",
        "priority_layout",
        "foundation_form",
        "sdp_origin",
        "ice_credentials",
        "msid_semantic",
        "extmap_allow_mixed",
        "max_message_size",
        "attribute_level",
    }
    assert names(f, Dialect.FIREFOX) >= {
        "no_generation",
        "transport_case",
        "priority_layout",
        "foundation_form",
        "tcp_active_port9",
        "empty_end_of_candidates",
        "sdp_origin",
        "ice_credentials",
        "msid_semantic",
        "session_sendrecv",
        "max_message_size",
        "sdp_end_of_candidates",
        "attribute_level",
    }


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_dialect_of_a_correlation_equals_the_raw_classification(path: Any) -> None:
    doc = load(path)
    from_correlation = dialect_of(correlate(evidence(doc)))
    assert from_correlation == classify_dialect(lines(doc), doc["sdp"])


def test_no_report_no_dialect_and_nothing_is_unknown() -> None:
    ev = evidence("chromium-156-default")
    from dataclasses import replace

    assert dialect_of(correlate(replace(ev, report=None))) is None
    empty = classify_dialect([], None)
    assert empty.dialect is Dialect.UNKNOWN
    assert empty.confidence == 0.0
    assert not empty.confident
    assert empty.features == ()
    assert empty.as_dict()["compatible_engines"] == []


# -- single candidates: how far one line goes ------------------------------------------

CHROMIUM_HOST = (
    "candidate:3293744521 1 udp 2113937151 ef79e8da-b0a1-438c-af0c-7cb2dc123d3c.local "
    "54066 typ host generation 0 ufrag ydtL network-cost 999"
)
CHROMIUM_SRFLX = (
    "candidate:2744826728 1 udp 1677729535 10.77.1.2 54066 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag ydtL network-cost 999"
)
FIREFOX_HOST = (
    "candidate:0 1 UDP 2122187007 7c2d3afb-87b2-4a4e-95ff-9380ef700914.local 39961 typ host"
)


def test_one_chromium_host_candidate_is_enough() -> None:
    result = classify_dialect([CHROMIUM_HOST])
    assert result.dialect is Dialect.LIBWEBRTC
    assert result.confidence == 1.0


def test_one_chromium_srflx_is_libwebrtc_but_not_confident() -> None:
    # A srflx priority fits both stacks' layouts, so it does not vote: one such line
    # alone is not enough to contradict anybody.
    result = classify_dialect([CHROMIUM_SRFLX])
    assert result.dialect is Dialect.LIBWEBRTC
    assert 0.5 < result.confidence < CONFIDENT
    assert "priority_layout" not in names(result)


def test_one_firefox_host_candidate_is_enough() -> None:
    result = classify_dialect([FIREFOX_HOST])
    assert result.dialect is Dialect.FIREFOX
    assert result.confidence >= CONFIDENT


def test_mixed_features_give_unknown() -> None:
    chromium = load("chromium-156-default")
    firefox = load("firefox-153-default")
    # Chromium's candidates pasted into Firefox's SDP: a rewritten report.
    result = classify_dialect(lines(chromium), firefox["sdp"])
    assert result.dialect is Dialect.UNKNOWN
    assert result.mixed
    assert result.confidence == 0.0
    assert result.libwebrtc_score > 0
    assert result.firefox_score > 0
    # A libwebrtc line with Firefox's spelling: votes on both sides, none decisive.
    hybrid = CHROMIUM_HOST.replace(" udp ", " UDP ")
    assert not classify_dialect([hybrid, FIREFOX_HOST]).confident


def test_other_stacks_are_not_mistaken_for_a_browser() -> None:
    # aiortc/aioice style: lower-case udp, no generation, hex foundation.
    aioice = "candidate:4d3a0f7c8fa21b9e1e4c 1 udp 2130706431 10.0.0.5 50000 typ host"
    result = classify_dialect([aioice])
    assert not result.confident
    # libnice (GStreamer webrtcbin): UDP upper case, no generation, its own priorities.
    libnice = "candidate:1 1 UDP 2015363327 10.0.0.5 50000 typ host"
    assert not classify_dialect([libnice]).confident


def test_unusual_extension_order_is_reported_without_a_vote() -> None:
    reordered = (
        "candidate:3293744521 1 udp 2113937151 10.0.0.2 54066 typ host "
        "network-cost 999 generation 0"
    )
    result = classify_dialect([reordered])
    odd = [f for f in result.features if f.name == "extension_order"]
    assert odd
    assert odd[0].vote is Dialect.UNKNOWN
    assert odd[0].weight == 0


def test_generation_on_some_candidates_only_is_reported() -> None:
    result = classify_dialect([CHROMIUM_HOST, CHROMIUM_HOST.replace(" generation 0", "")])
    assert "generation_on_some" in {f.name for f in result.features}


def test_firefox_tcp_on_port_9_counts_only_without_libwebrtc_extensions() -> None:
    ff = "candidate:5 1 TCP 2105458943 10.0.0.2 9 typ host tcptype active"
    # Older Chromium delivered TCP active candidates on port 9 too, with its extensions.
    old_chromium = (
        "candidate:3098175849 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active "
        "generation 0 network-id 1 network-cost 10"
    )
    assert "tcp_active_port9" in names(classify_dialect([ff]), Dialect.FIREFOX)
    result = classify_dialect([old_chromium])
    assert "tcp_active_port9" not in names(result)
    assert result.dialect is Dialect.LIBWEBRTC


MEDIA_SDP = (
    "v=0\r\no={origin}\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF {opus} 0\r\nc=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:{opus} opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n{audio_ext}"
    "m=video 9 UDP/TLS/RTP/SAVPF {vp8}\r\nc=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:{vp8} VP8/90000\r\n{video_ext}"
)


def test_codec_payload_types_and_header_extensions_vote() -> None:
    chrome_like = MEDIA_SDP.format(
        origin="- 4611731400430051336 2 IN IP4 127.0.0.1",
        opus=111,
        vp8=96,
        audio_ext="",
        video_ext="a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n",
    )
    firefox_like = MEDIA_SDP.format(
        origin="mozilla...THIS_IS_SDPARTA-99.0 6311277528452553940 0 IN IP4 0.0.0.0",
        opus=109,
        vp8=120,
        audio_ext="a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n",
        video_ext="",
    )
    c = classify_dialect([], chrome_like)
    f = classify_dialect([], firefox_like)
    assert {"codec_payload_types", "extmaps", "sdp_origin"} <= names(c, Dialect.LIBWEBRTC)
    assert {"codec_payload_types", "extmaps", "sdp_origin"} <= names(f, Dialect.FIREFOX)
    assert c.dialect is Dialect.LIBWEBRTC
    assert f.dialect is Dialect.FIREFOX
    # Codecs that disagree vote for neither.
    crossed = MEDIA_SDP.format(
        origin="- 1 2 IN IP4 0.0.0.0", opus=111, vp8=120, audio_ext="", video_ext=""
    )
    codecs = next(
        x for x in classify_dialect([], crossed).features if x.name == "codec_payload_types"
    )
    assert codecs.vote is Dialect.UNKNOWN


def test_an_sdp_that_is_not_one_only_loses_the_sdp_features() -> None:
    result = classify_dialect([CHROMIUM_HOST], "not an sdp")
    assert not result.sdp
    assert result.dialect is Dialect.LIBWEBRTC


def test_result_is_json_ready() -> None:
    import json

    doc = load("firefox-153-nat")
    data = classify_dialect(lines(doc), doc["sdp"]).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["dialect"] == "firefox"
    assert data["compatible_engines"] == ["gecko"]
    assert data["scores"] == {"libwebrtc": 0, "firefox": data["scores"]["firefox"]}
    assert all(f["where"] in ("candidates", "sdp") for f in data["features"])


_CAPTURE_LINES = [line for p in CAPTURES for line in lines(load(p))]
_SDP_LINES = [line for p in CAPTURES for line in load(p)["sdp"].split("\r\n")]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_CAPTURE_LINES), st.text(max_size=200), st.just("")),
        max_size=12,
    ),
    st.one_of(
        st.none(),
        st.text(max_size=400),
        st.lists(st.one_of(st.sampled_from(_SDP_LINES), st.text(max_size=60)), max_size=30).map(
            lambda ls: "v=0\r\n" + "\r\n".join(ls)
        ),
    ),
)
def test_never_raises_and_stays_in_range(lines_: list[str], sdp: str | None) -> None:
    result = classify_dialect(lines_, sdp)
    assert 0.0 <= result.confidence <= 1.0
    assert (result.dialect is Dialect.UNKNOWN) == (result.confidence == 0.0)
    assert result.libwebrtc_score >= 0
    assert result.firefox_score >= 0
    if result.confident:
        assert not result.mixed
