"""Run real browsers inside the sandbox against the test page and collect what they did.

:class:`Harness` owns one :class:`~tests.browser.netns.Topology` and the server process
(page, result sink, STUN/TURN responder). :meth:`Harness.chromium` drives Chromium through
Playwright running *inside* the client namespace; :meth:`Harness.firefox` starts
``firefox-esr --headless`` there with a fresh profile and waits for the page to post its
result to the sink. Each call returns a :class:`BrowserRun`: the page's result plus the
STUN/TURN datagrams and HTTP requests the server saw during that run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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
from urllib.parse import urlencode

from icewatch.core.stun import turn_rest_password
from tests.browser.netns import (
    CLIENT,
    NAT_CLIENT,
    ROOT,
    SERVER,
    SERVER_V4,
    SERVER_V6,
    Topology,
    _run,
    topology,
)
from tests.browser.run_chromium import BASE_FLAGS

HTTP_PORT = 8080
STUN_PORT = 3478
REALM = "icewatch.test"
PAGE_DEADLINE_MS = 3000

#: Firefox prefs for every test profile: nothing phones home, no DNS over HTTPS.
FIREFOX_BASE_PREFS: dict[str, Any] = {
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.firstRunURL": "",
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.search.update": False,
    "geo.provider.network.url": "",
    "dom.push.enabled": False,
    "dom.push.serverURL": "",
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.sessionstore.resume_from_crash": False,
    "toolkit.startup.max_resumed_crashes": -1,
    # New-tab and address-bar content (ads.mozilla.org, sponsored tiles, Pocket).
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.feeds.topsites": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.newtabpage.activity-stream.showSponsored": False,
    "browser.newtabpage.activity-stream.showSponsoredTopSites": False,
    "browser.newtabpage.activity-stream.unifiedAds.tiles.enabled": False,
    "browser.newtabpage.activity-stream.unifiedAds.spocs.enabled": False,
    "browser.newtabpage.activity-stream.unifiedAds.endpoint": "",
    "browser.topsites.contile.enabled": False,
    "browser.urlbar.quicksuggest.enabled": False,
    "browser.urlbar.suggest.quicksuggest.sponsored": False,
    "browser.ping-centre.telemetry": False,
}


def _version(argv: Sequence[str]) -> str:
    out = subprocess.run(list(argv), capture_output=True, text=True, check=False).stdout
    m = re.search(r"(\d+(?:\.\d+)+(?:esr)?)", out)
    return m.group(1) if m else "unknown"


@dataclass
class BrowserRun:
    """One browser's visit to the test page, and what the server saw meanwhile."""

    browser: str
    version: str
    scenario: str
    role: str
    session: str
    flags: list[str]
    prefs: dict[str, Any]
    turn: dict[str, str]
    result: dict[str, Any]
    datagrams: list[dict[str, Any]]
    http: list[dict[str, Any]]
    elapsed_s: float
    dns: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    @property
    def candidate_lines(self) -> list[str]:
        """Every non-empty candidate string, in order."""
        return [c["candidate"] for c in self.result["candidates"] if c.get("candidate")]

    def received(self) -> list[dict[str, Any]]:
        """Datagrams the server received (not its own replies)."""
        return [d for d in self.datagrams if d["dir"] == "in"]


@dataclass
class Harness:
    topo: Topology
    out: Path
    secret: str
    server: Any = None
    _versions: dict[str, str] = field(default_factory=dict)

    # -- set-up -----------------------------------------------------------------------

    def start_server(self) -> None:
        argv = [
            sys.executable, "-m", "tests.browser.serve", "--out", str(self.out),
            "--http", f"{SERVER_V4}:{HTTP_PORT}", "--http", f"[{SERVER_V6}]:{HTTP_PORT}",
            "--stun", f"{SERVER_V4}:{STUN_PORT}", "--stun", f"[{SERVER_V6}]:{STUN_PORT}",
            "--secret", self.secret, "--realm", REALM,
        ]  # fmt: skip
        log = (self.out / "server.log").open("ab")
        self.server = self.topo.run_in(SERVER, argv, stderr=log)
        assert self.server.popen.stdout is not None
        line = self.server.popen.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"test server did not start: {line!r}; see {self.out}/server.log")
        for role in (CLIENT, NAT_CLIENT):
            stub = self.topo.run_in(
                role,
                [
                    sys.executable,
                    "-m",
                    "tests.browser.dnsstub",
                    str(self.out / f"dns-{role}.jsonl"),
                ],
            )
            assert stub.popen.stdout is not None
            if stub.popen.stdout.readline().decode().strip() != "ready":
                raise RuntimeError(f"DNS stub did not start in {role}")

    def version(self, browser: str) -> str:
        if browser not in self._versions:
            argv = (
                ["/usr/bin/chromium", "--version"]
                if browser == "chromium"
                else ["firefox-esr", "--version"]
            )
            self._versions[browser] = _version(argv)
        return self._versions[browser]

    # -- one visit ----------------------------------------------------------------------

    def _session(self, scenario: str) -> tuple[str, dict[str, str], str]:
        session = f"{scenario}-{secrets.token_hex(4)}"
        username = f"{int(time.time()) + 3600}:{session}"
        turn = {
            "username": username,
            "password": turn_rest_password(self.secret.encode(), username),
            "realm": REALM,
        }
        query = urlencode(
            [
                ("stun", f"stun:{SERVER_V4}:{STUN_PORT}"),
                ("stun", f"stun:[{SERVER_V6}]:{STUN_PORT}"),
                ("turn", f"turn:{SERVER_V4}:{STUN_PORT}?transport=udp"),
                ("user", username),
                ("cred", turn["password"]),
                ("session", session),
                ("deadline", str(PAGE_DEADLINE_MS)),
            ]
        )
        url = f"http://{SERVER_V4}:{HTTP_PORT}/page/index.html?{query}"
        return session, turn, url

    def _offsets(self, role: str) -> tuple[int, int, int]:
        sizes = []
        for name in ("datagrams.jsonl", "http.jsonl", f"dns-{role}.jsonl"):
            p = self.out / name
            sizes.append(p.stat().st_size if p.exists() else 0)
        return sizes[0], sizes[1], sizes[2]

    def _read_from(self, name: str, offset: int) -> list[dict[str, Any]]:
        p = self.out / name
        if not p.exists():
            return []
        with p.open("rb") as f:
            f.seek(offset)
            return [json.loads(line) for line in f.read().splitlines() if line.strip()]

    def _collect(
        self, role: str, off: tuple[int, int, int], settle: float = 0.3
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        time.sleep(settle)  # late retransmissions / the final 403 exchange
        return (
            self._read_from("datagrams.jsonl", off[0]),
            self._read_from("http.jsonl", off[1]),
            self._read_from(f"dns-{role}.jsonl", off[2]),
        )

    def _reap(self, role: str) -> None:
        """Kill what a browser left in ``role``'s namespace (only ours live there)."""
        ns = self.topo.ns(role)
        keep = {str(p.pid) for p in self.topo.procs if p.alive()}  # e.g. the DNS stub
        with contextlib.suppress(RuntimeError):
            for pid in _run(["ip", "netns", "pids", ns]).split():
                if pid not in keep:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)

    def chromium(
        self, scenario: str, flags: Sequence[str] = (), *, role: str = CLIENT, timeout: float = 30
    ) -> BrowserRun:
        session, turn, url = self._session(scenario)
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=self.out))
        env = _clean_env(profile)
        argv = [sys.executable, "-m", "tests.browser.run_chromium", "--url", url, "--profile",
                str(profile / "profile"), "--timeout", str(timeout - 5), "--", *flags]  # fmt: skip
        off = self._offsets(role)
        t0 = time.monotonic()
        errlog = (profile / "driver.log").open("wb")
        proc = self.topo.run_in(role, argv, env=env, stderr=errlog)
        try:
            stdout, _ = proc.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
            raise RuntimeError(
                f"chromium run {session} timed out; see {profile}/driver.log"
            ) from None
        finally:
            proc.stop()
            self.topo.procs.remove(proc)
            self._reap(role)
        elapsed = time.monotonic() - t0
        if proc.popen.returncode != 0:
            tail = (profile / "driver.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"chromium driver failed ({proc.popen.returncode}): {tail}")
        data = json.loads(stdout.decode().strip().splitlines()[-1])
        datagrams, http, dns = self._collect(role, off)
        shutil.rmtree(profile / "profile", ignore_errors=True)
        return BrowserRun(
            browser="chromium", version=self.version("chromium"), scenario=scenario, role=role,
            session=session, flags=[*BASE_FLAGS, *flags], prefs={}, turn=turn,
            result=data["result"], datagrams=datagrams, http=http, dns=dns, elapsed_s=elapsed,
            console=data.get("console", []),
        )  # fmt: skip

    def firefox(
        self,
        scenario: str,
        prefs: Mapping[str, Any] | None = None,
        *,
        role: str = CLIENT,
        timeout: float = 30,
    ) -> BrowserRun:
        session, turn, url = self._session(scenario)
        home = Path(tempfile.mkdtemp(prefix="firefox-", dir=self.out))
        profile = home / "profile"
        profile.mkdir()
        all_prefs = {**FIREFOX_BASE_PREFS, **(prefs or {})}
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in all_prefs.items())
        )
        env = _clean_env(home)
        argv = ["firefox-esr", "--headless", "--no-remote", "--profile", str(profile), url]
        result_file = self.out / "results" / f"{session}.json"
        off = self._offsets(role)
        t0 = time.monotonic()
        log = (home / "firefox.log").open("wb")
        proc = self.topo.run_in(role, argv, env=env, stdout=log, stderr=log)
        try:
            while not result_file.exists():
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"firefox run {session} timed out; see {home}/firefox.log")
                if not proc.alive():
                    raise RuntimeError(f"firefox exited early; see {home}/firefox.log")
                time.sleep(0.05)
            elapsed = time.monotonic() - t0
        finally:
            proc.stop()
            self.topo.procs.remove(proc)
            self._reap(role)
        result = json.loads(result_file.read_text())
        datagrams, http, dns = self._collect(role, off)
        shutil.rmtree(profile, ignore_errors=True)
        return BrowserRun(
            browser="firefox", version=self.version("firefox"), scenario=scenario, role=role,
            session=session, flags=["--headless", "--no-remote"], prefs=dict(prefs or {}),
            turn=turn, result=result, datagrams=datagrams, http=http, dns=dns, elapsed_s=elapsed,
        )  # fmt: skip


def _clean_env(home: Path) -> dict[str, str]:
    """A small environment: no proxy variables, a private HOME, no display."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "MOZ_CRASHREPORTER_DISABLE": "1",
        # Firefox honours services.settings.server only with this set (else it asks
        # firefox.settings.services.mozilla.com).
        "MOZ_REMOTE_SETTINGS_DEVTOOLS": "1",
    }


@contextlib.contextmanager
def harness(workdir: Path | None = None) -> Iterator[Harness]:
    """A sandbox with the test server running in it; everything ends on exit."""
    with topology(workdir) as topo:
        out = topo.workdir / "server"
        out.mkdir(exist_ok=True)
        h = Harness(topo=topo, out=out, secret=secrets.token_hex(16))
        h.start_server()
        yield h


if __name__ == "__main__":  # manual smoke run: one Chromium and one Firefox visit
    with harness() as h:
        for run in (h.chromium("default"), h.firefox("default")):
            print(run.browser, run.version, f"{run.elapsed_s:.2f}s", run.result["userAgent"])
            for c in run.result["candidates"]:
                print("  ", c)
            for d in run.datagrams:
                print(
                    "  ",
                    d["dir"],
                    d["transport"],
                    d["src"],
                    d["summary"],
                    d.get("reply", ""),
                    d.get("integrity_ok", ""),
                )
            print("  http:", [(x["src"], x["target"][:40]) for x in run.http])
        print(h.topo.guards())
