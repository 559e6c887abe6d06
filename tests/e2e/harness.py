"""The end-to-end sandbox: the real ``icewatch serve`` in the server namespace, an HTTP
forward proxy, DNS stubs, and real browsers loading the real leak-test page.

Built on the browser harness (``tests/browser/netns.py``: namespaces, NAT router,
egress guards)::

    server 10.77.1.1, fd77:1::1  icewatch serve --host :: --port 8080 --stun-port 3478
    proxy  10.77.1.3  tests.browser.proxy on :3128 (forwards only inside the sandbox)
    client 10.77.1.2  on the "internet" segment
    natc   10.77.20.2 behind the NAT router (seen outside as 10.77.1.254)

:meth:`E2E.chromium` drives Chromium through Playwright inside a client namespace and
returns ``await window.icewatch.result``; :meth:`E2E.firefox` starts plain headless
Firefox ESR with a fresh profile and reads the stored session back through the
operator API (it cannot be scripted). Each returns a :class:`Visit`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.browser.drivers import FIREFOX_BASE_PREFS, _clean_env
from tests.browser.netns import (
    CLIENT,
    NAT_CLIENT,
    PROXY,
    PROXY_V4,
    PROXY_V6,
    ROOT,
    SERVER,
    SERVER_V4,
    SERVER_V6,
    Proc,
    Topology,
    _run,
    topology,
)
from tests.browser.proxy import allowed_target, split_hostport

HTTP_PORT = 8080
STUN_PORT = 3478
PROXY_PORT = 3128
PAGE_URL = f"http://{SERVER_V4}:{HTTP_PORT}/"
PAGE_URL_V6 = f"http://[{SERVER_V6}]:{HTTP_PORT}/"
BASE_URL = f"http://{SERVER_V4}:{HTTP_PORT}"
PROXY_FLAG = f"--proxy-server=http://{PROXY_V4}:{PROXY_PORT}"

#: Firefox prefs that send HTTP through the sandbox proxy (nothing is exempt).
FIREFOX_PROXY_PREFS: dict[str, Any] = {
    "network.proxy.type": 1,
    "network.proxy.http": PROXY_V4,
    "network.proxy.http_port": PROXY_PORT,
    "network.proxy.ssl": PROXY_V4,
    "network.proxy.ssl_port": PROXY_PORT,
    "network.proxy.no_proxies_on": "",
    "network.proxy.allow_hijacking_localhost": True,
}


@dataclass
class Visit:
    """One browser's visit to the leak-test page and what icewatch made of it."""

    browser: str
    role: str
    flags: list[str]
    prefs: dict[str, Any]
    result: dict[str, Any]  # the session JSON
    elapsed_s: float
    done_ms: float | None = None
    proxy_log: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @property
    def codes(self) -> set[str]:
        return {s["code"] for s in self.result["verdict"]["signals"]}

    def signal(self, code: str) -> dict[str, Any]:
        return next(s for s in self.result["verdict"]["signals"] if s["code"] == code)

    def observed(self, source: str | None = None, transport: str | None = None) -> list[Any]:
        return [
            o
            for o in self.result["observed"]
            if (source is None or o["source"] == source)
            and (transport is None or o["transport"] == transport)
        ]


@dataclass
class E2E:
    topo: Topology
    work: Path
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    server: Proc | None = None
    proxy: Proc | None = None
    server_log: Path | None = None

    # -- set-up -----------------------------------------------------------------------

    def icewatch_env(self) -> dict[str, str]:
        env = _clean_env(self.work)
        env["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
        env["ICEWATCH_API_KEY"] = self.api_key
        # Every browser of the sandbox shares one client address: the limit stays on
        # (the real code path) but high enough for a whole run of scenarios.
        env["ICEWATCH_RATE_LIMIT_SESSIONS"] = "2000/minute"
        return env

    def start(self) -> None:
        self.start_server()
        self.start_proxy()
        for role in (CLIENT, NAT_CLIENT):
            stub = self.topo.run_in(
                role,
                [
                    sys.executable,
                    "-m",
                    "tests.browser.dnsstub",
                    str(self.work / f"dns-{role}.jsonl"),
                ],
            )
            _expect_line(stub, "ready", f"DNS stub in {role}")

    def start_server(self, *extra: str) -> None:
        argv = [
            sys.executable, "-m", "icewatch", "serve", "--host", "::",
            "--port", str(HTTP_PORT), "--stun-port", str(STUN_PORT),
            "--db", f"sqlite:///{self.work / 'icewatch.db'}", *extra,
        ]  # fmt: skip
        self.server_log = self.work / "server.log"
        log = self.server_log.open("ab")
        self.server = self.topo.run_in(SERVER, argv, env=self.icewatch_env(), stderr=log)
        _expect_line(self.server, "icewatch", "icewatch serve", log_file=self.server_log)

    def start_extra_server(self, name: str, http_port: int, stun_port: int, *extra: str) -> Proc:
        """Another ``icewatch serve`` in the server namespace, with its own ports, database
        and log (``server-NAME.log``), for scenarios that need other settings (``--list
        KIND=FILE``). The caller stops it (``proc.stop()``); the sandbox does otherwise."""
        argv = [
            sys.executable, "-m", "icewatch", "serve", "--host", "::",
            "--port", str(http_port), "--stun-port", str(stun_port),
            "--db", f"sqlite:///{self.work / f'icewatch-{name}.db'}", *extra,
        ]  # fmt: skip
        log_path = self.work / f"server-{name}.log"
        log = log_path.open("ab")
        proc = self.topo.run_in(SERVER, argv, env=self.icewatch_env(), stderr=log)
        _expect_line(proc, "icewatch", f"icewatch serve ({name})", log_file=log_path)
        return proc

    def start_proxy(self) -> None:
        argv = [
            sys.executable, "-m", "tests.browser.proxy",
            "--listen", f"{PROXY_V4}:{PROXY_PORT}", "--listen", f"[{PROXY_V6}]:{PROXY_PORT}",
            "--log", str(self.work / "proxy.jsonl"),
        ]  # fmt: skip
        self.proxy = self.topo.run_in(PROXY, argv, env=_clean_env(self.work))
        _expect_line(self.proxy, "ready", "HTTP proxy")

    def start_extra_proxy(self, name: str, port: int, *extra: str) -> Proc:
        """Another forward proxy in the proxy namespace on ``port`` (IPv4), logging to
        ``proxy-NAME.jsonl``, e.g. with ``--delay-ms 75``. The caller stops it."""
        argv = [
            sys.executable, "-m", "tests.browser.proxy", "--listen", f"{PROXY_V4}:{port}",
            "--log", str(self.work / f"proxy-{name}.jsonl"), *extra,
        ]  # fmt: skip
        proc = self.topo.run_in(PROXY, argv, env=_clean_env(self.work))
        _expect_line(proc, "ready", f"HTTP proxy ({name})")
        return proc

    def proxy_entries(self, offset: int) -> list[dict[str, Any]]:
        path = self.work / "proxy.jsonl"
        if not path.exists():
            return []
        with path.open("rb") as f:
            f.seek(offset)
            return [json.loads(x) for x in f.read().splitlines() if x.strip()]

    def _proxy_offset(self) -> int:
        path = self.work / "proxy.jsonl"
        return path.stat().st_size if path.exists() else 0

    def _reap(self, role: str) -> None:
        """Kill what a browser left in ``role``'s namespace (only ours live there)."""
        keep = {str(p.pid) for p in self.topo.procs if p.alive()}
        with contextlib.suppress(RuntimeError):
            for pid in _run(["ip", "netns", "pids", self.topo.ns(role)]).split():
                if pid not in keep:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)

    # -- visits -----------------------------------------------------------------------

    def chromium_runs(
        self,
        flags: Sequence[str] = (),
        *,
        role: str = CLIENT,
        runs: int = 1,
        timeout: float = 30,
        url: str = PAGE_URL,
        screenshot: Path | None = None,
        init_scripts: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Load the page ``runs`` times in one Chromium; the driver's raw output.

        ``init_scripts`` (script texts) run in every frame before the page's code
        (Playwright ``add_init_script``), like an extension's content script."""
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=self.work))
        shot = ["--screenshot", str(screenshot)] if screenshot else []
        scripts: list[str] = []
        for i, text in enumerate(init_scripts):
            path = profile / f"init-{i}.js"
            path.write_text(text)
            scripts += ["--init-script", str(path)]
        argv = [sys.executable, "-m", "tests.e2e.drive_chromium", "--url", url,
                "--profile", str(profile / "profile"), "--runs", str(runs),
                "--timeout", "15", *shot, *scripts, "--", *flags]  # fmt: skip
        errlog = (profile / "driver.log").open("wb")
        proc = self.topo.run_in(role, argv, env=_clean_env(profile), stderr=errlog)
        try:
            stdout, _ = proc.popen.communicate(timeout=timeout + 5 * runs)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"chromium timed out; see {profile}/driver.log") from None
        finally:
            proc.stop()
            self.topo.procs.remove(proc)
            self._reap(role)
        if proc.popen.returncode != 0:
            tail = (profile / "driver.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"chromium driver failed ({proc.popen.returncode}): {tail}")
        shutil.rmtree(profile / "profile", ignore_errors=True)
        out: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        return out

    def chromium(
        self,
        flags: Sequence[str] = (),
        *,
        role: str = CLIENT,
        url: str = PAGE_URL,
        screenshot: Path | None = None,
        init_scripts: Sequence[str] = (),
    ) -> Visit:
        offset = self._proxy_offset()
        t0 = time.monotonic()
        out = self.chromium_runs(
            flags, role=role, url=url, screenshot=screenshot, init_scripts=init_scripts
        )
        elapsed = time.monotonic() - t0
        run = out["runs"][0]
        if run["error"] is not None:
            raise RuntimeError(f"chromium visit failed: {run['error']}\n{out['console']}")
        time.sleep(0.1)  # the proxy logs a tunnel when it closes
        return Visit(
            browser="chromium", role=role, flags=list(flags), prefs={}, result=run["result"],
            elapsed_s=elapsed, done_ms=run["done_ms"], proxy_log=self.proxy_entries(offset),
            console=out["console"],
        )  # fmt: skip

    def firefox(
        self, prefs: Mapping[str, Any] | None = None, *, role: str = CLIENT, timeout: float = 30
    ) -> Visit:
        home = Path(tempfile.mkdtemp(prefix="firefox-", dir=self.work))
        profile = home / "profile"
        profile.mkdir()
        all_prefs = {**FIREFOX_BASE_PREFS, **(prefs or {})}
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in all_prefs.items())
        )
        offset = self._proxy_offset()
        since = time.time()
        t0 = time.monotonic()
        log = (home / "firefox.log").open("wb")
        argv = ["firefox-esr", "--headless", "--no-remote", "--profile", str(profile), PAGE_URL]
        browser = self.topo.run_in(role, argv, env=_clean_env(home), stdout=log, stderr=log)
        try:
            waiter = self.topo.run_in(
                SERVER,
                [sys.executable, "-m", "tests.e2e.api", "wait", "--base", BASE_URL,
                 "--since", f"{since:.3f}", "--timeout", str(timeout)],
                env=self.icewatch_env(),
            )  # fmt: skip
            try:
                stdout, _ = waiter.popen.communicate(timeout=timeout + 5)
            finally:
                waiter.stop()
                self.topo.procs.remove(waiter)
            if waiter.popen.returncode != 0:
                alive = browser.alive()
                raise RuntimeError(
                    f"firefox visit not reported (firefox alive: {alive}); see {home}/firefox.log"
                )
            elapsed = time.monotonic() - t0
        finally:
            browser.stop()
            self.topo.procs.remove(browser)
            self._reap(role)
        shutil.rmtree(profile, ignore_errors=True)
        return Visit(
            browser="firefox", role=role, flags=["--headless", "--no-remote"],
            prefs=dict(prefs or {}), result=json.loads(stdout.decode().strip().splitlines()[-1]),
            elapsed_s=elapsed, proxy_log=self.proxy_entries(offset),
        )  # fmt: skip


def in_sandbox(target: str) -> bool:
    """Whether a proxy log target (``host:port`` or an absolute URL) is a sandbox IP."""
    host = urlsplit(target).hostname if "://" in target else split_hostport(target, 0)[0]
    return host is not None and allowed_target(host)


def _expect_line(proc: Proc, prefix: str, what: str, *, log_file: Path | None = None) -> str:
    assert proc.popen.stdout is not None
    line = proc.popen.stdout.readline().decode().strip()
    if not line.startswith(prefix):
        detail = log_file.read_text(errors="replace")[-2000:] if log_file else ""
        raise RuntimeError(f"{what} did not start: {line!r}\n{detail}")
    return line


@contextlib.contextmanager
def e2e(workdir: Path | None = None) -> Iterator[E2E]:
    """The sandbox with icewatch, the proxy and the DNS stubs running; all ends on exit."""
    with topology(workdir) as topo:
        work = topo.workdir / "e2e"
        work.mkdir(exist_ok=True)
        env = E2E(topo=topo, work=work)
        env.start()
        yield env
