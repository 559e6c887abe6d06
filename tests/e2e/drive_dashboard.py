"""Drive Chromium through the dashboard, from *inside* a namespace, like an operator.

``python -m tests.e2e.drive_dashboard --base URL --key-file FILE --out DIR
--filter-ip IP`` opens ``/dashboard`` (sent to the login form), tries a wrong key,
logs in with the right one, opens the overview, the sessions list, applies the IP
filter through the form, opens the first session's detail page, an unknown dashboard
page (404), deletes the oldest session through its page's button and the confirmation
page, logs out, and saves a full-page screenshot of each page into ``DIR``. Prints one
JSON object: per step the URL, HTTP status, heading, the session ids listed, plus every
request URL the pages made and the console messages (a CSP violation shows up there).
Never ``playwright install``: it drives the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.browser.run_chromium import BASE_FLAGS, CHROMIUM

ROWS = """() => Array.from(document.querySelectorAll('a.session-link'))
  .map(a => a.getAttribute('href').split('/').pop())"""
SUMMARY = """() => ({
  h1: (document.querySelector('h1') || {}).textContent || '',
  badge: (document.querySelector('.verdict-head .badge') || {}).textContent || null,
  alert: (document.querySelector('.alert') || {}).textContent || null,
  notice: (document.querySelector('.notice') || {}).textContent || null,
  count: (document.querySelector('#sessions-count') || {}).textContent || null,
  chips: Array.from(document.querySelectorAll('a.chip')).map(a => a.textContent.trim()),
  data_tables: document.querySelectorAll('details.chart-data').length,
  flagged: (document.querySelector('#flagged-share strong') || {}).textContent || null,
  webhook: (document.querySelector('#webhook .badge') || {}).textContent || null,
  webhook_text: (document.querySelector('#webhook .webhook-text') || {}).textContent || null,
  svgs: document.querySelectorAll('svg.chart').length,
  kpis: Object.fromEntries(Array.from(document.querySelectorAll('.kpi')).map(k =>
    [k.querySelector('.kpi-label').textContent.trim().toLowerCase(),
     Number(k.querySelector('.kpi-value').textContent)])),
  stylesheets: document.styleSheets.length,
  providers_chart_empty: (() => {
    const svg = document.querySelector('svg[aria-labelledby^="chart-providers-title"]');
    return svg ? svg.textContent.includes('No data') : null;
  })(),
  topbar_bg: getComputedStyle(document.querySelector('.topbar')).backgroundColor,
})"""


def run(base: str, key: str, out: Path, filter_ip: str) -> dict[str, Any]:
    requests: list[str] = []
    console: list[str] = []
    steps: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, chromium_sandbox=False, args=BASE_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))

            def step(name: str, status: int | None, shot: bool = True) -> None:
                steps[name] = {
                    "url": page.url,
                    "status": status,
                    "rows": page.evaluate(ROWS),
                    **page.evaluate(SUMMARY),
                }
                if shot:
                    page.screenshot(path=str(out / f"dashboard-{name}.png"), full_page=True)

            response = page.goto(f"{base}/dashboard")
            step("login", response.status if response else None)

            page.fill("#api_key", "not-the-key-0123456789")
            with page.expect_navigation() as nav:
                page.click("form.login button[type=submit]")
            step("wrong-key", nav.value.status if nav.value else None, shot=False)

            page.fill("#api_key", key)
            with page.expect_navigation() as nav:
                page.click("form.login button[type=submit]")
            step("overview", nav.value.status if nav.value else None)

            with page.expect_navigation() as nav:
                page.click("nav a[href='/dashboard/sessions']")
            step("sessions", nav.value.status if nav.value else None)

            page.fill("input[name=ip]", filter_ip)
            with page.expect_navigation() as nav:
                page.click("form.filters button[type=submit]")
            step("sessions-filtered", nav.value.status if nav.value else None)

            with page.expect_navigation() as nav:
                page.click("a.session-link >> nth=0")
            step("session-detail", nav.value.status if nav.value else None)

            response = page.goto(f"{base}/dashboard/no-such-page")
            step("not-found", response.status if response else None)

            # Delete the oldest session through its page's button and the confirmation.
            response = page.goto(f"{base}/dashboard/sessions")
            with page.expect_navigation() as nav:
                page.click("a.session-link >> nth=-1")
            steps["delete-target"] = page.url.split("/")[-1]
            with page.expect_navigation() as nav:
                page.click("a.button.danger-outline")
            step("delete-confirm", nav.value.status if nav.value else None)
            with page.expect_navigation() as nav:
                page.click("form.confirm button.danger")
            step("deleted", nav.value.status if nav.value else None)

            with page.expect_navigation() as nav:
                page.click("form.logout button")
            step("logged-out", nav.value.status if nav.value else None, shot=False)
            response = page.goto(f"{base}/dashboard/sessions")
            step("after-logout", response.status if response else None, shot=False)
        finally:
            browser.close()
    return {"steps": steps, "requests": requests, "console": console}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key-file", required=True, help="a file holding the API key")
    ap.add_argument("--out", required=True)
    ap.add_argument("--filter-ip", required=True)
    args = ap.parse_args()
    key = Path(args.key_file).read_text().strip()
    result = run(args.base, key, Path(args.out), args.filter_ip)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
