"""Bind the STUN/TURN listener: UDP and TCP on the same port, for one or several hosts.

Sockets are made here rather than by ``create_datagram_endpoint(local_addr=…)`` so that
the receive buffer is raised before the first packet, IPv6 dual-stack is decided
explicitly (``"::"`` alone serves IPv4 too; beside ``"0.0.0.0"`` it is IPv6-only, for
UDP and TCP alike), and port 0 gives UDP and TCP the *same* free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from icewatch.core.evidence import Observation
from icewatch.core.stun.server import ServerConfig
from icewatch.listener.protocol import Context, TcpProtocol, UdpProtocol, UdpReader
from icewatch.listener.stats import ListenerLimits, ListenerStats

__all__ = ["Listener", "ListenerAddress", "start_listener"]

log = logging.getLogger("icewatch.listener")

_PORT_ATTEMPTS = 20
_FAMILIES = (int(socket.AF_INET), int(socket.AF_INET6))


@dataclass(frozen=True, slots=True)
class ListenerAddress:
    """One bound socket: ``transport`` ``"udp"``/``"tcp"``, address, port, buffers granted."""

    transport: str
    host: str
    port: int
    rcvbuf: int  # SO_RCVBUF as the kernel reports it (Linux: twice the usable bytes)
    sndbuf: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport} {host}:{self.port}"


class Listener:
    """A running listener: its counters, its sockets, and :meth:`close`."""

    def __init__(
        self,
        ctx: Context,
        addresses: tuple[ListenerAddress, ...],
        udp: list[UdpReader],
        tcp: list[asyncio.Server],
    ) -> None:
        self._ctx = ctx
        self.addresses = addresses
        self._udp = udp
        self._tcp = tcp
        self._closed = False

    @property
    def stats(self) -> ListenerStats:
        return self._ctx.stats

    @property
    def port(self) -> int:
        """The port every socket is bound to (useful after asking for port 0)."""
        return self.addresses[0].port

    async def close(self) -> None:
        """Stop accepting, close every socket and connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        for server in self._tcp:
            server.close()
        for reader in self._udp:
            reader.close()
        for conn in list(self._ctx.connections):
            conn.close("shutdown")
        for server in self._tcp:
            await server.wait_closed()
        for _ in range(100):  # let connection_lost run for the aborted connections
            if not self._ctx.connections:
                break
            await asyncio.sleep(0)
        log.info("STUN/TURN listener closed: %s", self.stats.as_dict())


async def start_listener(
    host: str | Sequence[str],
    port: int,
    cfg: ServerConfig,
    on_observation: Callable[[Observation], None],
    *,
    clock: Callable[[], float] = time.time,
    limits: ListenerLimits | None = None,
) -> Listener:
    """Listen for STUN/TURN on UDP **and** TCP ``port`` of each host.

    ``host`` is an address (``"127.0.0.1"``, ``"::1"``, ``"0.0.0.0"``, ``"::"``), a name
    (``"localhost"``: every address it resolves to), or a sequence of them.
    ``on_observation`` is called for every observation on the event loop and must not
    block (the service enqueues); ``clock`` gives Unix seconds for observations and
    nonces. Port 0 picks one free port for all sockets. Raises ``OSError`` (e.g.
    ``EADDRINUSE``) when a socket cannot be bound; nothing stays open then.
    """
    limits = limits or ListenerLimits()
    hosts = [host] if isinstance(host, str) else list(host)
    targets = await _resolve(hosts, port)
    ctx = Context(cfg, on_observation, clock, limits, ListenerStats())
    for attempt in range(_PORT_ATTEMPTS if port == 0 else 1):
        try:
            listener = await _bind_all(ctx, targets, port, limits)
        except OSError as exc:
            if port == 0 and exc.errno == errno.EADDRINUSE and attempt + 1 < _PORT_ATTEMPTS:
                continue  # the UDP port picked was taken for TCP (or on another host)
            raise
        log.info(
            "STUN/TURN listening on %s",
            ", ".join(f"{a} (SO_RCVBUF {a.rcvbuf})" for a in listener.addresses),
        )
        return listener
    raise OSError(errno.EADDRINUSE, "no free port for UDP and TCP")  # pragma: no cover


async def _resolve(hosts: list[str], port: int) -> list[tuple[int, str]]:
    """``(family, address)`` for each host, in order, without duplicates."""
    loop = asyncio.get_running_loop()
    out: list[tuple[int, str]] = []
    for h in hosts:
        infos = await loop.getaddrinfo(
            h or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )
        for family, _type, _proto, _name, sockaddr in infos:
            if int(family) not in _FAMILIES:
                continue
            entry = (int(family), str(sockaddr[0]))
            if entry not in out:
                out.append(entry)
    if not out:
        raise OSError(errno.EADDRNOTAVAIL, f"no IPv4/IPv6 address for {hosts!r}")
    return out


async def _bind_all(
    ctx: Context, targets: list[tuple[int, str]], port: int, limits: ListenerLimits
) -> Listener:
    loop = asyncio.get_running_loop()
    v4_any = any(f == socket.AF_INET and ipaddress.ip_address(a).is_unspecified
                 for f, a in targets)  # fmt: skip
    sockets: list[tuple[str, socket.socket]] = []
    udp: list[UdpReader] = []
    tcp: list[asyncio.Server] = []
    addresses: list[ListenerAddress] = []
    try:
        for family, address in targets:
            # v6only beside an IPv4 wildcard, else "::" also takes IPv4 (mapped addresses).
            v6only = v4_any or not ipaddress.ip_address(address).is_unspecified
            for kind in ("udp", "tcp"):
                sock = _socket(family, kind, v6only, limits)
                sockets.append((kind, sock))
                sock.bind((address, port))
                if port == 0:
                    port = sock.getsockname()[1]
        for kind, sock in sockets:
            name = sock.getsockname()
            addresses.append(
                ListenerAddress(
                    kind,
                    str(name[0]),
                    int(name[1]),
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                )
            )
            if kind == "udp":
                udp.append(UdpReader(sock, UdpProtocol(ctx)))
            else:
                tcp.append(
                    await loop.create_server(lambda: TcpProtocol(ctx), sock=sock, backlog=512)
                )
    except BaseException:
        for reader in udp:
            reader.close()
        for server in tcp:
            server.close()
        for _kind, sock in sockets:
            sock.close()
        raise
    return Listener(ctx, tuple(addresses), udp, tcp)


def _socket(family: int, kind: str, v6only: bool, limits: ListenerLimits) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        if kind == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart over TIME_WAIT
        else:
            _raise_buffer(sock, socket.SO_RCVBUF, "SO_RCVBUFFORCE", limits.rcvbuf)
            _raise_buffer(sock, socket.SO_SNDBUF, "SO_SNDBUFFORCE", limits.sndbuf)
    except BaseException:
        sock.close()
        raise
    return sock


def _raise_buffer(sock: socket.socket, option: int, force_name: str, size: int) -> None:
    """Ask for ``size`` bytes; past ``net.core.rmem_max`` try the privileged ``*FORCE``."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, option, size)
    force = getattr(socket, force_name, None)
    if force is not None and sock.getsockopt(socket.SOL_SOCKET, option) < size:
        with contextlib.suppress(OSError):  # without CAP_NET_ADMIN: keep what was granted
            sock.setsockopt(socket.SOL_SOCKET, force, size)
