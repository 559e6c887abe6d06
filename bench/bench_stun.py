"""STUN Binding throughput on loopback: icewatch's listener side by side with coturn.

Each server runs pinned to one core (``--server-cpu``); the load generator runs in this
process pinned to another (``--client-cpu``). The generator is bounded: it sends a fixed
number of pre-built Binding requests (distinct transaction ids) over several UDP
sockets, never more than ``--window`` outstanding, counts the distinct replies and stops
by itself (a request unanswered for ``--loss-timeout`` seconds is counted lost and its
window slot freed). Servers, in the same run, each for ``--rounds`` rounds:

* ``icewatch (uvloop)`` — :func:`icewatch.listener.start_listener` under uvloop, every
  Binding answered by the core and its observation appended to a bounded deque (what
  the service's enqueue costs);
* ``icewatch (asyncio)`` — the same under the default event loop;
* ``coturn`` — ``turnserver`` started here on 127.0.0.1 with a fresh temporary
  configuration (``stun-only``, ``no-cli``, no TLS/DTLS, fingerprints, log to a temp
  file), stopped at the end. ``apt-get install -y coturn`` if it is missing.

Printed per server (median round by rate): responses/s, loss, the server's CPU time per
response (``/proc/<pid>/stat``, all threads), how busy the server and the generator
cores were (CPU time over wall time; kernel work done in softirq context is not
counted), and which side limited the rate: ``server`` or ``generator`` when only that
core was ≥ 90 % busy, ``both cores saturated`` when both were (then the generator may
be hiding some of the server's headroom).

Usage: ``.venv/bin/python bench/bench_stun.py [--requests 200000] [--window 128]
[--rounds 3] [--json]``. Needs two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COOKIE = b"\x21\x12\xa4\x42"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the icewatch server (run as a child process) -------------------------------------


def serve(loop_kind: str, port: int, cpu: int) -> None:
    """``--serve``: run the listener pinned to ``cpu`` until SIGTERM; print its stats."""
    os.sched_setaffinity(0, {cpu})
    from icewatch.core.evidence import Observation
    from icewatch.listener import ServerConfig, start_listener

    sink: collections.deque[Observation] = collections.deque(maxlen=65536)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        cfg = ServerConfig(secret=b"bench" * 8, realm="bench")
        listener = await start_listener("127.0.0.1", port, cfg, sink.append)
        print(f"ready {listener.port}", flush=True)
        await stop.wait()
        await listener.close()
        print(json.dumps(listener.stats.as_dict()), flush=True)

    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


# --- servers under test -----------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[str]
    port: int
    workdir: Path | None = None

    def cpu_seconds(self) -> float:
        """utime + stime of the process, all threads (``/proc/<pid>/stat``)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
        else:
            out = ""
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return out or ""


def free_port() -> int:
    """A port free for UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def start_icewatch(loop_kind: str, cpu: int) -> Server:
    port = free_port()
    cmd = [sys.executable, __file__, "--serve", loop_kind, "--port", str(port),
           "--server-cpu", str(cpu)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"icewatch server did not start: {line!r}")
    return Server(f"icewatch ({loop_kind})", proc, port)


COTURN_CONF = """\
listening-ip=127.0.0.1
listening-port={port}
stun-only
no-cli
no-tls
no-dtls
fingerprint
no-software-attribute
realm=bench
log-file={log}
simple-log
no-stdout-log
pidfile={pid}
"""


def start_coturn(cpu: int) -> Server:
    binary = shutil.which("turnserver")
    if binary is None:
        raise FileNotFoundError("turnserver not found: apt-get install -y coturn")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bench-coturn-"))
    conf = workdir / "turnserver.conf"
    conf.write_text(
        COTURN_CONF.format(port=port, log=workdir / "turn.log", pid=workdir / "turn.pid")
    )
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    server = Server("coturn", proc, port, workdir)
    if not wait_answering(port, 10.0):
        server.stop()
        raise RuntimeError("coturn did not answer a Binding request")
    return server


def binding(index: int) -> bytes:
    """A 20-byte Binding request whose transaction id starts with ``index``."""
    return b"\x00\x01\x00\x00" + COOKIE + index.to_bytes(4, "big") + b"benchstu"


def wait_answering(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.1)
        while time.monotonic() < deadline:
            s.sendto(binding(0xFFFFFFFF), ("127.0.0.1", port))
            with contextlib.suppress(TimeoutError, ConnectionRefusedError):
                if s.recv(2048)[:2] == b"\x01\x01":
                    return True
            time.sleep(0.05)
    return False


# --- the bounded load generator -----------------------------------------------------------


@dataclass
class Round:
    sent: int
    answered: int
    lost: int
    duplicates: int
    seconds: float
    server_cpu: float
    generator_cpu: float

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def generate(
    port: int, requests: list[bytes], window: int, sockets: int, loss_timeout: float
) -> tuple[int, int, int, int, float]:
    """Send every request with at most ``window`` outstanding; return the counts.

    Returns ``(sent, answered, lost, duplicates, seconds)``. Replies are matched by the
    index in their transaction id; a reply to an unknown index or a second reply to
    the same request counts as a duplicate.
    """
    socks = []
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    poller = select.epoll()
    by_fd = {s.fileno(): s for s in socks}
    for s in socks:
        poller.register(s.fileno(), select.EPOLLIN)
    total = len(requests)
    seen = bytearray(total)
    buf = bytearray(2048)
    sent = answered = lost = duplicates = 0
    sends = [s.send for s in socks]
    nsock = len(socks)
    start = time.perf_counter()
    last_reply = start
    try:
        while True:
            outstanding = sent - answered - lost
            limit = min(total, sent + window - outstanding)
            while sent < limit:
                try:
                    sends[sent % nsock](requests[sent])
                except BlockingIOError:
                    break
                sent += 1
            if sent == total and sent == answered + lost:
                break
            events = poller.poll(0.05)
            if not events:
                now = time.perf_counter()
                if now - last_reply > loss_timeout:
                    lost = sent - answered  # the outstanding ones will not come back
                    last_reply = now
                continue
            for fd, _ in events:
                recv_into = by_fd[fd].recv_into
                while True:
                    try:
                        n = recv_into(buf)
                    except BlockingIOError:
                        break
                    except ConnectionRefusedError:
                        break
                    index = int.from_bytes(buf[8:12], "big")
                    if n < 20 or index >= total or seen[index]:
                        duplicates += 1
                        continue
                    seen[index] = 1
                    answered += 1
            last_reply = time.perf_counter()
    finally:
        poller.close()
        for s in socks:
            s.close()
    # a reply that arrived after being declared lost was counted twice
    lost = max(0, sent - answered)
    return sent, answered, lost, duplicates, time.perf_counter() - start


def run_round(server: Server, args: argparse.Namespace) -> Round:
    warm = [binding(i) for i in range(min(5000, args.requests))]
    generate(server.port, warm, args.window, args.sockets, args.loss_timeout)
    requests = [binding(i) for i in range(args.requests)]
    cpu0, gen0 = server.cpu_seconds(), time.process_time()
    sent, answered, lost, dups, seconds = generate(
        server.port, requests, args.window, args.sockets, args.loss_timeout
    )
    cpu1, gen1 = server.cpu_seconds(), time.process_time()
    return Round(sent, answered, lost, dups, seconds, cpu1 - cpu0, gen1 - gen0)


@dataclass
class Row:
    server: str
    responses_per_s: float
    lost: int
    duplicates: int
    answered: int
    cpu_us_per_response: float
    server_busy: float
    generator_busy: float
    limited_by: str
    rates: list[float]


def summarize(name: str, rounds: list[Round]) -> Row:
    ordered = sorted(rounds, key=lambda r: r.rate)
    mid = ordered[len(ordered) // 2]
    server_busy = mid.server_cpu / mid.seconds
    generator_busy = mid.generator_cpu / mid.seconds
    if server_busy >= 0.9 and generator_busy >= 0.9:
        limited = "both cores saturated"
    elif generator_busy >= 0.9:
        limited = "generator"
    elif server_busy >= 0.9:
        limited = "server"
    else:
        limited = "neither (window/latency)"
    return Row(
        server=name,
        responses_per_s=mid.rate,
        lost=sum(r.lost for r in rounds),
        duplicates=sum(r.duplicates for r in rounds),
        answered=sum(r.answered for r in rounds),
        cpu_us_per_response=mid.server_cpu / mid.answered * 1e6 if mid.answered else 0.0,
        server_busy=server_busy,
        generator_busy=generator_busy,
        limited_by=limited,
        rates=[round(r.rate) for r in rounds],
    )


def table(rows: list[Row], coturn: float | None) -> Iterator[str]:
    yield (
        "| server | responses/s | vs coturn | lost | CPU µs/response | server core busy "
        "| generator core busy | limited by | rounds (responses/s) |"
    )
    yield "|---|---:|---:|---:|---:|---:|---:|---|---|"
    for r in rows:
        ratio = f"{r.responses_per_s / coturn:.2f}x" if coturn else "-"
        yield (
            f"| {r.server} | {r.responses_per_s:,.0f} | {ratio} | {r.lost} of {r.answered + r.lost}"
            f" | {r.cpu_us_per_response:.1f} | {r.server_busy:.0%} | {r.generator_busy:.0%}"
            f" | {r.limited_by} | {', '.join(f'{x:,}' for x in r.rates)} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=200_000)
    p.add_argument("--window", type=int, default=1024)
    p.add_argument("--sockets", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--loss-timeout", type=float, default=0.5)
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--servers", default="uvloop,asyncio,coturn")
    p.add_argument("--json", action="store_true", help="also print the rows as JSON")
    p.add_argument("--serve", choices=["uvloop", "asyncio"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.server_cpu)
        return
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs two cores: one for the server, one for the generator")
    os.sched_setaffinity(0, {args.client_cpu})
    starters = {
        "uvloop": lambda: start_icewatch("uvloop", args.server_cpu),
        "asyncio": lambda: start_icewatch("asyncio", args.server_cpu),
        "coturn": lambda: start_coturn(args.server_cpu),
    }
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    rounds: dict[str, list[Round]] = {}
    labels: dict[str, str] = {}
    server_stats: dict[str, Any] = {}
    for _ in range(args.rounds):  # interleaved, so drift hits every server alike
        for key in names:
            server = starters[key]()
            try:
                labels[key] = server.name
                rounds.setdefault(key, []).append(run_round(server, args))
            finally:
                out = server.stop()
            if out.strip():
                server_stats[key] = json.loads(out.strip().splitlines()[-1])
    rows = [summarize(labels[k], rounds[k]) for k in names]
    coturn = next((r.responses_per_s for r in rows if r.server == "coturn"), None)
    print(
        f"STUN Binding over UDP on loopback: {args.requests:,} requests per round, "
        f"window {args.window}, {args.sockets} sockets, {args.rounds} rounds (median shown); "
        f"server on CPU {args.server_cpu}, generator on CPU {args.client_cpu}; "
        f"{platform_line()}"
    )
    print()
    for line in table(rows, coturn):
        print(line)
    best = max((max(r.rates) for r in rows if r.server == "coturn"), default=0)
    if best:
        print()
        for r in rows:
            if r.server != "coturn":
                print(
                    f"{r.server}: median {r.responses_per_s:,.0f}/s = "
                    f"{r.responses_per_s / best:.2f}x coturn's best round ({best:,}/s)"
                )
    for key, stats in server_stats.items():
        print(f"\n{labels[key]} listener counters (last round): {json.dumps(stats)}")
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))


def platform_line() -> str:
    import platform

    version = subprocess.run(
        ["turnserver", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip() if shutil.which("turnserver") else "absent"  # fmt: skip
    return (
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, coturn {version or '?'}"
    )


if __name__ == "__main__":
    main()
