"""The claimed client: which browser, engine, OS and device the visitor *says* it is.

Everything here is a claim. The user agent string (``navigator.userAgent`` and the
``User-Agent`` header) and the user-agent client hints (``navigator.userAgentData`` and
the ``Sec-CH-UA*`` request headers) are whatever the client chose to send; anti-detect
browsers rewrite them first. The scoring rules hold this claim against what cannot be
chosen so easily: the way the WebRTC stack writes its candidates and SDP
(:mod:`icewatch.core.dialect`) and the network it reports.

The user agent itself is parsed by an adapter (``icewatch.web.useragent``, with the
maintained ``ua-parser`` rules) into a :class:`ParsedAgent`; everything after that is
pure and lives here:

* :func:`engine_for` — the rendering engine the claim implies (``blink``, ``gecko``,
  ``webkit``), from the browser family, the OS (every iOS browser is WebKit) and, for
  families the tables do not know, the UA's own product tokens;
* :func:`device_type_for` — desktop, mobile (phone), tablet, bot;
* :func:`client_hints` — the client hints from the page and the headers, parsed and
  bounded (brand lists in JSON or in RFC 8941 structured-field form);
* :func:`build_claim` — the :class:`ClientClaim`, with the contradictions *inside* the
  claim (hints from a browser that does not send hints, UA and hints naming different
  platforms or form factors) as ``notes``.

No input raises: junk gives an empty claim (``engine`` and ``device`` ``unknown``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from icewatch.core.errors import ParseError

__all__ = [
    "APPLE_OSES",
    "MAX_BRANDS",
    "MAX_UA_CHARS",
    "ClientClaim",
    "ClientHints",
    "DeviceType",
    "Engine",
    "ParsedAgent",
    "build_claim",
    "client_claim_from_dict",
    "client_hints",
    "device_type_for",
    "engine_for",
    "is_grease_brand",
    "parse_brand_list",
]

#: Longest user agent kept and parsed. Real ones are 100-300 characters; past this the
#: rest is dropped before any parser sees it (the web adapter already caps it at 1024).
MAX_UA_CHARS: Final = 512
#: Most brands kept from one brand list (Chromium sends three or four).
MAX_BRANDS: Final = 16
_MAX_HINT_CHARS: Final = 256
_MAX_TEXT: Final = 128


class Engine(StrEnum):
    """The browser engine a claim implies (its WebRTC stack follows from it)."""

    BLINK = "blink"  # Chromium and everything built on it: libwebrtc
    GECKO = "gecko"  # Firefox and its forks: nICEr / Mozilla's SDP ("SDPARTA")
    WEBKIT = "webkit"  # Safari and every iOS browser: libwebrtc inside WebKit
    UNKNOWN = "unknown"


class DeviceType(StrEnum):
    """The form factor a claim implies."""

    DESKTOP = "desktop"
    MOBILE = "mobile"  # a phone
    TABLET = "tablet"  # also Android devices whose UA lacks "Mobile" (TVs, some kiosks)
    BOT = "bot"  # a crawler or tool that says so
    UNKNOWN = "unknown"


#: OS families (as ``ua-parser`` names them) whose browsers use Apple's WebKit.
APPLE_OSES: Final = frozenset({"iOS", "iPadOS", "Mac OS X", "macOS"})

# Browser families (ua-parser's names) by engine. Families not listed fall back to the
# UA's product tokens (:func:`_engine_from_tokens`).
_BLINK_FAMILIES: Final = frozenset(
    {
        "Chrome",
        "Chrome Mobile",
        "Chrome Mobile WebView",
        "Chromium",
        "HeadlessChrome",
        "Edge",  # 79+; EdgeHTML (<= 18) is handled by _MIN_MAJOR
        "Edge Mobile",
        "Opera",  # 15+ (Presto before)
        "Opera Mobile",
        "Opera GX",
        "Samsung Internet",
        "Yandex Browser",
        "Vivaldi",
        "Brave",
        "Whale",
        "Coc Coc",
        "Electron",
        "Silk",
        "Chrome Frame",
    }
)
_GECKO_FAMILIES: Final = frozenset(
    {
        "Firefox",
        "Firefox Mobile",
        "Firefox Beta",
        "Firefox Alpha",
        "Firefox Nightly",
        "Firefox Focus",
        "Firefox Developer Edition",
        "Fennec",
        "Waterfox",
        "LibreWolf",
        "IceCat",
        "Iceweasel",
        "SeaMonkey",
    }
)
_WEBKIT_FAMILIES: Final = frozenset(
    {"Safari", "Mobile Safari", "Mobile Safari UI/WKWebView", "WebKit Nightly"}
)
#: Families whose old majors used another engine (EdgeHTML, Presto): no engine claimed.
_MIN_MAJOR: Final = {"Edge": 79, "Edge Mobile": 79, "Opera": 15, "Opera Mobile": 15}
_BOT_FAMILIES: Final = frozenset({"Spider"})

_DESKTOP_TOKENS: Final = ("Windows NT", "Macintosh", "X11", "CrOS")
_MOBILE_TOKENS: Final = (
    "windows phone",
    "iemobile",
    "kaios",
    "blackberry",
    "bb10",
    "symbian",
    "opera mini",
    "mobile",
)
_GREASE = re.compile(r"not.?a.?brand", re.IGNORECASE)
# One item of an RFC 8941 list of strings with a "v" parameter: "Chromium";v="156"
_SF_BRAND = re.compile(r'\s*"((?:[^"\\]|\\.){0,128})"\s*(?:;\s*v\s*=\s*"((?:[^"\\]|\\.){0,64})")?')
_SF_STRING = re.compile(r'\s*"((?:[^"\\]|\\.){0,128})"')

# Client-hint platform names (Sec-CH-UA-Platform) and ua-parser OS families, as one name.
_PLATFORM_OF_OS: Final = {
    "Windows": "Windows",
    "Mac OS X": "macOS",
    "macOS": "macOS",
    "Android": "Android",
    "Chrome OS": "Chrome OS",
    "Linux": "Linux",
    "Ubuntu": "Linux",
    "Fedora": "Linux",
    "Debian": "Linux",
    "iOS": "iOS",
}


def _text(value: object, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value[:limit] if ch.isprintable())


@dataclass(frozen=True, slots=True)
class ParsedAgent:
    """What a user-agent parser made of the string (filled by the adapter).

    Empty strings mean "not recognised"; ``browser`` uses ua-parser's family names
    (``"Chrome"``, ``"Firefox Mobile"``, ``"Mobile Safari"``, ``"Samsung Internet"``…).
    """

    browser: str = ""
    browser_version: str = ""  # "156.0.0", as many parts as the parser found
    os: str = ""
    os_version: str = ""
    device_family: str = ""  # "iPhone", "K", "Samsung SM-S911B", "Spider"…
    device_brand: str = ""
    device_model: str = ""


def is_grease_brand(name: str) -> bool:
    """Chromium's GREASE brand ("Not-A.Brand", "Not)A;Brand"…): random noise by design."""
    return bool(_GREASE.search(name))


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_brand_list(text: object) -> tuple[tuple[str, str], ...]:
    """A brand list as ``((brand, version), ...)``; ``()`` for anything unreadable.

    Accepts the collector's JSON (``[{"brand": "Chromium", "version": "156"}, ...]``)
    and the header's RFC 8941 form (``"Chromium";v="156", "Not-A.Brand";v="24"``).
    At most :data:`MAX_BRANDS` items; names and versions are bounded."""
    if not isinstance(text, str):
        return ()
    text = text[: _MAX_HINT_CHARS * 4]
    stripped = text.strip()
    out: list[tuple[str, str]] = []
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except (ValueError, RecursionError):
            return ()
        if not isinstance(items, list):
            return ()
        for item in items[:MAX_BRANDS]:
            if isinstance(item, Mapping):
                brand = _text(item.get("brand"))
                if brand:
                    out.append((brand, _text(item.get("version"), 64)))
        return tuple(out)
    for part in stripped.split(","):
        m = _SF_BRAND.match(part)
        if m is None:
            continue
        brand = _text(_unescape(m.group(1)))
        if brand:
            out.append((brand, _text(_unescape(m.group(2) or ""), 64)))
        if len(out) >= MAX_BRANDS:
            break
    return tuple(out)


def _sf_string(text: str) -> str:
    m = _SF_STRING.match(text)
    return _text(_unescape(m.group(1))) if m else _text(text.strip())


def _sf_strings(text: str) -> tuple[str, ...]:
    out = [_sf_string(p) for p in text[:_MAX_HINT_CHARS].split(",")]
    return tuple(p for p in out if p)[:MAX_BRANDS]


def _json_strings(text: str) -> tuple[str, ...]:
    try:
        items = json.loads(text[:_MAX_HINT_CHARS])
    except (ValueError, RecursionError):
        return ()
    if not isinstance(items, list):
        return ()
    return tuple(t for t in (_text(i) for i in items[:MAX_BRANDS]) if t)


def _bool(text: str) -> bool | None:
    value = text.strip().lower()
    if value in ("true", "?1", "1"):
        return True
    if value in ("false", "?0", "0"):
        return False
    return None


@dataclass(frozen=True, slots=True)
class ClientHints:
    """User-agent client hints, from ``navigator.userAgentData`` and ``Sec-CH-UA*``.

    Only Chromium-based browsers implement client hints, so any real brand here says
    the client is Chromium-based whatever its user agent string says (:attr:`engine`).
    ``sources`` says where they came from: ``page`` (the collector's
    ``userAgentData``), ``headers`` (``Sec-CH-UA*`` of the HTTP requests), or both;
    the page's values win where both are present."""

    brands: tuple[tuple[str, str], ...] = ()
    full_version_list: tuple[tuple[str, str], ...] = ()
    mobile: bool | None = None
    platform: str = ""
    platform_version: str = ""
    model: str = ""
    form_factors: tuple[str, ...] = ()
    header_brands: tuple[tuple[str, str], ...] = ()  # Sec-CH-UA as sent, for comparison
    sources: tuple[str, ...] = ()

    @property
    def real_brands(self) -> tuple[tuple[str, str], ...]:
        """The brands without Chromium's GREASE entry."""
        return tuple(b for b in self.brands or self.full_version_list if not is_grease_brand(b[0]))

    @property
    def engine(self) -> Engine:
        return Engine.BLINK if self.real_brands else Engine.UNKNOWN

    def as_dict(self) -> dict[str, Any]:
        return {
            "brands": [list(b) for b in self.brands],
            "full_version_list": [list(b) for b in self.full_version_list],
            "mobile": self.mobile,
            "platform": self.platform,
            "platform_version": self.platform_version,
            "model": self.model,
            "form_factors": list(self.form_factors),
            "header_brands": [list(b) for b in self.header_brands],
            "sources": list(self.sources),
            "engine": self.engine.value,
        }


def client_hints(
    page: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str]] = (),
) -> ClientHints | None:
    """The client hints of the page's ``userAgentData`` report (name/value pairs as the
    collector flattens them) and of ``Sec-CH-UA*`` request headers; ``None`` when
    neither carries any. Unknown names are ignored; values are bounded."""
    p: dict[str, str] = {}
    for name, value in list(page)[:64]:
        if isinstance(name, str) and isinstance(value, str):
            p[name] = value[: _MAX_HINT_CHARS * 4]
    h: dict[str, str] = {}
    for name, value in list(headers)[:64]:
        if (
            isinstance(name, str)
            and isinstance(value, str)
            and name.lower().startswith("sec-ch-ua")
        ):
            h.setdefault(name.lower(), value[: _MAX_HINT_CHARS * 4])

    brands = parse_brand_list(p.get("brands", ""))
    page_used = bool(brands)
    full = parse_brand_list(p.get("fullVersionList", ""))
    page_used |= bool(full)
    mobile = _bool(p.get("mobile", ""))
    page_used |= mobile is not None
    platform = _text(p.get("platform", ""))
    platform_version = _text(p.get("platformVersion", ""))
    model = _text(p.get("model", ""))
    form_factors = _json_strings(p.get("formFactors", ""))
    page_used |= bool(platform or platform_version or model or form_factors)

    header_used = any(v.strip() for v in h.values())
    header_brands = parse_brand_list(h.get("sec-ch-ua", ""))
    if not brands:
        brands = header_brands
    if not full and "sec-ch-ua-full-version-list" in h:
        full = parse_brand_list(h["sec-ch-ua-full-version-list"])
    if mobile is None and "sec-ch-ua-mobile" in h:
        mobile = _bool(h["sec-ch-ua-mobile"])
    if not platform and "sec-ch-ua-platform" in h:
        platform = _sf_string(h["sec-ch-ua-platform"])
    if not platform_version and "sec-ch-ua-platform-version" in h:
        platform_version = _sf_string(h["sec-ch-ua-platform-version"])
    if not model and "sec-ch-ua-model" in h:
        model = _sf_string(h["sec-ch-ua-model"])
    if not form_factors and "sec-ch-ua-form-factors" in h:
        form_factors = _sf_strings(h["sec-ch-ua-form-factors"])

    if not (page_used or header_used):
        return None
    sources = tuple(s for s, used in (("page", page_used), ("headers", header_used)) if used)
    return ClientHints(
        brands=brands,
        full_version_list=full,
        mobile=mobile,
        platform=platform,
        platform_version=platform_version,
        model=model,
        form_factors=form_factors,
        header_brands=header_brands,
        sources=sources,
    )


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    if head.isdigit() and len(head) <= 6:
        return int(head)
    return None


def _engine_from_tokens(ua: str) -> Engine:
    # Product tokens, for families the tables do not know. EdgeHTML ("Edge/18") and
    # Trident carry a "Chrome/" or "Gecko" token without being Blink or Gecko.
    if "Edge/" in ua or "Trident/" in ua or "Presto/" in ua:
        return Engine.UNKNOWN
    if "Firefox/" in ua and "Gecko/" in ua and "rv:" in ua and "AppleWebKit" not in ua:
        return Engine.GECKO
    if "AppleWebKit/" in ua and ("Chrome/" in ua or "Chromium/" in ua):
        return Engine.BLINK
    if "AppleWebKit/" in ua and "Version/" in ua and "Safari/" in ua and "Android" not in ua:
        return Engine.WEBKIT
    return Engine.UNKNOWN


def engine_for(browser: str, os: str, user_agent: str = "", browser_version: str = "") -> Engine:
    """The engine a claimed browser runs on.

    Every browser on iOS/iPadOS is WebKit (Apple's rule: Chrome, Firefox and Edge for iOS
    are WebKit shells). Otherwise the family decides (:data:`_BLINK_FAMILIES`…); old
    majors of Edge and Opera (EdgeHTML, Presto) claim no engine; unknown families fall
    back to the UA's product tokens."""
    if os in ("iOS", "iPadOS"):
        return Engine.WEBKIT
    minimum = _MIN_MAJOR.get(browser)
    if minimum is not None:
        major = _major(browser_version)
        if major is not None and major < minimum:
            return Engine.UNKNOWN
    if browser in _BLINK_FAMILIES:
        return Engine.BLINK
    if browser in _GECKO_FAMILIES:
        return Engine.GECKO
    if browser in _WEBKIT_FAMILIES:
        return Engine.WEBKIT
    return _engine_from_tokens(user_agent)


def device_type_for(user_agent: str, os: str = "", device_family: str = "") -> DeviceType:
    """The form factor the user agent claims.

    Phones say "Mobile" (Chrome's "Mobile Safari/", Firefox's "Mobile;"), Android
    tablets leave it out, iPads say "iPad" (but iPadOS Safari sends a macOS desktop UA by
    default, so it claims desktop). A bot is a parser's ``Spider`` device family."""
    if device_family in _BOT_FAMILIES:
        return DeviceType.BOT
    low = user_agent.lower()
    if os in ("iOS", "iPadOS") or any(t in low for t in ("iphone", "ipod", "ipad")):
        if "ipad" in low or device_family == "iPad":
            return DeviceType.TABLET
        return DeviceType.MOBILE
    if os == "Android" or "android" in low:
        return DeviceType.MOBILE if "mobile" in low else DeviceType.TABLET
    if any(t in low for t in _MOBILE_TOKENS):
        return DeviceType.MOBILE
    if "tablet" in low and "tablet pc" not in low:
        return DeviceType.TABLET
    if any(t in user_agent for t in _DESKTOP_TOKENS):
        return DeviceType.DESKTOP
    return DeviceType.UNKNOWN


@dataclass(frozen=True, slots=True)
class ClientClaim:
    """Who the client says it is: parsed user agent plus client hints, with the inputs.

    ``user_agent`` is the string parsed (bounded to :data:`MAX_UA_CHARS`) and
    ``user_agent_source`` where it came from (``page``: ``navigator.userAgent``;
    ``http``: the ``User-Agent`` header); ``http_user_agent`` is the header when it
    differs from the page's (else ``None``). ``parser`` names the parser and its rules
    version. ``notes`` lists contradictions inside the claim itself."""

    browser: str = ""
    browser_version: str = ""
    browser_major: int | None = None
    engine: Engine = Engine.UNKNOWN
    os: str = ""
    os_version: str = ""
    device: DeviceType = DeviceType.UNKNOWN
    device_brand: str = ""
    device_model: str = ""
    hints: ClientHints | None = None
    user_agent: str = ""
    user_agent_source: str = ""
    http_user_agent: str | None = None
    parser: str = ""
    notes: tuple[str, ...] = ()

    @property
    def platform(self) -> str:
        """The OS as a client-hint platform name (``Windows``, ``macOS``, ``Android``…)."""
        return _PLATFORM_OF_OS.get(self.os, self.os)

    @property
    def hints_engine(self) -> Engine:
        return Engine.UNKNOWN if self.hints is None else self.hints.engine

    def label(self) -> str:
        """``Firefox 153 on Linux (desktop)`` — for sentences."""
        name = self.browser or "an unrecognised browser"
        if self.browser_major is not None:
            name += f" {self.browser_major}"
        if self.os:
            name += f" on {self.os}"
        if self.device is not DeviceType.UNKNOWN:
            name += f" ({self.device.value})"
        return name

    def as_dict(self) -> dict[str, Any]:
        return {
            "browser": self.browser,
            "browser_version": self.browser_version,
            "browser_major": self.browser_major,
            "engine": self.engine.value,
            "os": self.os,
            "os_version": self.os_version,
            "device": self.device.value,
            "device_brand": self.device_brand,
            "device_model": self.device_model,
            "hints": None if self.hints is None else self.hints.as_dict(),
            "user_agent": self.user_agent,
            "user_agent_source": self.user_agent_source,
            "http_user_agent": self.http_user_agent,
            "parser": self.parser,
            "notes": list(self.notes),
        }


def _claim_notes(claim: ClientClaim) -> tuple[str, ...]:
    notes: list[str] = []
    if claim.http_user_agent is not None:
        notes.append("http_user_agent_differs")
    hints = claim.hints
    if hints is None:
        return tuple(notes)
    if hints.engine is Engine.BLINK and claim.engine in (Engine.GECKO, Engine.WEBKIT):
        notes.append("hints_from_non_chromium")
    page_names = {b for b, _ in hints.brands if not is_grease_brand(b)}
    header_names = {b for b, _ in hints.header_brands if not is_grease_brand(b)}
    if "page" in hints.sources and header_names and page_names != header_names:
        notes.append("hints_page_headers_differ")
    known_platform = hints.platform not in ("", "Unknown") and bool(claim.os)
    if known_platform and hints.platform.lower() != claim.platform.lower():
        notes.append("hints_platform_differs")
    expected_mobile = {DeviceType.DESKTOP: False, DeviceType.MOBILE: True}.get(claim.device)
    if hints.mobile is not None and expected_mobile is not None and hints.mobile != expected_mobile:
        notes.append("hints_mobile_differs")
    chromium = next((v for b, v in hints.brands if b == "Chromium"), None)
    if chromium is not None and claim.engine is Engine.BLINK:
        m = re.search(r"Chrom(?:e|ium)/(\d{1,6})", claim.user_agent)
        hint_major = _major(chromium)
        if m is not None and hint_major is not None and int(m.group(1)) != hint_major:
            notes.append("hints_version_differs")
    return tuple(notes)


def build_claim(
    user_agent: str,
    parsed: ParsedAgent,
    *,
    hints: ClientHints | None = None,
    source: str = "page",
    http_user_agent: str | None = None,
    parser: str = "",
) -> ClientClaim:
    """The claim of one client (pure; never raises). ``parsed`` is what the adapter's
    parser made of ``user_agent``; ``http_user_agent`` is the header's value, kept only
    when it differs from ``user_agent``."""
    ua = _text(user_agent, MAX_UA_CHARS) if isinstance(user_agent, str) else ""
    browser = _text(parsed.browser)
    version = _text(parsed.browser_version, 64)
    os = _text(parsed.os)
    header = None
    if (
        isinstance(http_user_agent, str)
        and http_user_agent
        and http_user_agent[:MAX_UA_CHARS] != ua
    ):
        header = _text(http_user_agent, MAX_UA_CHARS)
    claim = ClientClaim(
        browser=browser,
        browser_version=version,
        browser_major=_major(version),
        engine=engine_for(browser, os, ua, version) if ua else Engine.UNKNOWN,
        os=os,
        os_version=_text(parsed.os_version, 64),
        device=device_type_for(ua, os, parsed.device_family) if ua else DeviceType.UNKNOWN,
        device_brand=_text(parsed.device_brand),
        device_model=_text(parsed.device_model or parsed.device_family),
        hints=hints,
        user_agent=ua,
        user_agent_source=source if ua else "",
        http_user_agent=header,
        parser=_text(parser),
    )
    notes = _claim_notes(claim)
    return replace(claim, notes=notes) if notes else claim


# --- reading the stored form back -------------------------------------------------------


def _str(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError("expected a list of pairs")
    out = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise TypeError("expected a [name, version] pair")
        out.append((_str(item[0]), _str(item[1])))
    return tuple(out)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError("expected a list of strings")
    return tuple(_str(v) for v in value)


def _opt_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _hints_from_dict(data: Any) -> ClientHints | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TypeError("hints: expected an object")
    return ClientHints(
        brands=_pairs(data.get("brands")),
        full_version_list=_pairs(data.get("full_version_list")),
        mobile=_opt_bool(data.get("mobile")),
        platform=_str(data.get("platform")),
        platform_version=_str(data.get("platform_version")),
        model=_str(data.get("model")),
        form_factors=_strings(data.get("form_factors")),
        header_brands=_pairs(data.get("header_brands")),
        sources=_strings(data.get("sources")),
    )


def client_claim_from_dict(data: Mapping[str, Any]) -> ClientClaim:
    """Read back :meth:`ClientClaim.as_dict` (stored evidence); raise :class:`ParseError`."""
    try:
        if not isinstance(data, Mapping):
            raise TypeError("expected an object")
        major = data.get("browser_major")
        if major is not None and (isinstance(major, bool) or not isinstance(major, int)):
            raise TypeError("browser_major: expected an integer")
        http_ua = data.get("http_user_agent")
        return ClientClaim(
            browser=_str(data.get("browser")),
            browser_version=_str(data.get("browser_version")),
            browser_major=major,
            engine=Engine(data.get("engine", "unknown")),
            os=_str(data.get("os")),
            os_version=_str(data.get("os_version")),
            device=DeviceType(data.get("device", "unknown")),
            device_brand=_str(data.get("device_brand")),
            device_model=_str(data.get("device_model")),
            hints=_hints_from_dict(data.get("hints")),
            user_agent=_str(data.get("user_agent")),
            user_agent_source=_str(data.get("user_agent_source")),
            http_user_agent=None if http_ua is None else _str(http_ua),
            parser=_str(data.get("parser")),
            notes=_strings(data.get("notes")),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError("evidence", f"unreadable stored client claim: {exc}") from None
