"""The asyncio protocols: UDP datagrams and RFC 8489 §6.2.2 TCP framing around the core.

Both hand every message to :func:`icewatch.core.stun.server.handle_request` and do only
what the core cannot: read sockets, bound sizes and time, send replies without ever
waiting, count, and pass observations to the (non-blocking) callback. An exception from
the core or the callback is counted and logged (rate-limited); it never closes a socket
or reaches the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

from icewatch.core.addr import IPAddress, parse_ip
from icewatch.core.errors import ParseError, StunParseError
from icewatch.core.evidence import Observation
from icewatch.core.stun.message import frame_length
from icewatch.core.stun.server import ServerConfig, StunRequest, StunResult, handle_request
from icewatch.listener.stats import ListenerLimits, ListenerStats

__all__ = ["Context", "TcpProtocol", "UdpProtocol", "UdpReader"]

log = logging.getLogger("icewatch.listener")

_IP_CACHE_MAX = 65536


class Context:
    """What every protocol instance of one listener shares."""

    def __init__(
        self,
        cfg: ServerConfig,
        on_observation: Callable[[Observation], None],
        clock: Callable[[], float],
        limits: ListenerLimits,
        stats: ListenerStats,
    ) -> None:
        self.cfg = cfg
        self.on_observation = on_observation
        self.clock = clock
        self.limits = limits
        self.stats = stats
        self.connections: set[TcpProtocol] = set()
        self.ips: dict[str, IPAddress] = {}  # source text → address (see ip())
        self._errors_logged = 0

    def ip(self, host: str) -> IPAddress:
        """The source address of a socket peer, parsed once per distinct text."""
        ip = self.ips.get(host)
        if ip is None:
            if len(self.ips) >= _IP_CACHE_MAX:
                self.ips.clear()
            ip = self.ips[host] = parse_ip(host).ip  # unwraps ::ffff:a.b.c.d, drops %zone
        return ip

    def handle(self, request: StunRequest) -> StunResult | None:
        """The core's answer, or ``None`` after counting a bug (never raises)."""
        try:
            return handle_request(request, self.cfg)
        except Exception:
            self.stats.drops["internal-error"] += 1
            self.log_error("STUN handler failed")
            return None

    def emit(self, observation: Observation) -> None:
        self.stats.observations += 1
        try:
            self.on_observation(observation)
        except Exception:
            self.stats.callback_errors += 1
            self.log_error("observation callback failed")

    def log_error(self, what: str) -> None:
        # The first ten, then one in a thousand: a flood must not become a log flood.
        self._errors_logged += 1
        if self._errors_logged <= 10 or self._errors_logged % 1000 == 0:
            log.exception("%s (%d so far)", what, self._errors_logged)


def _local(sockname: Any) -> tuple[IPAddress | None, int | None]:
    """The local address of a socket; ``None`` for a wildcard bind (the true destination
    address would need IP_PKTINFO, which asyncio does not expose)."""
    try:
        ip = parse_ip(str(sockname[0])).ip
    except (ParseError, TypeError, IndexError):
        return None, None
    return (None if ip.is_unspecified else ip), int(sockname[1])


class UdpProtocol(asyncio.DatagramProtocol):
    """The per-datagram logic of one bound UDP socket; never blocks, never raises.

    Driven either by an asyncio datagram transport (:meth:`connection_made`) or, as the
    listener does, by :class:`UdpReader` on the raw socket (:meth:`attach_socket`).
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.transport: asyncio.DatagramTransport | None = None
        self.local_ip: IPAddress | None = None
        self.local_port: int | None = None
        self._max = ctx.limits.max_datagram
        self._backlog = ctx.limits.udp_write_backlog
        self._sock_sendto: Callable[[bytes, Any], int] | None = None
        self._buffered: Callable[[], int] = lambda: 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        # Both loops have it; typeshed's DatagramTransport does not declare it.
        self._buffered = transport.get_write_buffer_size  # type: ignore[attr-defined]
        self.local_ip, self.local_port = _local(transport.get_extra_info("sockname"))

    def attach_socket(self, sock: socket.socket) -> None:
        """Send replies straight on ``sock`` (non-blocking): a full buffer drops the reply."""
        self._sock_sendto = sock.sendto
        self.local_ip, self.local_port = _local(sock.getsockname())

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        # The hot path of a flood: everything inline, one call into the core.
        ctx = self.ctx
        stats = ctx.stats
        stats.datagrams += 1
        if len(data) > self._max:
            stats.drops["oversize"] += 1
            return
        ip = ctx.ips.get(addr[0])
        if ip is None:
            try:
                ip = ctx.ip(addr[0])
            except ParseError:  # not an IP peer (cannot happen on an AF_INET(6) socket)
                stats.drops["internal-error"] += 1
                return
        request = StunRequest(data, ip, addr[1], "udp", ctx.clock(), self.local_ip, self.local_port)
        try:
            result = handle_request(request, ctx.cfg)
        except Exception:  # a bug, not input: count it, keep serving
            stats.drops["internal-error"] += 1
            ctx.log_error("STUN handler failed")
            return
        reply = result.reply
        if reply is None:
            stats.drops[result.drop or "dropped"] += 1
        else:
            stats.replies[result.reply_kind or "reply"] += 1
            sendto = self._sock_sendto
            if sendto is None:
                self._transport_send(reply, addr)
            else:
                try:
                    sendto(reply, addr)
                except BlockingIOError:  # the socket buffer is full: never wait, drop it
                    stats.reply_drops += 1
                except OSError:
                    stats.send_errors += 1
        if result.observation is not None:
            ctx.emit(result.observation)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for a reply, and the like: the peer's problem, counted.
        self.ctx.stats.send_errors += 1

    def _transport_send(self, reply: bytes, addr: Any) -> None:
        if self.transport is None or self._buffered() > self._backlog:
            self.ctx.stats.reply_drops += 1
        else:
            self.transport.sendto(reply, addr)


class UdpReader:
    """Drain one non-blocking UDP socket into a :class:`UdpProtocol`.

    asyncio's own datagram transport reads one datagram per wake-up of the selector
    (measured: ~25 µs of CPU per Binding under the default loop); reading up to
    ``batch`` datagrams per wake-up costs ~5 µs under both loops, and then yields so
    the HTTP side of the process keeps running during a flood. Each read asks for
    ``max_datagram + 1`` bytes: a datagram that fills it is oversized and counted.
    """

    def __init__(self, sock: socket.socket, protocol: UdpProtocol, *, batch: int = 256) -> None:
        self.sock = sock
        self.protocol = protocol
        self._batch = batch
        self._size = protocol.ctx.limits.max_datagram + 1
        self._loop = asyncio.get_running_loop()
        protocol.attach_socket(sock)
        self._loop.add_reader(sock.fileno(), self._ready)
        self._open = True

    def _ready(self) -> None:
        recvfrom = self.sock.recvfrom
        received = self.protocol.datagram_received
        size = self._size
        for _ in range(self._batch):
            try:
                data, addr = recvfrom(size)
            except BlockingIOError:
                return
            except OSError:  # a queued ICMP error (e.g. port unreachable for a reply)
                self.protocol.ctx.stats.send_errors += 1
                continue
            try:
                received(data, addr)
            except Exception:  # a bug, not input: count it, keep serving
                self.protocol.ctx.stats.drops["internal-error"] += 1
                self.protocol.ctx.log_error("UDP datagram handling failed")

    def close(self) -> None:
        if self._open:
            self._open = False
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()


class TcpProtocol(asyncio.Protocol):
    """One TCP connection carrying STUN and ChannelData frames back to back.

    The buffer holds at most one frame (≤ ``tcp_max_frame``) plus one read; ChannelData
    is skipped as it streams by. The idle deadline moves only when a frame completes,
    so a slow-loris peer trickling a frame byte by byte is closed like a silent one.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.ip: IPAddress | None = None
        self.port = 0
        self.local_ip: IPAddress | None = None
        self.local_port: int | None = None
        self._buf = bytearray()
        self._skip = 0  # bytes of a ChannelData frame still to discard
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._closing: str | None = None
        self._loop = asyncio.get_running_loop()

    # -- lifecycle ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ctx = self.ctx
        self.transport = transport = cast(asyncio.Transport, transport)
        if len(ctx.connections) >= ctx.limits.tcp_max_connections:
            ctx.stats.tcp_refused += 1
            self._closing = "refused"
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        try:
            self.ip = ctx.ip(str(peer[0]))
            self.port = int(peer[1])
        except (ParseError, TypeError, IndexError):
            self._closing = "refused"
            transport.abort()
            return
        self.local_ip, self.local_port = _local(transport.get_extra_info("sockname"))
        ctx.connections.add(self)
        ctx.stats.tcp_accepted += 1
        ctx.stats.tcp_open += 1
        self._deadline = self._loop.time() + ctx.limits.tcp_idle_timeout
        self._timer = self._loop.call_at(self._deadline, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self in self.ctx.connections:
            self.ctx.connections.discard(self)
            self.ctx.stats.tcp_open -= 1
            self.ctx.stats.tcp_closed[self._closing or "peer"] += 1
        self._buf.clear()

    def close(self, reason: str) -> None:
        """Abort the connection, counting why (idempotent)."""
        if self._closing is None:
            self._closing = reason
        if self.transport is not None:
            self.transport.abort()

    def _check_idle(self) -> None:
        self._timer = None
        if self._closing is not None:
            return
        if self._loop.time() >= self._deadline:
            self.close("idle")
        else:  # a frame completed meanwhile: sleep until the moved deadline
            self._timer = self._loop.call_at(self._deadline, self._check_idle)

    # -- framing ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closing is not None:
            return
        if self._skip:
            taken = min(self._skip, len(data))
            self._skip -= taken
            data = data[taken:]
            if self._skip == 0:
                self._frame_done()
        if data:
            self._buf += data
            self._frames()

    def _frames(self) -> None:
        buf = self._buf
        limits = self.ctx.limits
        stats = self.ctx.stats
        while len(buf) >= 4:
            try:
                size = frame_length(bytes(buf[:4]))
            except StunParseError:  # neither STUN nor ChannelData: the stream is lost
                stats.drops["malformed"] += 1
                self.close("bad-frame")
                return
            if size is None:  # pragma: no cover (4 bytes are always enough)
                return
            if buf[0] >= 0x40:  # ChannelData (RFC 8656 §12.5): no channel exists, skip it
                stats.frames += 1
                stats.drops["channel-data"] += 1
                if size > len(buf):
                    self._skip = size - len(buf)
                    buf.clear()
                    return
                del buf[:size]
                self._frame_done()
                continue
            if size > limits.tcp_max_frame:
                stats.drops["oversize"] += 1
                self.close("oversize")
                return
            if size > len(buf):
                return
            frame = bytes(buf[:size])
            del buf[:size]
            stats.frames += 1
            self._frame_done()
            self._answer(frame)
            if self._closing is not None:
                return

    def _frame_done(self) -> None:
        self._deadline = self._loop.time() + self.ctx.limits.tcp_idle_timeout

    def _answer(self, frame: bytes) -> None:
        ctx = self.ctx
        if self.ip is None:  # pragma: no cover (set in connection_made)
            return
        request = StunRequest(
            frame, self.ip, self.port, "tcp", ctx.clock(), self.local_ip, self.local_port
        )
        result = ctx.handle(request)
        if result is None:
            return
        if result.reply is not None:
            ctx.stats.replies[result.reply_kind or "reply"] += 1
            transport = self.transport
            if transport is not None:
                transport.write(result.reply)
                if transport.get_write_buffer_size() > ctx.limits.tcp_write_backlog:
                    self.close("backlog")
        else:
            ctx.stats.drops[result.drop or "dropped"] += 1
        if result.observation is not None:
            ctx.emit(result.observation)
