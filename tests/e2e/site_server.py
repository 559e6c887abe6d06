"""A tiny "customer site" for the integration end-to-end test, run *inside* a namespace.

``python -m tests.e2e.site_server --listen HOST:PORT --icewatch URL --snippet FILE
--log FILE`` (the API key in ``ICEWATCH_API_KEY``, the webhook secret in
``SITE_WEBHOOK_SECRET``) serves, on its own origin:

* ``GET /`` — a shop page with the README's snippet pasted in (``--snippet``: the HTML
  between the README's integration markers, with icewatch's address filled in), plus a
  little test scaffolding *before* it that watches the snippet's ``fetch`` to the backend
  (and its ``console.warn`` on failure), shows the outcome on the page and marks it done
  for the browser driver (``data-icewatch-state``, ``window.icewatch.result``);
* ``POST /icewatch-session`` — the site's backend: ``{"session_id"}`` from the page →
  ``icewatch.client.IcewatchClient.wait_for_verdict`` → what the backend decided;
* ``POST /hook`` — the site's webhook endpoint: ``icewatch.client.verify_webhook``.

Every backend check and webhook is appended to ``--log`` as one JSON line. Prints
``ready`` once listening.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from icewatch.client import IcewatchClient, IcewatchClientError, verify_webhook

SCAFFOLDING = """<script>
  // Test scaffolding, not part of the snippet: watch the snippet's call to the backend.
  (() => {
    const done = (result) => {
      const show = document.getElementById("outcome");
      if (show) show.textContent = JSON.stringify(result, null, 2);
      window.icewatch.result = result;
      document.documentElement.dataset.icewatchState = "done";
    };
    const fetch0 = window.fetch.bind(window);
    window.fetch = async (url, init) => {
      const response = await fetch0(url, init);
      if (String(url).endsWith("/icewatch-session")) {
        response.clone().json().then((answer) => done({backend: answer}));
      }
      return response;
    };
    const warn0 = console.warn.bind(console);
    console.warn = (...args) => {
      if (args[0] === "icewatch:") done({error: String(args[1])});
      warn0(...args);
    };
  })();
</script>"""

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Example shop: sign in</title>
<style>
  body {{ font: 16px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 44rem; }}
  header {{ border-bottom: 2px solid #246; margin-bottom: 1rem; }}
  pre {{ background: #f4f6f8; padding: 1rem; white-space: pre-wrap; }}
  .origin {{ color: #555; font-size: 0.9rem; }}
</style></head>
<body>
<header><h1>Example shop</h1><p class="origin">{origin} — icewatch at {icewatch}</p></header>
<form><label>E-mail <input name="email" value="visitor@example.org"></label>
<button type="button">Sign in</button></form>
<h2>What the shop's backend decided (icewatch.client)</h2>
<pre id="outcome">waiting for the verdict…</pre>
{scaffolding}
<!-- the README's snippet -->
{snippet}
</body></html>
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--icewatch", required=True)
    ap.add_argument("--snippet", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    api_key = os.environ["ICEWATCH_API_KEY"]
    secret = os.environ.get("SITE_WEBHOOK_SECRET", "")
    snippet = Path(args.snippet).read_text()
    origin = f"http://{args.listen}"
    page = PAGE.format(
        origin=origin, icewatch=args.icewatch, scaffolding=SCAFFOLDING, snippet=snippet
    ).encode()
    lock = threading.Lock()
    client = IcewatchClient(args.icewatch, api_key, timeout=5)

    def record(entry: dict[str, Any]) -> None:
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/":
                self._answer(200, page, "text/html; charset=utf-8")
            else:
                self._answer(404, b"{}")

        def do_POST(self) -> None:
            size = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
            body = self.rfile.read(size)
            if self.path == "/icewatch-session":
                self._session(body)
            elif self.path == "/hook":
                self._hook(body)
            else:
                self._answer(404, b"{}")

        def _session(self, body: bytes) -> None:
            try:
                session_id = str(json.loads(body)["session_id"])
                with lock:  # one httpx.Client, used from one thread at a time
                    verdict = client.wait_for_verdict(session_id, timeout=10, interval=0.2)
            except (ValueError, KeyError, TypeError):
                self._answer(400, b'{"error":"no session_id"}')
                return
            except IcewatchClientError as exc:
                failed = {"error": exc.code, "status": exc.status, "message": exc.message}
                record({"kind": "backend", **failed})
                self._answer(502, json.dumps(failed).encode())
                return
            answer: dict[str, Any] = {
                "session_id": verdict.session_id,
                "level": verdict.level,
                "score": verdict.score,
                "signals": [
                    {"code": s.code, "title": s.title, "reason": s.reason} for s in verdict.signals
                ],
                "created_at": verdict.created_at,
                "client_ip": verdict.document["http"]["client_ip"],
                "decision": "step-up" if verdict.level == "high" else "allow",
            }
            record({"kind": "backend", **answer})
            self._answer(200, json.dumps(answer).encode())

        def _hook(self, body: bytes) -> None:
            try:
                event = verify_webhook(body, self.headers.get("Icewatch-Signature"), secret)
            except IcewatchClientError as exc:
                record({"kind": "webhook_refused", "error": exc.message})
                self._answer(400, b"{}")
                return
            record(
                {
                    "kind": "webhook",
                    "event_id": self.headers.get("Icewatch-Event-Id"),
                    "event": event,
                }
            )
            self._answer(204, b"")

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
