"""The server namespace's process for the listener's real-browser tests.

Serves the capture page and result sink of ``tests/browser`` (:class:`HttpSink`) and runs
the **real** STUN/TURN listener (:func:`icewatch.listener.start_listener`), one per
``--stun HOST,HOST:PORT:CODE`` with that refusal code, so one sandbox compares 403, 486
and 508 side by side. Every observation and every listener's counters at exit are
written to ``<out>/datagrams.jsonl`` (the file the browser harness reads per visit).

``python -m tests.listener.browser_serve --out DIR --secret HEX --http 10.77.1.1:8080
--stun 10.77.1.1,fd77:1::1:3478:403`` prints ``ready`` once everything is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

from tests.browser.httpsink import HttpSink

from icewatch.core.evidence import Observation
from icewatch.core.stun.server import ServerConfig
from icewatch.listener import Listener, start_listener

REALM = "icewatch.test"


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


async def _main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "datagrams.jsonl").open("a", buffering=1)
    sink = HttpSink(out)
    keep: list[Any] = []
    for spec in args.http:
        host, port = _hostport(spec)
        keep.append(await asyncio.start_server(sink.handle, host=host, port=port))

    def record(code: int) -> Any:
        def on_observation(obs: Observation) -> None:
            entry = {"t": obs.at, "dir": "in", "refuse_code": code, **obs.as_dict()}
            entry["src"] = (
                f"[{obs.ip}]:{obs.port}" if obs.ip.version == 6 else f"{obs.ip}:{obs.port}"
            )
            log.write(json.dumps(entry) + "\n")

        return on_observation

    listeners: list[Listener] = []
    secret = bytes.fromhex(args.secret)
    for spec in args.stun:
        hosts_port, _, code_text = spec.rpartition(":")
        hosts, _, port_text = hosts_port.rpartition(":")
        code = int(code_text)
        cfg = ServerConfig(secret=secret, realm=REALM, refuse_code=code)
        listeners.append(await start_listener(hosts.split(","), int(port_text), cfg, record(code)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for listener in listeners:
        await listener.close()
        stats = {
            "t": time.time(),
            "dir": "stats",
            "port": listener.port,
            **listener.stats.as_dict(),
        }
        log.write(json.dumps(stats) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--http", action="append", default=[])
    p.add_argument("--stun", action="append", default=[])
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
