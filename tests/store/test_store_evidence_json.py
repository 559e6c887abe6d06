"""The stored JSON form of evidence and verdicts: complete, round-tripping, tolerant."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icewatch.core.errors import ParseError
from icewatch.core.evidence import (
    CandidateErrorReport,
    HttpSighting,
    PageReport,
    ReportedCandidate,
    SessionEvidence,
    WebRtcStatus,
    http_sighting_from_dict,
    page_report_from_dict,
    session_evidence_from_dict,
)
from icewatch.core.verdict import Level, Verdict, verdict_from_dict

from .samples import full_session, http, ip, observations, report, verdict


def _through_json(value: dict[str, Any]) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


@pytest.mark.parametrize(
    "value",
    [
        report().candidates[1],
        report().candidate_errors[0],
        report(),
        http(),
        observations("s")[1],
        full_session("s"),
        verdict(),
        verdict().signals[0],
    ],
    ids=lambda v: type(v).__name__,
)
def test_as_dict_names_every_field(value: Any) -> None:
    # A field added to an evidence class must be added to its stored form too, or it
    # would silently vanish in the store.
    names = {f.name for f in dataclasses.fields(value)}
    assert names <= set(value.as_dict()), names - set(value.as_dict())


def test_full_session_round_trips_through_json() -> None:
    session = full_session("s1")
    assert session_evidence_from_dict(_through_json(session.as_dict())) == session
    assert verdict_from_dict(_through_json(verdict().as_dict())) == verdict()


def test_readers_fill_missing_optional_keys_with_defaults() -> None:
    assert http_sighting_from_dict({"peer_ip": "192.0.2.1", "at": 1}) == HttpSighting(
        ip("192.0.2.1"), ip("192.0.2.1"), 1.0
    )
    assert page_report_from_dict({"webrtc": "missing"}) == PageReport(WebRtcStatus.MISSING)
    assert page_report_from_dict(
        {"webrtc": "ok", "candidates": [{"candidate": "x"}], "candidate_errors": [{}]}
    ) == PageReport(
        WebRtcStatus.OK,
        candidates=(ReportedCandidate("x"),),
        candidate_errors=(CandidateErrorReport(),),
    )
    minimal = {"session_id": "s", "created_at": 2, "http": {"peer_ip": "::1", "at": 2}}
    assert session_evidence_from_dict(minimal) == SessionEvidence(
        "s", 2.0, HttpSighting(ip("::1"), ip("::1"), 2.0)
    )
    assert verdict_from_dict({"score": 0, "level": "low"}) == Verdict(0, Level.LOW)


def test_readers_ignore_unknown_keys() -> None:
    stored = full_session("s").as_dict()
    stored["from_the_future"] = {"x": 1}
    stored["http"]["new_field"] = 3
    stored["report"]["candidates"][0]["extra"] = True
    assert session_evidence_from_dict(stored) == full_session("s")


def test_name_value_pairs_read_from_objects_and_lists() -> None:
    as_object = {"peer_ip": "192.0.2.1", "at": 1, "headers": {"a": "1", "b": "2"}}
    as_list = {"peer_ip": "192.0.2.1", "at": 1, "headers": [["a", "1"], ["b", "2"]]}
    assert http_sighting_from_dict(as_object) == http_sighting_from_dict(as_list)
    assert http_sighting_from_dict(as_list).headers == (("a", "1"), ("b", "2"))


@pytest.mark.parametrize(
    ("reader", "data"),
    [
        (http_sighting_from_dict, {}),
        (http_sighting_from_dict, {"peer_ip": "nope", "at": 1}),
        (http_sighting_from_dict, {"peer_ip": "::1", "at": "soon"}),
        (http_sighting_from_dict, {"peer_ip": "::1", "at": 1, "forwarded_for": 5}),
        (page_report_from_dict, {"webrtc": "maybe"}),
        (page_report_from_dict, {"webrtc": "ok", "candidates": "x"}),
        (page_report_from_dict, {"webrtc": "ok", "candidates": [{"ms": "fast"}]}),
        (page_report_from_dict, {"webrtc": "ok", "sdp": 5}),
        (session_evidence_from_dict, {"session_id": "s"}),
        (session_evidence_from_dict, {"session_id": "s", "created_at": 1, "http": []}),
        (verdict_from_dict, {"score": "high", "level": "low"}),
        (verdict_from_dict, {"score": 1, "level": "extreme"}),
        (verdict_from_dict, {"score": 1, "level": "low", "signals": [{"code": "x"}]}),
        (verdict_from_dict, {"score": True, "level": "low"}),
    ],
)
def test_unreadable_input_is_a_parse_error(reader: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        reader(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_session_like = st.fixed_dictionaries(
    {},
    optional={
        "session_id": _json,
        "created_at": _json,
        "http": st.fixed_dictionaries(
            {},
            optional={"peer_ip": st.sampled_from(["::1", "x", 5]), "at": _json, "headers": _json},
        ),
        "report": st.fixed_dictionaries(
            {},
            optional={
                "webrtc": st.sampled_from(["ok", "no"]),
                "candidates": _json,
                "ua_hints": _json,
            },
        ),
        "observations": _json,
    },
)


@given(_session_like)
def test_any_json_reads_as_evidence_or_parse_error(data: dict[str, Any]) -> None:
    with contextlib.suppress(ParseError):
        session_evidence_from_dict(data)


@given(_json)
def test_any_json_reads_as_verdict_or_parse_error(data: Any) -> None:
    with contextlib.suppress(ParseError):
        verdict_from_dict(
            data if isinstance(data, dict) else {"score": 1, "level": "low", "signals": data}
        )
