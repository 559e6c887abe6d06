"""The settings table: precedence (flag > env > config file > default), sources, validation
with one clear message naming the culprit, and the generated docs staying in sync."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from icewatch.service.docs import render_docs
from icewatch.service.settings import SETTINGS, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "icewatch.toml"
    path.write_text(text)
    return path


def test_defaults_come_from_the_table_and_say_so() -> None:
    settings = load_settings(cli={}, env={})
    assert settings == Settings()
    for s in SETTINGS:
        assert getattr(settings, s.name) == s.default, s.name
        assert settings.source(s.name) == "default"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.stun_port == 3478
    assert settings.stun_bind_host == "127.0.0.1"
    assert settings.db == "sqlite:///icewatch.db"
    assert settings.state == "memory://"
    assert settings.collector_deadline_ms == 1500
    assert settings.api_key is None
    assert settings.trusted_proxies == ()


def test_the_table_and_the_settings_type_have_the_same_names() -> None:
    fields = [f.name for f in dataclasses.fields(Settings) if f.name != "sources"]
    assert fields == [s.name for s in SETTINGS]
    for s in SETTINGS:
        assert s.env == "ICEWATCH_" + s.name.upper()
        if s.flag:
            # one deliberate exception: repeated `--list KIND=PATH` fill `lists`
            expected = "--list" if s.name == "lists" else "--" + s.name.replace("_", "-")
            assert s.flag == expected
    required = {"host", "port", "stun_port", "stun_host", "db", "config", "api_key",
                "public_host", "trusted_proxies", "session_ttl", "report_wait",
                "collector_deadline_ms", "cors_origins", "state", "realm", "log_level"}  # fmt: skip
    assert required <= {s.name for s in SETTINGS}


@pytest.mark.parametrize(
    ("name", "file_value", "env_text", "cli_text", "expected"),
    [
        ("port", "1111", "2222", "3333", (1111, 2222, 3333)),
        ("stun_port", "4000", "4001", "4002", (4000, 4001, 4002)),
        ("host", '"0.0.0.0"', "::", "10.0.0.1", ("0.0.0.0", "::", "10.0.0.1")),
        ("db", '"sqlite:///a.db"', "sqlite:///b.db", "sqlite:////c.db",
         ("sqlite:///a.db", "sqlite:///b.db", "sqlite:////c.db")),
        ("report_wait", "0.5", "1.5", "0", (0.5, 1.5, 0.0)),
        ("log_level", '"debug"', "WARNING", "error", ("debug", "warning", "error")),
        ("access_log", "true", "no", "yes", (True, False, True)),
        ("trusted_proxies", '["10.0.0.0/8"]', "192.168.0.0/16, fd00::/8", "127.0.0.1",
         ((ipaddress.ip_network("10.0.0.0/8"),),
          (ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("fd00::/8")),
          (ipaddress.ip_network("127.0.0.1/32"),))),
    ],
)  # fmt: skip
def test_precedence_flag_env_file_default(
    tmp_path: Path,
    name: str,
    file_value: str,
    env_text: str,
    cli_text: str,
    expected: tuple[Any, Any, Any],
) -> None:
    path = _config(tmp_path, f"{name} = {file_value}\n")
    env_var = f"ICEWATCH_{name.upper()}"
    flag = "--" + name.replace("_", "-")
    in_file, in_env, in_cli = expected

    s = load_settings(cli={"config": str(path)}, env={})
    assert getattr(s, name) == in_file
    assert s.source(name) == f"config {path}"
    assert s.source("config") == "cli --config"

    s = load_settings(cli={"config": str(path)}, env={env_var: env_text})
    assert getattr(s, name) == in_env
    assert s.source(name) == f"env {env_var}"

    s = load_settings(cli={"config": str(path), name: cli_text}, env={env_var: env_text})
    assert getattr(s, name) == in_cli
    assert s.source(name) == f"cli {flag}"

    s = load_settings(cli={name: None}, env={env_var: ""})  # absent flag, empty variable
    assert s.source(name) == "default"


def test_config_file_named_by_the_environment(tmp_path: Path) -> None:
    path = _config(tmp_path, 'port = 9000\napi_key = "k" \nrealm = "example.org"\n'.replace(
        '"k" ', '"0123456789abcdef0123"'))  # fmt: skip
    s = load_settings(cli={}, env={"ICEWATCH_CONFIG": str(path)})
    assert (s.port, s.realm) == (9000, "example.org")
    assert s.source("config") == "env ICEWATCH_CONFIG"
    assert s.api_key == "0123456789abcdef0123"
    rows = {name: (value, source) for name, value, source in s.effective()}
    assert rows["api_key"] == ("(set, hidden)", f"config {path}")
    assert "0123456789abcdef0123" not in repr(s)
    assert rows["stun_host"][0] == "127.0.0.1 (= host)"
    # The flag beats the variable for the config file too.
    other = _config(tmp_path / "..", "port = 9001\n")
    s = load_settings(cli={"config": str(other)}, env={"ICEWATCH_CONFIG": str(path)})
    assert s.port == 9001


@pytest.mark.parametrize(
    ("cli_values", "env", "where", "reason"),
    [
        ({"port": "99999"}, {}, "--port", "not a port number 1-65535: '99999'"),
        ({}, {"ICEWATCH_PORT": "http"}, "ICEWATCH_PORT", "not a port number"),
        ({}, {"ICEWATCH_STUN_PORT": "0"}, "ICEWATCH_STUN_PORT", "not a port number"),
        ({"host": "http://x"}, {}, "--host", "not a URL"),
        ({"host": "exa mple"}, {}, "--host", "not a host name or IP address"),
        ({"public_host": "-bad-.example"}, {}, "--public-host", "not a host name"),
        ({"db": "postgres://x"}, {}, "--db", "unknown scheme 'postgres' (known: sqlite://)"),
        ({"db": "icewatch.db"}, {}, "--db", "not a URL"),
        ({"db": "sqlite://icewatch.db"}, {}, "--db", "sqlite:///relative/path"),
        ({"state": "redis://x"}, {}, "--state", "unknown scheme 'redis'"),
        ({}, {"ICEWATCH_TRUSTED_PROXIES": "10.0.0.1/8"}, "ICEWATCH_TRUSTED_PROXIES",
         "host bits set"),
        ({"trusted_proxies": "10.0.0.0/33"}, {}, "--trusted-proxies", "not an IP network"),
        ({"cors_origins": "https://a.example/path"}, {}, "--cors-origins", "not an origin"),
        ({"api_key": "short"}, {}, "--api-key", "shorter than 16 characters"),
        ({"api_key": "0123456789abcdef\n"}, {}, "--api-key", "control characters"),
        ({"session_ttl": "5"}, {}, "--session-ttl", "not in 60-2592000"),
        ({"report_wait": "6"}, {}, "--report-wait", "not in 0-5 seconds"),
        ({"report_wait": "soon"}, {}, "--report-wait", "not a number of seconds"),
        ({"collector_deadline_ms": "99"}, {}, "--collector-deadline-ms", "not in 100-60000"),
        ({"log_level": "loud"}, {}, "--log-level", "not one of debug, info, warning, error"),
        ({}, {"ICEWATCH_ACCESS_LOG": "maybe"}, "ICEWATCH_ACCESS_LOG", "not a boolean"),
        ({"config": "/nonexistent/icewatch.toml"}, {}, "config file /nonexistent/icewatch.toml",
         "cannot read: No such file or directory"),
    ],
)  # fmt: skip
def test_bad_values_name_the_culprit(
    cli_values: dict[str, str], env: dict[str, str], where: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(cli=cli_values, env=env)
    assert info.value.where == where
    assert reason in info.value.message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("prot = 8080\n", "key 'prot'", "unknown setting (did you mean 'port'?)"),
        ("config = 'x.toml'\n", "key 'config'", "unknown setting"),
        ("port = 'eighty'\n", "key 'port'", "not a port number"),
        ("port = true\n", "key 'port'", "expected a port number, got bool"),
        ("port = 80.5\n", "key 'port'", "expected a port number, got float"),
        ("trusted_proxies = [1, 2]\n", "key 'trusted_proxies'", "expected a list of strings"),
        ("access_log = 'sometimes'\n", "key 'access_log'", "not a boolean"),
        ("[server]\nport = 1\n", "key 'server'", "unknown setting"),
        ("port = \n", "", "invalid TOML"),
    ],
)
def test_bad_config_files_name_the_key(tmp_path: Path, text: str, where: str, reason: str) -> None:
    path = _config(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(cli={"config": str(path)}, env={})
    assert info.value.where.startswith(f"config file {path}")
    assert where in info.value.where
    assert reason in info.value.message


def test_lists_and_hosts_are_normalised(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        'trusted_proxies = "10.0.0.0/8, ::1"\ncors_origins = ["HTTPS://Shop.Example", "*"]\n'
        'public_host = "[fd77:1::1]"\nhost = "LocalHost"\n',
    )
    s = load_settings(cli={"config": str(path)}, env={})
    assert s.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))
    assert s.cors_origins == ("https://shop.example", "*")
    assert s.public_host == "fd77:1::1"
    assert s.host == "localhost"


def test_the_configuration_doc_is_generated_from_the_table() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc == render_docs(), (
        "docs/configuration.md differs from the settings table; regenerate it with "
        "`.venv/bin/python -m icewatch.service.docs > docs/configuration.md`"
    )
    for s in SETTINGS:
        assert f"## {s.name}\n" in doc
        assert s.help in doc
        if s.env:
            assert f"`{s.env}`" in doc


def test_the_doc_check_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    import icewatch.service.docs as docs

    changed = (dataclasses.replace(SETTINGS[1], help="something else"), *SETTINGS[2:])
    monkeypatch.setattr(docs, "SETTINGS", changed)
    assert docs.render_docs() != (ROOT / "docs" / "configuration.md").read_text()


def test_the_example_config_in_the_doc_is_valid(tmp_path: Path) -> None:
    doc = render_docs()
    example = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert example is not None
    tomllib.loads(example.group(1))
    s = load_settings(cli={"config": str(_config(tmp_path, example.group(1)))}, env={})
    assert s.host == "0.0.0.0"
    assert s.public_host == "icewatch.example.org"
