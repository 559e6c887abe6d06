"""A throw-away network sandbox for real browsers: namespaces, a bridge, a NAT router.

Nothing is linked to the root namespace; every namespace has an nft egress guard and
every process started with :meth:`Topology.run_in` sees ``nameserver 127.0.0.1``::

               "inet": bridge br0 — 10.77.1.0/24, fd77:1::/64
     server 10.77.1.1, 10.77.1.11, fd77:1::1      client 10.77.1.2, fd77:1::2
     proxy  10.77.1.3, fd77:1::3                   router wan 10.77.1.254, fd77:1::fe
                                                          lan 10.77.20.1, fd77:20::1
                                                           └── natc 10.77.20.2, fd77:20::2

The router masquerades IPv4 from 10.77.20.0/24 (NAT44, like a home router) and routes
IPv6 unchanged (like a dual-stack home). Every client namespace has one default route
per address family (Chromium gathers no host candidate of a family without one).

Namespace names are ``iwb<pid>-<role>`` (``iwb<pid>n<k>-<role>`` for a second sandbox in
the same process) so parallel runs never collide; interface
names live inside those namespaces, so they can be short and fixed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]

SERVER = "srv"
CLIENT = "cli"
PROXY = "prx"
ROUTER = "rtr"
NAT_CLIENT = "natc"
INET = "inet"
ROLES = (INET, SERVER, CLIENT, PROXY, ROUTER, NAT_CLIENT)

#: Addresses of the sandbox (role → IPv4, IPv6 on the role's first interface).
SERVER_V4 = "10.77.1.1"
SERVER_V4_ALT = "10.77.1.11"
SERVER_V6 = "fd77:1::1"
CLIENT_V4 = "10.77.1.2"
CLIENT_V6 = "fd77:1::2"
PROXY_V4 = "10.77.1.3"
PROXY_V6 = "fd77:1::3"
ROUTER_WAN_V4 = "10.77.1.254"
ROUTER_WAN_V6 = "fd77:1::fe"
ROUTER_LAN_V4 = "10.77.20.1"
ROUTER_LAN_V6 = "fd77:20::1"
NAT_CLIENT_V4 = "10.77.20.2"
NAT_CLIENT_V6 = "fd77:20::2"

#: What an egress guard lets out. Everything else is counted and dropped.
ALLOWED_V4 = ("10.77.0.0/16", "127.0.0.0/8", "224.0.0.0/4")
ALLOWED_V6 = ("fd77::/16", "::1", "fe80::/10", "ff00::/8")

GUARD_TABLE = "iwguard"


def _guard_ruleset(forward: bool) -> str:
    v4 = ", ".join(ALLOWED_V4)
    v6 = ", ".join(ALLOWED_V6)
    chains = [("egress_out", "output")] + ([("egress_fwd", "forward")] if forward else [])
    body = []
    for name, hook in chains:
        body.append(
            f"""
  chain {name} {{
    type filter hook {hook} priority 0; policy accept;
    ip daddr {{ {v4} }} accept
    ip6 daddr {{ {v6} }} accept
    meta nfproto ipv4 add @seen4 {{ ip daddr . meta l4proto . th dport }} counter name dropped drop
    meta nfproto ipv6 add @seen6 {{ ip6 daddr . meta l4proto . th dport }} counter name dropped drop
    counter name dropped drop
  }}"""
        )
    return f"""table inet {GUARD_TABLE} {{
  counter dropped {{ }}
  set seen4 {{ type ipv4_addr . inet_proto . inet_service; size 4096; flags dynamic; }}
  set seen6 {{ type ipv6_addr . inet_proto . inet_service; size 4096; flags dynamic; }}
{"".join(body)}
}}
"""


NAT_RULESET = """table ip nat {
  chain post {
    type nat hook postrouting priority 100;
    oifname "e0" ip saddr 10.77.20.0/24 masquerade
  }
}
"""


_OURS = re.compile(rf"^iwb(\d+)(?:n\d+)?-({'|'.join(ROLES)})$")
_instances = itertools.count()


def remove_stale_namespaces() -> list[str]:
    """Delete sandboxes left by an earlier run of this harness that was killed.

    Only namespaces named ``iwb<pid>[n<k>]-<role>`` whose ``<pid>`` no longer exists; what
    still runs inside them was started by that run, and is ended by PID first.
    """
    removed = []
    for line in _run(["ip", "netns", "list"]).splitlines():
        name = line.split()[0] if line.strip() else ""
        m = _OURS.match(name)
        if not m or Path(f"/proc/{m.group(1)}").exists():
            continue
        with contextlib.suppress(RuntimeError):
            for pid in _run(["ip", "netns", "pids", name]).split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _run(["ip", "netns", "del", name])
            removed.append(name)
    return removed


def _prefix() -> str:
    """``iwb<pid>`` for a process's first sandbox, ``iwb<pid>n<k>`` for the next ones
    (the browser and end-to-end suites may each hold one in the same pytest run)."""
    k = next(_instances)
    return f"iwb{os.getpid()}" if k == 0 else f"iwb{os.getpid()}n{k}"


class PrerequisiteMissing(RuntimeError):
    """The machine cannot run the sandbox (not root, a tool missing)."""


def missing_prerequisites(*, browsers: bool = True) -> list[str]:
    """What this machine lacks to run the sandbox (and the browsers), in plain words."""
    missing: list[str] = []
    if sys.platform != "linux":
        missing.append("Linux network namespaces")
    if os.geteuid() != 0:
        missing.append("root (network namespaces and nft need it)")
    for tool in ("ip", "nft", "unshare", "mount"):
        if shutil.which(tool) is None:
            missing.append(f"`{tool}` (apt-get install iproute2 nftables util-linux)")
    if browsers:
        if not Path("/usr/bin/chromium").exists():
            missing.append("/usr/bin/chromium (apt-get install chromium)")
        if shutil.which("firefox-esr") is None:
            missing.append("firefox-esr (apt-get install firefox-esr)")
    return missing


def _run(argv: Sequence[str], *, stdin: str | None = None) -> str:
    proc = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class Proc:
    """A process started inside a namespace; :meth:`stop` ends its whole process group."""

    argv: list[str]
    popen: subprocess.Popen[bytes]
    namespace: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 2.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; return the code."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        # Children may outlive the leader; the group id is still ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        return self.popen.returncode


@dataclass(frozen=True)
class GuardReport:
    """An egress guard's state: packets dropped, and where they were going."""

    namespace: str
    packets: int
    bytes: int
    destinations: tuple[str, ...]


@dataclass
class Topology:
    """The sandbox: create with :func:`topology` (or :meth:`create`), end with :meth:`close`."""

    prefix: str
    workdir: Path
    resolv: Path
    procs: list[Proc] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    owns_workdir: bool = False

    def ns(self, role: str) -> str:
        """The namespace name of a role (``SERVER``, ``CLIENT``, ``NAT_CLIENT``...)."""
        return f"{self.prefix}-{role}"

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(cls, workdir: Path | None = None) -> Topology:
        missing = missing_prerequisites(browsers=False)
        if missing:
            raise PrerequisiteMissing("missing: " + "; ".join(missing))
        remove_stale_namespaces()
        work = workdir or Path(tempfile.mkdtemp(prefix="iwb-"))
        resolv = work / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        topo = cls(prefix=_prefix(), workdir=work, resolv=resolv, owns_workdir=workdir is None)
        try:
            topo._build()
        except BaseException:
            topo.close()
            raise
        return topo

    def _ip(self, role: str, *args: str) -> None:
        _run(["ip", "-n", self.ns(role), *args])

    def _sysctl(self, role: str, *settings: str) -> None:
        _run(["ip", "netns", "exec", self.ns(role), "sysctl", "-qw", *settings])

    def _nft(self, role: str, ruleset: str) -> None:
        _run(["ip", "netns", "exec", self.ns(role), "nft", "-f", "-"], stdin=ruleset)

    def _build(self) -> None:
        for role in ROLES:
            _run(["ip", "netns", "add", self.ns(role)])
            self.created.append(self.ns(role))
            # No duplicate-address detection: addresses are usable at once.
            self._sysctl(
                role,
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.all.accept_ra=0",
                "net.ipv6.conf.default.accept_ra=0",
            )
            self._ip(role, "link", "set", "lo", "up")
        self._ip(INET, "link", "add", "br0", "type", "bridge", "stp_state", "0")
        self._ip(INET, "link", "set", "br0", "up")
        wan = {
            SERVER: ([SERVER_V4, SERVER_V4_ALT], [SERVER_V6]),
            CLIENT: ([CLIENT_V4], [CLIENT_V6]),
            PROXY: ([PROXY_V4], [PROXY_V6]),
            ROUTER: ([ROUTER_WAN_V4], [ROUTER_WAN_V6]),
        }
        for role, (v4s, v6s) in wan.items():
            port = f"p-{role}"
            self._ip(
                INET,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "e0",
                "netns",
                self.ns(role),
            )
            self._ip(INET, "link", "set", port, "master", "br0", "up")
            self._ip(role, "link", "set", "e0", "up")
            for a in v4s:
                self._ip(role, "addr", "add", f"{a}/24", "dev", "e0")
            for a in v6s:
                self._ip(role, "addr", "add", f"{a}/64", "dev", "e0", "nodad")
        # The router's LAN and the client behind it.
        self._ip(
            ROUTER,
            "link",
            "add",
            "e1",
            "type",
            "veth",
            "peer",
            "name",
            "e0",
            "netns",
            self.ns(NAT_CLIENT),
        )
        self._ip(ROUTER, "link", "set", "e1", "up")
        self._ip(ROUTER, "addr", "add", f"{ROUTER_LAN_V4}/24", "dev", "e1")
        self._ip(ROUTER, "addr", "add", f"{ROUTER_LAN_V6}/64", "dev", "e1", "nodad")
        self._ip(NAT_CLIENT, "link", "set", "e0", "up")
        self._ip(NAT_CLIENT, "addr", "add", f"{NAT_CLIENT_V4}/24", "dev", "e0")
        self._ip(NAT_CLIENT, "addr", "add", f"{NAT_CLIENT_V6}/64", "dev", "e0", "nodad")
        self._sysctl(ROUTER, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
        self._nft(ROUTER, NAT_RULESET)
        # Default routes: one per family wherever a client may run.
        routes = {
            CLIENT: (SERVER_V4, SERVER_V6),
            PROXY: (SERVER_V4, SERVER_V6),
            ROUTER: (SERVER_V4, SERVER_V6),
            NAT_CLIENT: (ROUTER_LAN_V4, ROUTER_LAN_V6),
        }
        for role, (gw4, gw6) in routes.items():
            self._ip(role, "route", "add", "default", "via", gw4)
            self._ip(role, "-6", "route", "add", "default", "via", gw6)
        # The server answers the routed (un-NATed) IPv6 of the NAT client via the router.
        self._ip(SERVER, "-6", "route", "add", "fd77:20::/64", "via", ROUTER_WAN_V6)
        for role in (SERVER, CLIENT, PROXY, ROUTER, NAT_CLIENT):
            self._nft(role, _guard_ruleset(forward=role == ROUTER))

    # -- processes ----------------------------------------------------------------------

    def run_in(
        self,
        role: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = None,
    ) -> Proc:
        """Start ``argv`` inside a role's namespace, in its own process group.

        ``/etc/resolv.conf`` is bind-mounted (in a private mount namespace) to a file
        saying ``nameserver 127.0.0.1``, so no DNS query can leave the sandbox.
        """
        script = f'mount --bind {shlex.quote(str(self.resolv))} /etc/resolv.conf && exec "$@"'
        full = ["ip", "netns", "exec", self.ns(role), "unshare", "-m", "sh", "-c", script, "_"]
        full += list(argv)
        popen = subprocess.Popen(
            full,
            env=dict(env) if env is not None else None,
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        proc = Proc(argv=full, popen=popen, namespace=self.ns(role))
        self.procs.append(proc)
        return proc

    def exec_in(self, role: str, argv: Sequence[str]) -> str:
        """Run a short command inside a namespace and return its stdout."""
        return _run(["ip", "netns", "exec", self.ns(role), *argv])

    # -- egress guards -------------------------------------------------------------------

    def guard(self, role: str) -> GuardReport:
        data = json.loads(self.exec_in(role, ["nft", "-j", "list", "table", "inet", GUARD_TABLE]))
        packets = nbytes = 0
        dests: list[str] = []
        for item in data.get("nftables", []):
            if "counter" in item and item["counter"].get("name") == "dropped":
                packets = int(item["counter"]["packets"])
                nbytes = int(item["counter"]["bytes"])
            elif "set" in item and item["set"]["name"] in ("seen4", "seen6"):
                for elem in item["set"].get("elem", []):
                    parts = elem.get("elem", elem) if isinstance(elem, dict) else elem
                    if isinstance(parts, dict) and "concat" in parts:
                        parts = parts["concat"]
                    if isinstance(parts, list):
                        dests.append(" ".join(str(p) for p in parts))
                    else:
                        dests.append(str(parts))
        return GuardReport(self.ns(role), packets, nbytes, tuple(sorted(dests)))

    def guards(self) -> dict[str, GuardReport]:
        """Every egress guard's report, by role."""
        return {r: self.guard(r) for r in (SERVER, CLIENT, PROXY, ROUTER, NAT_CLIENT)}

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every process started here and delete the namespaces (idempotent)."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        for name in reversed(self.created):
            # Anything still living in our namespaces was started by us (the names are
            # unique to this run): end it by PID before deleting the namespace.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                for pid in _run(["ip", "netns", "pids", name]).split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 5
        for name in reversed(self.created):
            while True:
                try:
                    _run(["ip", "netns", "del", name])
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
        self.created.clear()
        if self.owns_workdir and not os.environ.get("IW_KEEP_SANDBOX"):
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def topology(workdir: Path | None = None) -> Iterator[Topology]:
    """Create the sandbox, yield it, and always tear it down."""
    topo = Topology.create(workdir)
    try:
        yield topo
    finally:
        topo.close()


_ECHO = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7))
print("ready", flush=True)
while True:
    data, src = s.recvfrom(2048)
    s.sendto(repr(src[:2]).encode(), src)
"""

_PROBE = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"hi", (sys.argv[1], 7))
print(s.recvfrom(2048)[0].decode())
"""


def _selfcheck() -> None:
    """Build the sandbox, show who the server sees for each client, show the guards."""
    with topology() as t:
        for addr in (SERVER_V4, SERVER_V6):
            echo = t.run_in(SERVER, [sys.executable, "-c", _ECHO, addr])
            assert echo.popen.stdout is not None
            echo.popen.stdout.readline()
        for role in (CLIENT, NAT_CLIENT, PROXY):
            for addr in (SERVER_V4, SERVER_V6):
                seen = t.exec_in(role, [sys.executable, "-c", _PROBE, addr]).strip()
                print(f"{role:5} -> {addr:10} server saw {seen}")
        print(t.exec_in(NAT_CLIENT, ["ip", "route"]), t.exec_in(NAT_CLIENT, ["ip", "-6", "route"]))
        for role, rep in t.guards().items():
            print(role, rep)


if __name__ == "__main__":
    _selfcheck()
