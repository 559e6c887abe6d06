"""The report's test-connection and HTTP-RTT fields: bounded, validated, stored whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from icewatch.core.errors import ParseError
from icewatch.core.evidence import ConnectionReport, page_report_from_dict
from icewatch.web.models import MAX_RTT_SAMPLES, ReportIn, to_page_report

GOOD: dict[str, Any] = {
    "webrtc": "ok",
    "connection": {
        "attempted": True,
        "state": "connected",
        "answer_ms": 120.5,
        "open_ms": 180.0,
        "rtts_ms": [1.5, 2.0, 1.25],
        "error": None,
        "server_error": None,
    },
    "http_rtts_ms": [3.0, 4.5, 2.5],
}


def test_connection_round_trips_through_the_store_form() -> None:
    report = to_page_report(ReportIn.model_validate(GOOD))
    assert report.connection == ConnectionReport(
        attempted=True, state="connected", answer_ms=120.5, open_ms=180.0, rtts_ms=(1.5, 2.0, 1.25)
    )
    assert report.http_rtts_ms == (3.0, 4.5, 2.5)
    assert page_report_from_dict(json.loads(json.dumps(report.as_dict()))) == report


def test_old_reports_without_the_fields_still_read() -> None:
    report = page_report_from_dict({"webrtc": "ok"})
    assert report.connection is None
    assert report.http_rtts_ms == ()
    assert page_report_from_dict({"webrtc": "ok", "connection": {}}).connection == (
        ConnectionReport()
    )


@pytest.mark.parametrize(
    "patch",
    [
        {"http_rtts_ms": [1.0] * (MAX_RTT_SAMPLES + 1)},
        {"http_rtts_ms": [-1.0]},
        {"http_rtts_ms": ["1"]},
        {"connection": {"rtts_ms": [1.0] * (MAX_RTT_SAMPLES + 1)}},
        {"connection": {"state": "sideways"}},
        {"connection": {"rtts_ms": [1e9]}},
        {"connection": {"extra": 1}},
        {"connection": {"error": "x" * 300}},
    ],
)
def test_bad_connection_fields_are_refused(patch: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ReportIn.model_validate({"webrtc": "ok", **patch})


def test_a_stored_connection_of_the_wrong_shape_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        page_report_from_dict({"webrtc": "ok", "connection": [1]})
    with pytest.raises(ParseError):
        page_report_from_dict({"webrtc": "ok", "http_rtts_ms": ["x"]})
