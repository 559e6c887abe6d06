"""The rate-limit settings: ``30/minute``-style values, ``off``, their defaults and
sources, the wiring into the web adapter, and a real ``icewatch serve`` answering 429."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from icewatch.service.rate import Rate, show_rate
from icewatch.service.runner import web_settings
from icewatch.service.settings import SettingsError, load_settings

from .proc import API_KEY, kill_quietly, start


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30/minute", (30, 60.0)),
        ("30/min", (30, 60.0)),
        ("5/10s", (5, 10.0)),
        (" 100 / hour ", (100, 3600.0)),
        ("2/5m", (2, 300.0)),
        ("1000/day", (1000, 86400.0)),
        ("off", ()),
        ("OFF", ()),
    ],
)
def test_rates_are_read(text: str, value: tuple[int, float] | tuple[()]) -> None:
    assert Rate().from_text(text) == value


@pytest.mark.parametrize(
    "text", ["", "30", "30/fortnight", "0/minute", "-1/minute", "5/0s", "5/2d", "x/minute"]
)
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"rate|requests|period"):
        Rate().from_text(text)


def test_rates_are_shown_as_written() -> None:
    assert show_rate((30, 60.0)) == "30/minute"
    assert show_rate((5, 10.0)) == "5/10s"
    assert show_rate(()) == "off"
    assert Rate().from_toml(False) == ()
    with pytest.raises(ValueError, match="expected a rate"):
        Rate().from_toml(30)


def test_defaults_sources_and_wiring(tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert settings.rate_limit_sessions == (120, 60.0)
    assert settings.rate_limit_login == (10, 60.0)
    web = web_settings(settings)
    assert web.rate_limit_sessions == (120, 60.0)
    assert web.rate_limit_login == (10, 60.0)
    rows = {name: (shown, source) for name, shown, source in settings.effective()}
    assert rows["rate_limit_sessions"] == ("120/minute", "default")

    config = tmp_path / "icewatch.toml"
    config.write_text('rate_limit_sessions = "off"\nrate_limit_login = "3/10s"\n')
    settings = load_settings(cli={"config": str(config)}, env={})
    assert settings.rate_limit_sessions == ()
    assert web_settings(settings).rate_limit_sessions is None
    assert web_settings(settings).rate_limit_login == (3, 10.0)
    rows = {name: (shown, source) for name, shown, source in settings.effective()}
    assert rows["rate_limit_sessions"] == ("off", f"config {config}")

    settings = load_settings(
        cli={"rate_limit_login": "off"}, env={"ICEWATCH_RATE_LIMIT_SESSIONS": "7/minute"}
    )
    assert settings.rate_limit_sessions == (7, 60.0)
    assert settings.rate_limit_login == ()
    with pytest.raises(SettingsError, match="ICEWATCH_RATE_LIMIT_LOGIN"):
        load_settings(env={"ICEWATCH_RATE_LIMIT_LOGIN": "lots"})


def test_serve_answers_429_past_the_limit(tmp_path: Path) -> None:
    served = start(tmp_path, "--rate-limit-sessions", "2/minute", "--rate-limit-login", "1/hour")
    try:
        with httpx.Client(base_url=served.base, timeout=5) as http:
            assert [http.post("/api/v1/sessions").status_code for _ in range(3)] == [
                201,
                201,
                429,
            ]
            refused = http.post("/api/v1/sessions")
            assert refused.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 30
            wrong = {"X-API-Key": "wrong-key-0123456789"}
            assert http.get("/api/v1/sessions", headers=wrong).status_code == 401
            assert http.get("/api/v1/sessions", headers=wrong).status_code == 429
            metrics = http.get("/metrics", headers={"X-API-Key": API_KEY})
            # The right key is refused too while this address is locked out...
            assert metrics.status_code == 429
        code, _, err = served.stop()
        assert code == 0, err
    finally:
        kill_quietly(served)
