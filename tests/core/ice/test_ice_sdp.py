"""parse_sdp: fields per level, malformed candidates kept as evidence, bounds."""

from __future__ import annotations

import pytest
from tests.conftest import DATA

from icewatch.core.addr import parse_ip
from icewatch.core.errors import SdpParseError
from icewatch.core.ice import (
    MAX_SDP_LINE_LENGTH,
    MAX_SDP_LINES,
    MAX_SDP_SIZE,
    Codec,
    Extmap,
    Fingerprint,
    SessionDescription,
    parse_sdp,
)

AV_OFFER = (DATA / "ice" / "chromium-av-offer.sdp").read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def offer() -> SessionDescription:
    return parse_sdp(AV_OFFER)


def test_crlf_file(offer: SessionDescription) -> None:
    assert "\r\n" in AV_OFFER
    assert offer.line_count == AV_OFFER.count("\n")
    assert parse_sdp(AV_OFFER.replace("\r\n", "\n")) == offer


def test_session_level(offer: SessionDescription) -> None:
    assert offer.version == 0
    assert offer.origin is not None
    assert offer.origin.username == "-"
    assert offer.origin.session_id == "4611731400430051336"
    assert offer.origin.session_version == "2"
    assert offer.origin.address == "127.0.0.1"
    assert offer.session_name == "-"
    assert offer.groups == ("BUNDLE 0 1",)
    assert offer.connection is None
    assert len(offer.media) == 2


def test_audio_section(offer: SessionDescription) -> None:
    audio = offer.media[0]
    assert (audio.media, audio.port, audio.proto) == ("audio", 54321, "UDP/TLS/RTP/SAVPF")
    assert audio.formats == ("111", "63", "9", "0", "8", "13", "110", "126")
    assert audio.connection is not None
    assert audio.connection.address == parse_ip("203.0.113.7")
    assert audio.rtcp is not None
    assert audio.rtcp.port == 9
    assert audio.rtcp.address == parse_ip("0.0.0.0")
    assert audio.mid == "0"
    assert audio.ice_ufrag == "EsAw"
    assert audio.ice_pwd == "P+fq1ZK0Gs2bY2NQfKJ3aRvq"
    assert audio.ice_options == ("trickle",)
    assert audio.setup == "actpass"
    assert audio.fingerprints[0].hash_function == "sha-256"
    assert audio.fingerprints[0].value.startswith("3F:8A")
    assert audio.end_of_candidates
    assert [c.type.value for c in audio.candidates] == ["host", "srflx"]
    assert audio.candidates[0].raw.startswith("candidate:3004553226 ")
    assert audio.codecs[0] == Codec(
        111, "opus", 48000, 2, "minptime=10;useinbandfec=1", ("transport-cc",)
    )
    assert [c.name for c in audio.codecs] == [
        "opus", "red", "G722", "PCMU", "PCMA", "CN", "telephone-event", "telephone-event",
    ]  # fmt: skip
    assert audio.extmaps == (
        Extmap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        Extmap(2, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
        Extmap(4, "urn:ietf:params:rtp-hdrext:sdes:mid", direction="sendonly"),
    )


def test_malformed_candidate_is_kept_as_evidence(offer: SessionDescription) -> None:
    audio = offer.media[0]
    assert len(audio.candidate_errors) == 1
    err = audio.candidate_errors[0]
    assert err.field == "connection-address"
    assert "UUIDv4" in err.reason
    assert err.raw.startswith("a=candidate:1 1 udp 2113937151 not-a-uuid.local")
    assert err.line_number == 13
    assert offer.all_candidate_errors() == (err,)
    assert len(offer.all_candidates()) == 2


def test_video_section_and_problems(offer: SessionDescription) -> None:
    video = offer.media[1]
    assert video.port == 9
    assert video.fingerprints == (Fingerprint("sha-256", video.fingerprints[0].value),)
    assert video.codecs[0].rtcp_fb == ("goog-remb", "nack", "nack pli")
    assert video.codecs[1] == Codec(97, "rtx", 90000, None, "apt=96", ())
    assert not video.end_of_candidates
    assert [(p.field, p.raw) for p in offer.problems] == [("rtpmap", "a=rtpmap:x broken")]


def test_as_dict_is_json_ready(offer: SessionDescription) -> None:
    import json

    doc = json.loads(json.dumps(offer.as_dict()))
    assert list(doc) == [
        "version", "origin", "session_name", "connection", "ice_ufrag", "ice_pwd",
        "ice_options", "fingerprints", "setup", "groups", "candidates", "candidate_errors",
        "end_of_candidates", "media", "problems", "line_count",
    ]  # fmt: skip
    audio = doc["media"][0]
    assert audio["candidates"][1]["type"] == "srflx"
    assert audio["candidate_errors"][0]["field"] == "connection-address"
    assert audio["codecs"][0]["name"] == "opus"
    assert audio["rtcp"] == {"port": 9, "net_type": "IN", "addr_type": "IP4", "address": "0.0.0.0"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "sdp"),
        ("\n", "v"),
        ("o=- 1 1 IN IP4 0.0.0.0\nv=0\n", "v"),
        ("v=1\n", "v"),
        ("v=0 \n", "v"),
        ("hello", "v"),
    ],
)
def test_not_an_sdp(text: str, field: str) -> None:
    with pytest.raises(SdpParseError) as info:
        parse_sdp(text)
    assert info.value.field == field


def test_bounds() -> None:
    with pytest.raises(SdpParseError, match="larger"):
        parse_sdp("v=0\n" + "a=x\n" * (MAX_SDP_SIZE // 4))
    with pytest.raises(SdpParseError, match="lines"):
        parse_sdp("v=0\n" + "\n" * MAX_SDP_LINES)
    with pytest.raises(SdpParseError) as info:
        parse_sdp("v=0\na=" + "x" * MAX_SDP_LINE_LENGTH + "\n")
    assert info.value.field == "line 2"
    with pytest.raises(SdpParseError):
        parse_sdp(None)  # type: ignore[arg-type]


def test_odd_lines_become_problems_not_errors() -> None:
    desc = parse_sdp(
        "v=0\nthis is not sdp\nm=audio x RTP/AVP 0\nc=IN IP4\no=short\nv=0\n"
        "m=video 9/2 RTP/AVP 96\na=extmap:x uri\na=rtcp:99999\na=fingerprint:sha-1\n"
        "a=candidate:0 1 udp 1 10.0.0.1 1 typ host\n"
    )
    assert [p.field for p in desc.problems] == [
        "line", "m", "c", "o", "v", "extmap", "rtcp", "fingerprint",
    ]  # fmt: skip
    assert len(desc.media) == 1
    assert desc.media[0].port_count == 2
    assert len(desc.media[0].candidates) == 1


def test_session_level_candidates_and_end_of_candidates() -> None:
    desc = parse_sdp(
        "v=0\na=candidate:0 1 udp 1 10.0.0.1 1 typ host\na=candidate:bad\na=end-of-candidates\n"
    )
    assert len(desc.candidates) == 1
    assert desc.candidate_errors[0].field == "component"
    assert desc.end_of_candidates
    assert desc.media == ()
