"""Drive Chromium against the real leak-test page, from *inside* a namespace.

``python -m tests.e2e.drive_chromium --url URL --profile DIR [--runs N] [--timeout S]
[--init-script FILE]... -- FLAG...`` loads the page ``N`` times in one browser (a fresh
navigation each run, same profile), waits for
``document.documentElement.dataset.icewatchState === "done"`` and prints one JSON object::

    {"version": ..., "console": [...],
     "runs": [{"result": <await window.icewatch.result>, "done_ms": ...,
               "timing": {...}, "error": ...}]}

``done_ms`` is measured in the page: an init script (run before any page code)
watches the ``data-icewatch-state`` attribute with a MutationObserver and stores
``performance.now()`` (milliseconds since navigation start) when it becomes ``done``.
The driver polls for that mark every 10 ms, which adds nothing to the measurement.
``timing`` breaks it down with Resource Timing (session created, report sent/answered).
Each ``--init-script`` file is added with Playwright's ``add_init_script``: it runs in
every frame before any of the page's code (how tests play an extension that wraps the
WebRTC API). Never ``playwright install``: it drives the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from playwright.sync_api import sync_playwright

from tests.browser.run_chromium import BASE_FLAGS, CHROMIUM

#: Evaluated through the DevTools protocol, which the page's CSP (script-src 'self',
#: no eval) does not restrict; ``wait_for_function`` would need eval inside the page.
DONE = "() => window.__iwDoneAt !== undefined"

#: Records when the page says it is done, in milliseconds since navigation start.
TIMING_SCRIPT = """
(() => {
  // Runs before the document is parsed: <html> may not exist yet, so watch the
  // whole document for the attribute.
  const mark = () => {
    const root = document.documentElement;
    if (root && root.dataset.icewatchState === "done" && window.__iwDoneAt === undefined) {
      window.__iwDoneAt = performance.now();
    }
  };
  new MutationObserver(mark).observe(document, {
    attributes: true, subtree: true, childList: true,
    attributeFilter: ["data-icewatch-state"],
  });
  mark();
})();
"""

#: Where the time went, in milliseconds since navigation start (Resource Timing).
TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const res = performance.getEntriesByType("resource");
  const create = res.find(e => e.name.endsWith("/api/v1/sessions"));
  const report = res.find(e => e.name.endsWith("/report"));
  const offer = res.find(e => e.name.endsWith("/offer"));
  const span = e => e ? {start: e.startTime, end: e.responseEnd} : null;
  return {dom_content_loaded: nav.domContentLoadedEventEnd ?? null,
          load: nav.loadEventEnd ?? null,
          create: span(create), report: span(report), offer: span(offer)};
}"""

RESULT = """async () => {
  const r = await window.icewatch.result;
  return JSON.parse(JSON.stringify(r));
}"""


def _wait_done(page: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(DONE):
        if time.monotonic() > deadline:
            state = page.evaluate("() => document.documentElement.dataset.icewatchState")
            raise TimeoutError(f"page not done after {timeout} s (state {state!r})")
        page.wait_for_timeout(10)


def run(
    url: str,
    profile: str,
    flags: list[str],
    runs: int,
    timeout: float,
    screenshot: str | None = None,
    init_scripts: list[str] | None = None,
) -> dict[str, Any]:
    console: list[str] = []
    out: list[dict[str, Any]] = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            chromium_sandbox=False,
            args=[*BASE_FLAGS, *flags],
        )
        try:
            ctx.add_init_script(TIMING_SCRIPT)
            for path in init_scripts or ():
                ctx.add_init_script(path=path)
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            version = ctx.browser.version if ctx.browser else "unknown"
            for _ in range(runs):
                try:
                    page.goto(url, timeout=timeout * 1000)
                    _wait_done(page, timeout)
                    result = page.evaluate(RESULT)
                    done_ms = page.evaluate("window.__iwDoneAt")
                    timing = page.evaluate(TIMING)
                    out.append(
                        {"result": result, "done_ms": done_ms, "timing": timing, "error": None}
                    )
                except Exception as exc:  # report, keep the browser for the next run
                    out.append(
                        {"result": None, "done_ms": None, "timing": None, "error": str(exc)[:2000]}
                    )
            if screenshot:
                page.set_viewport_size({"width": 1280, "height": 900})
                page.screenshot(path=screenshot, full_page=True)
        finally:
            ctx.close()
    return {"version": version, "console": console, "runs": out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--screenshot", help="save a full-page PNG of the last run here")
    ap.add_argument(
        "--init-script", action="append", default=[], help="a script file run before the page"
    )
    ap.add_argument("flags", nargs="*")
    args = ap.parse_args()
    out = run(
        args.url,
        args.profile,
        args.flags,
        args.runs,
        args.timeout,
        args.screenshot,
        args.init_script,
    )
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
