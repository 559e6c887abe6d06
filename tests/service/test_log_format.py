"""JSON logs: one object a line, with the request id the answer's ``X-Request-Id`` names."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import httpx
import pytest

from icewatch.service.logformat import JsonFormatter
from icewatch.service.runner import configure_logging

from .proc import kill_quietly, start


def test_json_lines_carry_the_request_and_session_ids(tmp_path: Path) -> None:
    served = start(tmp_path, "--log-format", "json", "--access-log")
    try:
        answer = httpx.post(f"{served.base}/api/v1/sessions", timeout=5)
        assert answer.status_code == 201
        request_id = answer.headers["x-request-id"]
        session_id = answer.json()["id"]
        got = httpx.get(
            f"{served.base}/api/v1/sessions/{session_id}",
            headers={"Authorization": f"Bearer {answer.json()['token']}"},
            timeout=5,
        )
        other_id = got.headers["x-request-id"]
        assert other_id != request_id
    finally:
        _, _, err = served.stop()
        kill_quietly(served)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
    created = [line for line in lines if line.get("request_id") == request_id]
    assert created, lines
    assert any("/api/v1/sessions" in line["message"] for line in created)
    fetched = [line for line in lines if line.get("request_id") == other_id]
    assert fetched, lines
    assert all(line["session_id"] == session_id for line in fetched)


def test_text_stays_the_default_and_exceptions_are_kept() -> None:
    stream = io.StringIO()
    try:
        configure_logging("info", stream, "json")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("icewatch.test").exception("failed %s", "here")
        line = json.loads(stream.getvalue())
        assert line["level"] == "error"
        assert line["logger"] == "icewatch.test"
        assert line["message"] == "failed here"
        assert "ValueError: boom" in line["exception"]
        assert "request_id" not in line  # outside any request
        assert isinstance(logging.getLogger().handlers[0].formatter, JsonFormatter)
        text = io.StringIO()
        configure_logging("info", text)
        logging.getLogger("icewatch.test").info("plain")
        assert text.getvalue().rstrip().endswith("INFO icewatch.test: plain")
    finally:
        configure_logging("warning")


@pytest.mark.parametrize("value", ["text", "json"])
def test_log_format_is_a_setting(value: str) -> None:
    from icewatch.service.settings import load_settings

    assert load_settings(cli={"log_format": value}, env={}).log_format == value


def test_the_webrtc_stack_s_chatter_shows_only_at_debug() -> None:
    """aioice logs every candidate pair's state change at INFO (about a dozen lines per
    test connection): below ``debug`` only its warnings reach the log — a server logging
    to a pipe nobody drains fast enough must not stall on them."""
    try:
        for level, shown in (("info", False), ("debug", True)):
            stream = io.StringIO()
            configure_logging(level, stream)
            logging.getLogger("aioice.ice").info("Check CandidatePair FROZEN -> WAITING")
            logging.getLogger("aiortc.rtcpeerconnection").info("connectionState new")
            logging.getLogger("aioice.ice").warning("a real problem")
            logging.getLogger("icewatch.peer").info("ours")
            text = stream.getvalue()
            assert ("FROZEN -> WAITING" in text) is shown
            assert ("connectionState new" in text) is shown
            assert "a real problem" in text
            assert "ours" in text
    finally:
        configure_logging("warning")
