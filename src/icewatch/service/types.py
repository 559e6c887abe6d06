"""Value types of the settings table: how one setting is read from text (flags and
``ICEWATCH_*`` variables) and from TOML (config files), validated, and shown.

Each type raises :class:`ValueError` with a short reason ("not a port number 1-65535");
the loader adds where the value came from, so an operator reads one line such as
``error: ICEWATCH_PORT: not a port number 1-65535: '99999'``.

Standard library only: the CLI imports this module for ``--help`` without pulling in
the web stack.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "Boolean",
    "Choice",
    "Host",
    "Integer",
    "KeyValueList",
    "NetworkList",
    "OriginList",
    "PathValue",
    "Port",
    "Seconds",
    "SettingType",
    "Text",
    "Url",
    "WeightTable",
]

#: A DNS name: labels of letters, digits and hyphens (RFC 1123), at most 253 characters.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$"
)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://(.*)$")


def _short(text: object, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


class SettingType(Protocol):
    """How one kind of value is parsed, validated and shown."""

    @property
    def label(self) -> str:
        """What the value is, in a few words (``--help`` metavar and the docs)."""

    def from_text(self, text: str) -> Any:
        """Parse a flag or environment value; raise ``ValueError`` with a short reason."""

    def from_toml(self, value: Any) -> Any:
        """Check a value read from a TOML config file; raise ``ValueError``."""

    def show(self, value: Any) -> str:
        """The value as an operator would write it (docs, ``config check``)."""


class _Scalar:
    """Shared behaviour: TOML strings are parsed like text; ``show`` is ``str``."""

    label = "TEXT"

    def from_text(self, text: str) -> Any:
        raise NotImplementedError

    def from_toml(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.from_text(value)
        raise ValueError(f"expected {self.label.lower()}, got {type(value).__name__}")

    def show(self, value: Any) -> str:
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Text(_Scalar):
    """Printable text of bounded length (optionally at least ``min_length``)."""

    max_length: int = 256
    min_length: int = 1
    label: str = "TEXT"

    def from_text(self, text: str) -> str:
        if len(text) < self.min_length:
            raise ValueError(f"shorter than {self.min_length} characters")
        if len(text) > self.max_length:
            raise ValueError(f"longer than {self.max_length} characters")
        if not text.isprintable():
            raise ValueError(f"contains control characters: {_short(text)}")
        return text


@dataclass(frozen=True)
class Integer(_Scalar):
    minimum: int
    maximum: int
    label: str = "INTEGER"

    def _check(self, value: int) -> int:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"not in {self.minimum}-{self.maximum}: {value}")
        return value

    def from_text(self, text: str) -> int:
        stripped = text.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", stripped):
            raise ValueError(f"not an integer: {_short(text)}")
        return self._check(int(stripped))

    def from_toml(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {type(value).__name__}")
        return self.from_text(value) if isinstance(value, str) else self._check(value)


@dataclass(frozen=True)
class Port(_Scalar):
    label: str = "PORT"

    def from_text(self, text: str) -> int:
        stripped = text.strip()
        if not stripped.isdigit() or not 1 <= int(stripped) <= 65535:
            raise ValueError(f"not a port number 1-65535: {_short(text)}")
        return int(stripped)

    def from_toml(self, value: Any) -> int:
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return self.from_text(str(value))
        raise ValueError(f"expected a port number, got {type(value).__name__}")


@dataclass(frozen=True)
class Seconds(_Scalar):
    """A duration in seconds (decimals allowed), within bounds."""

    minimum: float
    maximum: float
    label: str = "SECONDS"

    def _check(self, value: float) -> float:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"not in {self.minimum:g}-{self.maximum:g} seconds: {value:g}")
        return value

    def from_text(self, text: str) -> float:
        stripped = text.strip().removesuffix("s")
        if not re.fullmatch(r"\d{1,9}(\.\d{1,6})?|\.\d{1,6}", stripped):
            raise ValueError(f"not a number of seconds: {_short(text)}")
        return self._check(float(stripped))

    def from_toml(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected seconds, got {type(value).__name__}")
        return self.from_text(value) if isinstance(value, str) else self._check(float(value))

    def show(self, value: Any) -> str:
        return f"{value:g}"


@dataclass(frozen=True)
class Boolean(_Scalar):
    label: str = "BOOLEAN"

    def from_text(self, text: str) -> bool:
        low = text.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"not a boolean (true/false, yes/no, 1/0): {_short(text)}")

    def from_toml(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.from_text(value)
        raise ValueError(f"expected true or false, got {type(value).__name__}")

    def show(self, value: Any) -> str:
        return "true" if value else "false"


@dataclass(frozen=True)
class Choice(_Scalar):
    choices: tuple[str, ...]
    label: str = "CHOICE"

    def from_text(self, text: str) -> str:
        low = text.strip().lower()
        if low not in self.choices:
            raise ValueError(f"not one of {', '.join(self.choices)}: {_short(text)}")
        return low


@dataclass(frozen=True)
class Host(_Scalar):
    """An IP address literal or a DNS name (no scheme, no port).

    IPv6 literals may be written with or without brackets; they are kept bare.
    """

    label: str = "HOST"

    def from_text(self, text: str) -> str:
        stripped = text.strip()
        bare = stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else stripped
        try:
            return str(ipaddress.ip_address(bare))
        except ValueError:
            pass
        if "://" in stripped or "/" in stripped:
            raise ValueError(f"a host name or IP address, not a URL: {_short(text)}")
        if not _HOSTNAME.match(stripped) or stripped.replace(".", "").isdigit():
            raise ValueError(f"not a host name or IP address: {_short(text)}")
        return stripped.lower().rstrip(".")


@dataclass(frozen=True)
class Url(_Scalar):
    """A URL whose scheme names a backend (``sqlite:///icewatch.db``, ``memory://``)."""

    schemes: tuple[str, ...]
    label: str = "URL"

    def from_text(self, text: str) -> str:
        stripped = text.strip()
        m = _SCHEME.match(stripped)
        if m is None:
            raise ValueError(f"not a URL (scheme://...): {_short(text)}")
        if m.group(1) not in self.schemes:
            known = ", ".join(f"{s}://" for s in self.schemes)
            raise ValueError(f"unknown scheme {m.group(1)!r} (known: {known})")
        if m.group(1) == "sqlite" and not m.group(2).startswith("/"):
            raise ValueError(
                f"an SQLite URL is sqlite:///relative/path or sqlite:////absolute/path: "
                f"{_short(text)}"
            )
        if m.group(1) == "sqlite" and m.group(2) in {"/", "//"}:
            raise ValueError(f"an SQLite URL needs a file path: {_short(text)}")
        return stripped


@dataclass(frozen=True)
class PathValue(_Scalar):
    label: str = "FILE"

    def from_text(self, text: str) -> Path:
        if not text.strip():
            raise ValueError("empty path")
        return Path(text.strip()).expanduser()


class _List(_Scalar):
    """Comma-separated in text, a TOML array (or comma-separated string) in files."""

    def item(self, text: str) -> Any:
        raise NotImplementedError

    def from_text(self, text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in text.split(",")]
        return self._items([p for p in parts if p])

    def from_toml(self, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str):
            return self.from_text(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return self._items([v.strip() for v in value])
        raise ValueError("expected a list of strings")

    def _items(self, parts: Sequence[str]) -> tuple[Any, ...]:
        if len(parts) > 256:
            raise ValueError("more than 256 entries")
        return tuple(self.item(p) for p in parts)

    def show(self, value: Any) -> str:
        return ",".join(str(v) for v in value)


class NetworkList(_List):
    """IP networks in CIDR form; a bare address means one host (/32 or /128)."""

    label = "CIDR,..."

    def item(self, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                raise ValueError(f"{text!r} has host bits set (did you mean a network?)") from None
            raise ValueError(f"not an IP network in CIDR form: {_short(text)}") from None


class OriginList(_List):
    """Web origins (``scheme://host[:port]``, no path) or ``*`` for any."""

    label = "ORIGIN,..."

    def item(self, text: str) -> str:
        if text == "*":
            return text
        m = re.fullmatch(r"(?i)(https?)://([^/:\s]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?", text)
        if m is None:
            raise ValueError(f"not an origin (http[s]://host[:port], no path): {_short(text)}")
        if m.group(3) and not 1 <= int(m.group(3)[1:]) <= 65535:
            raise ValueError(f"origin port out of range: {_short(text)}")
        return text.lower()


class KeyValueList(_List):
    """``KEY=VALUE`` entries (a repeatable flag, a TOML array, or comma-separated text):
    each ``KEY`` one of ``keys``; the value a file path (``value="path"``) or an http(s)
    URL (``value="url"``), required or, with ``bare_keys``, optional (``KEY`` alone)."""

    def __init__(
        self,
        keys: Sequence[str],
        *,
        value: str = "path",
        label: str = "KEY=VALUE",
        bare_keys: bool = False,
        max_entries: int = 256,
    ) -> None:
        self.keys = tuple(keys)
        self.value = value
        self.label = label
        self.bare_keys = bare_keys
        self.max_entries = max_entries

    def from_text(self, text: str) -> tuple[Any, ...]:
        parts = [p.strip() for p in re.split(r"[,\n]", text)]
        return self._items([p for p in parts if p])

    def _items(self, parts: Sequence[str]) -> tuple[Any, ...]:
        if len(parts) > self.max_entries:
            raise ValueError(f"more than {self.max_entries} entries")
        return tuple(self.item(p) for p in parts)

    def item(self, text: str) -> str:
        key, sep, value = text.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key not in self.keys:
            raise ValueError(f"{_short(key)} is not one of {', '.join(self.keys)}: {_short(text)}")
        if not sep and self.bare_keys:
            return key
        if not value:
            raise ValueError(f"expected {self.label}: {_short(text)}")
        if self.value == "url":
            if not re.match(r"^https?://[^\s/]+", value):
                raise ValueError(f"not an http(s) URL: {_short(value)}")
            return f"{key}={value}"
        if not value.isprintable():
            raise ValueError(f"contains control characters: {_short(value)}")
        return f"{key}={Path(value).expanduser()}"


class WeightTable(_Scalar):
    """Signal weights: ``code=weight`` pairs (comma- or newline-separated) in flags and
    variables; a TOML table in config files (``[signal_weights]`` with ``"ip.datacenter" =
    40``, or the dotted form ``ip.datacenter = 40``). Checked against the rule table
    (:func:`icewatch.core.scoring.validate_weights`): an unknown code, a weight outside
    0-100 or a weight on an informational signal is refused, naming the code."""

    label = "CODE=WEIGHT,..."
    max_entries = 256

    def from_text(self, text: str) -> tuple[tuple[str, int], ...]:
        pairs: list[tuple[str, Any]] = []
        for part in re.split(r"[,\n]", text):
            part = part.strip()
            if not part:
                continue
            code, sep, weight = part.partition("=")
            if not sep or not code.strip():
                raise ValueError(f"expected CODE=WEIGHT: {_short(part)}")
            weight = weight.strip()
            if not re.fullmatch(r"[+-]?\d{1,6}", weight):
                raise ValueError(f"weight of {code.strip()}: not an integer: {_short(weight)}")
            pairs.append((code.strip(), int(weight)))
        return self._check(pairs)

    def from_toml(self, value: Any) -> tuple[tuple[str, int], ...]:
        if isinstance(value, str):
            return self.from_text(value)
        if not isinstance(value, dict):
            raise ValueError(f"expected a table of CODE = WEIGHT, got {type(value).__name__}")
        pairs: list[tuple[str, Any]] = []

        def flatten(prefix: str, table: dict[str, Any]) -> None:
            for key, item in table.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(item, dict):  # `ip.datacenter = 40` reads as {"ip": {...}}
                    flatten(name, item)
                else:
                    pairs.append((name, item))

        flatten("", value)
        return self._check(pairs)

    def _check(self, pairs: Sequence[tuple[str, Any]]) -> tuple[tuple[str, int], ...]:
        from icewatch.core.scoring import validate_weights  # the rule table, on demand

        if len(pairs) > self.max_entries:
            raise ValueError(f"more than {self.max_entries} entries")
        seen: set[str] = set()
        for code, _ in pairs:
            if code in seen:
                raise ValueError(f"{code} is given twice")
            seen.add(code)
        validate_weights(dict(pairs))
        return tuple((code, int(weight)) for code, weight in pairs)

    def show(self, value: Any) -> str:
        return ",".join(f"{code}={weight}" for code, weight in value) or "(defaults)"
