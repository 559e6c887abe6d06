"""``docs/configuration.md``, generated from the settings table.

``python -m icewatch.service.docs > docs/configuration.md`` rewrites it; a test fails
when the file and :data:`~icewatch.service.settings.SETTINGS` differ.
"""

from __future__ import annotations

from icewatch.service.settings import SETTINGS

__all__ = ["render_docs"]


def render_docs() -> str:
    """``docs/configuration.md``, generated from :data:`SETTINGS`."""
    lines = [
        "# Configuration of `icewatch serve`",
        "",
        "<!-- Generated from src/icewatch/service/settings.py by",
        "     `python -m icewatch.service.docs > docs/configuration.md`; do not edit. -->",
        "",
        "Every setting can be given as a command-line flag, an `ICEWATCH_*` environment",
        "variable or a key of a TOML config file (`--config FILE`). Precedence, highest",
        "first: **flag > environment > config file > default**. An empty environment",
        "variable counts as unset. Invalid values stop the server before it binds anything,",
        "with one line naming the flag, variable or file key, and exit code 2.",
        "`icewatch config check` shows each effective value and where it came from.",
        "",
        "| setting | flag | environment | config key | default |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        lines.append(
            f"| [`{s.name}`](#{s.name}) | {_code(s.flag)} | {_code(s.env)} | {_code(s.key)} "
            f"| {_code(s.show_default()) if s.default not in (None, ()) else s.show_default()} |"
        )
    for s in SETTINGS:
        lines += ["", f"## {s.name}", "", s.help, ""]
        lines.append(f"- type: `{s.type.label}`")
        lines.append(f"- default: {s.show_default()}")
        if s.secret:
            lines.append("- secret: never printed (`config check` shows it as set or not)")
    lines += [
        "",
        "## Example config file",
        "",
        "```toml",
        'host = "0.0.0.0"',
        "port = 8080",
        "stun_port = 3478",
        'public_host = "icewatch.example.org"',
        'db = "sqlite:////var/lib/icewatch/icewatch.db"',
        'trusted_proxies = ["10.0.0.0/8"]',
        'cors_origins = ["https://shop.example.org"]',
        "collector_deadline_ms = 1500",
        'log_level = "info"',
        "",
        "# Tables come after the plain keys. Weights over the defaults of docs/signals.md:",
        "[signal_weights]",
        '"ip.webrtc_http_mismatch" = 40',
        '"candidate.spoofed" = 80',
        "```",
        "",
    ]
    return "\n".join(lines)


def _code(text: str | None) -> str:
    return "-" if text is None else f"`{text}`"


if __name__ == "__main__":
    print(render_docs(), end="")
