"""``icewatch stun decode``: text, JSON, exit 1 on a failed check and 2 on malformed input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from icewatch.cli import cli

ICEWATCH = Path(sys.executable).with_name("icewatch")
DATA = Path(__file__).resolve().parents[1] / "data"
VECTORS = json.loads((DATA / "stun" / "rfc5769.json").read_text(encoding="utf-8"))["vectors"]
REQUEST = VECTORS["sample_request"]["hex"]
LONG_TERM = VECTORS["long_term_request"]
IPV6 = VECTORS["ipv6_response"]["hex"]


def _run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["stun", "decode", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_text_output() -> None:
    code, out, err = _run(REQUEST, "--password", "VOkJxbRl1RmTxUk/WvJxBt")
    assert (code, err) == (0, "")
    assert "binding (0x001)" in out
    assert "b7e7a701bc34d686fa87dfae" in out
    assert "'STUN test client'" in out
    assert "ice-controlled" in out
    lines = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line}
    assert lines["fingerprint"] == "valid"
    assert lines["message-integrity"] == "valid"
    assert lines["message-integrity-sha256"] == "absent"


def test_json_output_shape() -> None:
    code, out, _ = _run(IPV6, "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == [
        "method",
        "method_code",
        "class",
        "transaction_id",
        "length",
        "attributes",
        "fingerprint",
        "integrity",
    ]
    assert doc["method"] == "binding"
    assert doc["class"] == "success"
    assert doc["transaction_id"] == "b7e7a701bc34d686fa87dfae"
    assert doc["fingerprint"] == "valid"
    assert doc["integrity"] == {
        "message-integrity": "unchecked",
        "message-integrity-sha256": "absent",
    }
    xma = doc["attributes"][1]
    assert xma["type"] == 32
    assert xma["name"] == "xor-mapped-address"
    assert xma["value"] == {
        "family": "ipv6",
        "ip": "2001:db8:1234:5678:11:2233:4455:6677",
        "port": 32853,
    }
    assert xma["error"] is None
    assert xma["after_integrity"] is False
    assert set(xma) == {
        "type",
        "name",
        "offset",
        "length",
        "value",
        "error",
        "after_integrity",
        "raw",
    }


def test_long_term_from_message_username_and_realm() -> None:
    code, out, _ = _run(
        LONG_TERM["hex"], "--json", "--password", LONG_TERM["password"], "--realm", "example.org"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["integrity"]["message-integrity"] == "valid"
    assert doc["fingerprint"] == "absent"
    assert doc["attributes"][0]["value"] == LONG_TERM["username"]


def test_wrong_password_exits_1() -> None:
    code, out, _ = _run(REQUEST, "--json", "--password", "wrong")
    assert code == 1
    assert json.loads(out)["integrity"]["message-integrity"] == "invalid"


def test_key_hex_and_no_integrity_attribute_exits_1() -> None:
    code, out, _ = _run("000100002112a442" + "00" * 12, "--key", "00ff")
    assert code == 1
    assert "message-integrity" in out


def test_bad_fingerprint_exits_1() -> None:
    tampered = REQUEST[:-2] + ("00" if REQUEST[-2:] != "00" else "01")
    code, out, _ = _run(tampered, "--json")
    assert code == 1
    assert json.loads(out)["fingerprint"] == "invalid"


def test_hex_with_separators_and_stdin() -> None:
    spaced = " ".join(REQUEST[i : i + 2] for i in range(0, len(REQUEST), 2))
    colons = ":".join(REQUEST[i : i + 2] for i in range(0, len(REQUEST), 2))
    assert _run(spaced)[0] == 0
    assert _run(colons)[0] == 0
    code, out, _ = _run("-", "--json", stdin=spaced[:40] + "\n" + spaced[40:] + "\n")
    assert code == 0
    assert json.loads(out)["method"] == "binding"
    code, out, _ = _run("-", "--raw", "--json", stdin=bytes.fromhex(REQUEST))
    assert code == 0
    assert json.loads(out)["fingerprint"] == "valid"


def test_undecodable_attribute_is_noted_not_fatal() -> None:
    # PRIORITY with 2 bytes (+2 padding)
    data = "000100082112a442" + "00" * 12 + "00240002abcd0000"
    code, out, _ = _run(data, "--json")
    assert code == 0
    attr = json.loads(out)["attributes"][0]
    assert attr["value"] is None
    assert "expected 4" in attr["error"]


def test_malformed_inputs_exit_2_with_one_line() -> None:
    cases = {
        "0001": "header",
        "000100002112a443" + "00" * 12: "magic cookie",
        "zz": "not hex",
        "abc": "odd number",
        "": "no hex digits",
        "000100042112a442" + "00" * 12 + "80220005": "attribute 0x8022",
    }
    for arg, fragment in cases.items():
        code, out, err = _run(arg)
        assert code == 2, arg
        assert out == ""
        assert len(err.strip().splitlines()) == 1, err
        assert fragment in err


def test_bad_options_exit_2() -> None:
    assert _run(REQUEST, "--key", "zz")[0] == 2
    assert _run(REQUEST, "--key", "00", "--password", "x")[0] == 2
    assert _run(REQUEST, "--username", "u")[0] == 2
    # long-term wanted but the message has no REALM and none was given
    assert _run(REQUEST, "--password", "p", "--username", "u")[0] == 2
    assert _run(REQUEST, "--raw")[0] == 2


def test_real_subprocess_malformed() -> None:
    proc = subprocess.run(
        [str(ICEWATCH), "stun", "decode", "000100002112a443" + "00" * 12],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "magic cookie" in lines[0]


def test_real_subprocess_stdin_ok() -> None:
    proc = subprocess.run(
        [str(ICEWATCH), "stun", "decode", "-", "--json"],
        input=REQUEST,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["attributes"][3]["value"] == "evtj:h6vY"
