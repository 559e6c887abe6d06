"""Operator-API helper run *inside* a namespace (the tests' own namespace cannot reach the
sandbox): wait for a session to be reported and print its JSON.

``python -m tests.e2e.api wait --base http://10.77.1.1:8080 --since UNIX --timeout S
[--client-ip IP] [--exclude ID,...]`` with the key in ``ICEWATCH_API_KEY`` polls
``GET /api/v1/sessions`` (newest first) for the first session created at or after
``--since`` that has its report, then prints ``GET /api/v1/sessions/{id}``. This is how
a Firefox visit is read back: plain headless Firefox cannot be scripted, so the test
reads what the page stored instead of ``window.icewatch.result``.

``python -m tests.e2e.api get --base URL --id ID`` prints one session.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from typing import Any


def _get(base: str, path: str, key: str) -> Any:
    req = urllib.request.Request(base + path, headers={"X-API-Key": key})  # noqa: S310
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - a sandbox URL
        return json.loads(resp.read())


def wait_reported(
    base: str, key: str, since: float, timeout: float, client_ip: str | None, exclude: set[str]
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        listing = _get(base, "/api/v1/sessions?limit=20", key)
        for s in listing["sessions"]:
            if s["id"] in exclude or s["created_at"] < since or not s["reported"]:
                continue
            if client_ip is not None and s["client_ip"] != client_ip:
                continue
            doc: dict[str, Any] = _get(base, f"/api/v1/sessions/{s['id']}", key)
            return doc
        if time.monotonic() > deadline:
            raise SystemExit(f"no reported session since {since} within {timeout} s")
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["wait", "get"])
    ap.add_argument("--base", required=True)
    ap.add_argument("--since", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--client-ip")
    ap.add_argument("--exclude", default="")
    ap.add_argument("--id")
    args = ap.parse_args()
    key = os.environ["ICEWATCH_API_KEY"]
    if args.command == "get":
        doc = _get(args.base, f"/api/v1/sessions/{args.id}", key)
    else:
        exclude = {x for x in args.exclude.split(",") if x}
        doc = wait_reported(args.base, key, args.since, args.timeout, args.client_ip, exclude)
    sys.stdout.write(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
