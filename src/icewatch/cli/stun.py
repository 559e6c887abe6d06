"""``icewatch stun`` commands: look inside STUN/TURN messages.

``icewatch stun decode HEX|-`` prints the method, class, transaction id and every
attribute in wire order with its typed value, checks FINGERPRINT whenever it is present
and MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 when a key is given.

Exit status: 0 when decoded and every check that ran passed; 1 when a check failed
(FINGERPRINT or an integrity attribute is present but wrong, or a key was given and
the message carries no integrity attribute at all); 2 for malformed input or bad
options, with one line on stderr naming the field.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from icewatch.cli._output import EXIT_PROBLEM, emit_json, fail_input, read_text_arg
from icewatch.core.errors import IntegrityError, StunParseError
from icewatch.core.stun import (
    MAX_MESSAGE_SIZE,
    AddressError,
    AttributeInfo,
    AttrType,
    ErrorCode,
    Icmp,
    NetworkInfo,
    PasswordAlgorithm,
    StunMessage,
    TransportAddress,
    decode_message,
    decode_text,
    long_term_key,
    short_term_key,
    typed_attributes,
    verify_fingerprint,
    verify_message_integrity,
    verify_message_integrity_sha256,
)

__all__ = ["stun"]

#: Hex text accepted on the command line or stdin: two characters a byte, plus separators.
MAX_HEX_TEXT = MAX_MESSAGE_SIZE * 3 + 4096
_SEPARATORS = re.compile(r"[\s:,-]+")


@click.group()
def stun() -> None:
    """Decode and check STUN/TURN messages (RFC 8489, RFC 8656)."""


def _parse_hex(text: str) -> bytes:
    cleaned = _SEPARATORS.sub("", text)
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    if not cleaned:
        fail_input("input: no hex digits")
    if len(cleaned) % 2:
        fail_input(f"input: odd number of hex digits ({len(cleaned)})")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next((c for c in cleaned if c not in "0123456789abcdefABCDEF"), "?")
        fail_input(f"input: not hex (character {bad!r})")


def _read_input(value: str, raw: bool) -> bytes:
    if raw:
        if value != "-":
            fail_input("input: --raw reads binary from standard input; pass '-'")
        data = sys.stdin.buffer.read(MAX_MESSAGE_SIZE + 1)
        if len(data) > MAX_MESSAGE_SIZE:
            fail_input(f"input: longer than {MAX_MESSAGE_SIZE} bytes")
        return data
    return _parse_hex(read_text_arg(value, limit=MAX_HEX_TEXT))


def _message_text(message: StunMessage, attr_type: int, what: str) -> str:
    attr = message.get(attr_type)
    if attr is None:
        fail_input(f"{what}: not given and the message has no {what.upper()} attribute")
    try:
        return decode_text(attr.value, what)
    except StunParseError as exc:
        fail_input(exc)


def _key(
    message: StunMessage,
    key_hex: str | None,
    password: str | None,
    username: str | None,
    realm: str | None,
    algorithm: str,
) -> bytes | None:
    if key_hex is not None:
        if password is not None or username is not None or realm is not None:
            fail_input("options: --key excludes --password, --username and --realm")
        cleaned = _SEPARATORS.sub("", key_hex)
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            fail_input("key: not hex")
    if password is None:
        if username is not None or realm is not None:
            fail_input("options: --username/--realm need --password")
        return None
    try:
        if username is None and realm is None:
            return short_term_key(password)
        user = username if username is not None else _message_text(message, 0x0006, "username")
        where = realm if realm is not None else _message_text(message, 0x0014, "realm")
        return long_term_key(user, where, password, sha256=algorithm == "sha256")
    except ValueError as exc:
        fail_input(str(exc))


def _json_value(value: Any) -> Any:
    if isinstance(value, TransportAddress):
        return {"family": f"ipv{value.ip.version}", "ip": str(value.ip), "port": value.port}
    if isinstance(value, ErrorCode):
        return {"code": value.code, "reason": value.reason}
    if isinstance(value, AddressError):
        return {"family": value.family, "code": value.code, "reason": value.reason}
    if isinstance(value, NetworkInfo):
        return {"network_id": value.network_id, "network_cost": value.network_cost}
    if isinstance(value, PasswordAlgorithm):
        return {"algorithm": value.algorithm, "parameters": value.parameters.hex()}
    if isinstance(value, Icmp):
        return {"type": value.icmp_type, "code": value.icmp_code, "data": value.error_data.hex()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _attr_json(info: AttributeInfo) -> dict[str, Any]:
    return {
        "type": info.type,
        "name": info.name,
        "offset": info.offset,
        "length": len(info.raw),
        "value": None if info.error is not None else _json_value(info.value),
        "error": info.error,
        "after_integrity": info.after_integrity,
        "raw": info.raw.hex(),
    }


def _check(message: StunMessage, key: bytes | None) -> tuple[str, dict[str, str]]:
    try:
        fingerprint = "valid" if verify_fingerprint(message) else "invalid"
    except IntegrityError:
        fingerprint = "absent"
    integrity: dict[str, str] = {}
    for name, attr_type, verify in (
        ("message-integrity", AttrType.MESSAGE_INTEGRITY, verify_message_integrity),
        (
            "message-integrity-sha256",
            AttrType.MESSAGE_INTEGRITY_SHA256,
            verify_message_integrity_sha256,
        ),
    ):
        if message.get(attr_type) is None:
            integrity[name] = "absent"
        elif key is None:
            integrity[name] = "unchecked"
        else:
            integrity[name] = "valid" if verify(message, key) else "invalid"
    return fingerprint, integrity


def _text_value(info: AttributeInfo) -> str:
    if info.error is not None:
        return f"<undecodable: {info.error}> raw {info.raw.hex()}"
    value = _json_value(info.value)
    if isinstance(info.value, TransportAddress):
        return str(info.value)
    if isinstance(value, str) and not isinstance(info.value, bytes):
        return repr(value)
    if value is None:
        return "(flag)"
    return str(value)


@stun.command()
@click.argument("message_hex", metavar="HEX|-")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (see docs/json-output.md).")
@click.option("--raw", is_flag=True, help="Read the binary message from standard input ('-').")
@click.option("--key", "key_hex", metavar="HEX", help="Integrity key as hex bytes.")
@click.option("--password", help="Password: short-term alone, long-term with --username/--realm.")
@click.option("--username", help="Long-term username (default: the message's USERNAME).")
@click.option("--realm", help="Long-term realm (default: the message's REALM).")
@click.option(
    "--algorithm",
    type=click.Choice(["md5", "sha256"]),
    default="md5",
    show_default=True,
    help="Long-term key hash (PASSWORD-ALGORITHM).",
)
def decode(
    message_hex: str,
    as_json: bool,
    raw: bool,
    key_hex: str | None,
    password: str | None,
    username: str | None,
    realm: str | None,
    algorithm: str,
) -> None:
    """Decode one STUN/TURN message given as hex (spaces, colons, newlines allowed).

    Exit 0 if every check passed, 1 if FINGERPRINT or MESSAGE-INTEGRITY(-SHA256) is
    wrong (or a key was given and there is no integrity attribute), 2 if malformed.
    """
    data = _read_input(message_hex, raw)
    try:
        message = decode_message(data)
    except StunParseError as exc:
        fail_input(exc)
    key = _key(message, key_hex, password, username, realm, algorithm)
    infos = typed_attributes(message)
    fingerprint, integrity = _check(message, key)
    failed = fingerprint == "invalid" or "invalid" in integrity.values()
    if key is not None and set(integrity.values()) == {"absent"}:
        failed = True
    if as_json:
        emit_json(
            {
                "method": message.method_name,
                "method_code": message.method,
                "class": message.msg_class.name.lower(),
                "transaction_id": message.transaction_id.hex(),
                "length": len(message.raw) - 20,
                "attributes": [_attr_json(info) for info in infos],
                "fingerprint": fingerprint,
                "integrity": integrity,
            }
        )
    else:
        click.echo(f"method          {message.method_name} (0x{message.method:03x})")
        click.echo(f"class           {message.msg_class.name.lower()}")
        click.echo(f"transaction id  {message.transaction_id.hex()}")
        click.echo(f"length          {len(message.raw) - 20}")
        click.echo(f"attributes      {len(infos)}")
        for info in infos:
            name = info.name or "unknown"
            note = "  [after integrity: ignored]" if info.after_integrity else ""
            click.echo(
                f"  @{info.offset:<5} 0x{info.type:04x} {name} ({len(info.raw)} bytes): "
                f"{_text_value(info)}{note}"
            )
        click.echo(f"{'fingerprint':<26}{fingerprint}")
        for name, state in integrity.items():
            click.echo(f"{name:<26}{state}")
    if failed:
        sys.exit(EXIT_PROBLEM)
