"""The server namespace's process: the test page + result sink, and the STUN/TURN responder.

``python -m tests.browser.serve --out DIR --http 10.77.1.1:8080 --stun 10.77.1.1:3478
--stun [fd77:1::1]:3478 --secret S --realm R`` prints ``ready`` once every listener is bound.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tests.browser.httpsink import HttpSink
from tests.browser.stunserver import StunResponder, start_stun


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def _main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sink = HttpSink(out)
    responder = StunResponder(out, realm=args.realm, secret=args.secret)
    keep = []
    for spec in args.http:
        host, port = _hostport(spec)
        keep.append(await asyncio.start_server(sink.handle, host=host, port=port))
    for spec in args.stun:
        host, port = _hostport(spec)
        keep.extend(await start_stun(responder, host, port))
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--http", action="append", default=[])
    p.add_argument("--stun", action="append", default=[])
    p.add_argument("--secret", required=True)
    p.add_argument("--realm", default="icewatch.test")
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
