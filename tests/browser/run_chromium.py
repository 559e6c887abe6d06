"""Drive Chromium with Playwright, from *inside* a namespace, and print the page's result.

``python -m tests.browser.run_chromium --url URL --profile DIR [--timeout S] -- FLAG...``
prints one JSON object: ``{"result": <the page's result>, "version": ..., "console": [...]}``.
Never ``playwright install``: it drives the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
BASE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def run(url: str, profile: str, flags: list[str], timeout: float) -> dict[str, Any]:
    console: list[str] = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            chromium_sandbox=False,
            args=[*BASE_FLAGS, *flags],
        )
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.goto(url, timeout=timeout * 1000)
            page.wait_for_function(
                "document.documentElement.dataset.state === 'done'", timeout=timeout * 1000
            )
            result = page.evaluate("window.__iwResult")
        finally:
            ctx.close()
    return {"result": result, "console": console}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("flags", nargs="*")
    args = ap.parse_args()
    out = run(args.url, args.profile, args.flags, args.timeout)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
