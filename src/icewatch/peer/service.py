"""One aiortc peer per session's test connection, bounded in time, number and input.

The flow of :meth:`AiortcPeerService.answer`:

1. the offer is parsed by the core's SDP parser (bounded; garbage → ``bad_offer``) and
   must carry a data channel (``m=application … SCTP``) and ICE credentials;
2. candidate lines aioice cannot use are dropped: Chromium's mDNS ``.local`` names
   (aioice cannot resolve them and stalls for a second; the browser's checks reveal its
   address as peer-reflexive anyway), TCP candidates and lines that do not parse;
3. an ``RTCPeerConnection`` with **no ICE servers** answers: the browser's connectivity
   checks arrive from its real address, which aioice learns as a peer-reflexive remote
   candidate; the nominated pair's remote address becomes an ``ice-nominated``
   observation (other check sources: ``ice-check``);
4. the peer accepts the browser's data channel, sends ``pings`` pings
   (``{"t":"ping","seq":n}``, one at a time; the page echoes ``{"t":"pong","seq":n}``) and
   answers the page's own pings; the RTTs go into the observation's ``rtt_ms``;
5. the peer is closed ``deadline`` seconds after the offer, whatever happened (earlier
   when the connection fails or the page closes it), and its sockets and tasks freed.

At most ``max_peers`` peers live at once; another offer is refused with ``busy`` before
anything is allocated, so a flood of offers costs a parse each, never a socket.

Host candidates: aiortc offers no option to choose the interfaces (aioice enumerates them
with ``ifaddr``). When ``host_addresses`` is given, :func:`preload` replaces aioice's
``get_host_addresses`` for the whole process so that the peers bind only those
addresses (the service passes the STUN listener's bind address when it is a specific
one). Loopback is a valid choice there, which aioice's own enumeration skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from icewatch.core.addr import parse_ip
from icewatch.core.errors import ParseError, PeerError
from icewatch.core.evidence import Observation, ObservationSource, StunKind
from icewatch.core.ice import Candidate, Transport, parse_ice_line, parse_sdp

if TYPE_CHECKING:
    from aiortc import RTCDataChannel, RTCPeerConnection

__all__ = ["AiortcPeerService", "PeerStats", "preload", "sanitize_offer"]

log = logging.getLogger("icewatch.peer")

#: Longest data-channel text message the peer reads (pings and pongs are ~30 bytes).
MAX_MESSAGE_CHARS = 256
#: Most remote addresses reported as ``ice-check`` observations per peer.
MAX_CHECK_OBSERVATIONS = 8

_preloaded = False


def preload(host_addresses: Sequence[str] | None = None) -> None:
    """Import aiortc now (a cold import costs 0.3-0.5 s) and, when ``host_addresses``
    is given, make every peer bind only those addresses (process-wide)."""
    global _preloaded
    import aioice.ice
    import aiortc  # noqa: F401

    if host_addresses is not None:
        chosen = [str(parse_ip(a).ip) for a in host_addresses]

        def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

        aioice.ice.get_host_addresses = get_host_addresses
    _preloaded = True


def sanitize_offer(offer_sdp: str) -> tuple[str, str]:
    """The offer with the candidate lines aioice cannot use removed, and the browser's
    ICE ufrag; raise :class:`PeerError` ``bad_offer`` for an unusable offer."""
    try:
        parsed = parse_sdp(offer_sdp)
    except ParseError as exc:
        raise PeerError("bad_offer", f"the offer does not parse: {exc.reason}") from None
    data = [m for m in parsed.media if m.media == "application" and "SCTP" in m.proto.upper()]
    if not data:
        raise PeerError("bad_offer", "the offer has no data channel (m=application SCTP)")
    section = data[0]
    ufrag = section.ice_ufrag or parsed.ice_ufrag
    pwd = section.ice_pwd or parsed.ice_pwd
    if not ufrag or not pwd:
        raise PeerError("bad_offer", "the offer has no ICE credentials (ice-ufrag, ice-pwd)")
    if not (section.fingerprints or parsed.fingerprints):
        raise PeerError("bad_offer", "the offer has no DTLS fingerprint")
    kept: list[str] = []
    for line in offer_sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("a=candidate:") and not _usable_candidate(line):
            continue
        kept.append(line)
    text = "\r\n".join(kept).strip("\r\n") + "\r\n"
    return text, ufrag


def _usable_candidate(line: str) -> bool:
    try:
        parsed = parse_ice_line(line.removeprefix("a="))
    except ParseError:
        return False
    return (
        isinstance(parsed, Candidate)
        and parsed.transport is Transport.UDP
        and not isinstance(parsed.address, str)  # an mDNS name (xxx.local) or other name
    )


@dataclass(slots=True)
class PeerStats:
    offered: int = 0
    answered: int = 0
    busy: int = 0
    bad_offer: int = 0
    timeout: int = 0
    connected: int = 0  # the data channel opened
    observed: int = 0  # an ice-nominated observation was reported
    closed: int = 0


class _Peer:
    """One session's peer connection and its life."""

    def __init__(
        self,
        service: AiortcPeerService,
        session_id: str,
        ufrag: str,
        pc: RTCPeerConnection,
        deadline: float,
    ) -> None:
        self.service = service
        self.session_id = session_id
        self.ufrag = ufrag
        self.pc = pc
        self.deadline = deadline
        self.done = asyncio.Event()  # the connection ended (failed, closed by the page)
        self.pinged = asyncio.Event()  # our pings are all answered (or given up)
        self.pongs: dict[int, asyncio.Future[float]] = {}
        self.rtts: list[float] = []
        self.reported = False
        self.task: asyncio.Task[None] | None = None

    # -- data channel ------------------------------------------------------------------

    def on_datachannel(self, channel: RTCDataChannel) -> None:
        channel.on("message", lambda message: self.on_message(channel, message))
        channel.on("close", self.done.set)
        self.service.stats.connected += 1
        loop = asyncio.get_running_loop()
        ping_task = loop.create_task(self.ping(channel), name="icewatch-peer-ping")
        self.service.tasks.add(ping_task)
        ping_task.add_done_callback(self.service.tasks.discard)

    def on_message(self, channel: RTCDataChannel, message: object) -> None:
        if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        kind, seq = data.get("t"), data.get("seq")
        if kind == "ping":
            with contextlib.suppress(Exception):  # the channel may be closing
                channel.send(json.dumps({"t": "pong", "seq": seq}, separators=(",", ":")))
        elif kind == "pong" and isinstance(seq, int) and not isinstance(seq, bool):
            waiter = self.pongs.get(seq)
            if waiter is not None and not waiter.done():
                waiter.set_result(asyncio.get_running_loop().time())

    async def ping(self, channel: RTCDataChannel) -> None:
        loop = asyncio.get_running_loop()
        try:
            for seq in range(1, self.service.pings + 1):
                waiter: asyncio.Future[float] = loop.create_future()
                self.pongs[seq] = waiter
                sent = loop.time()
                channel.send(json.dumps({"t": "ping", "seq": seq}, separators=(",", ":")))
                left = self.deadline - loop.time()
                if left <= 0:
                    break
                try:
                    got = await asyncio.wait_for(waiter, left)
                except TimeoutError:
                    break
                self.rtts.append(round((got - sent) * 1000.0, 3))
        except Exception as exc:  # the channel closed under us: report what we have
            log.debug("peer %s: ping stopped: %s", self.session_id, exc)
        finally:
            self.pinged.set()

    # -- life --------------------------------------------------------------------------

    async def live(self) -> None:
        """Wait for the pings (or the end, or the deadline), report, then close."""
        loop = asyncio.get_running_loop()
        try:
            left = self.deadline - loop.time()
            if left > 0:
                waits = [
                    loop.create_task(self.pinged.wait()),
                    loop.create_task(self.done.wait()),
                ]
                try:
                    await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                    await asyncio.gather(*waits, return_exceptions=True)
            self.report()
            # Stay up for the page's own pings until it closes or the deadline.
            left = self.deadline - loop.time()
            if left > 0 and not self.done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.done.wait(), left)
            self.report()
        finally:
            await self.close()

    def report(self) -> None:
        """Emit the ``ice-nominated`` (and ``ice-check``) observations once, when known."""
        if self.reported:
            return
        connection = _ice_connection(self.pc)
        if connection is None:
            return
        nominated = getattr(connection, "_nominated", {}).get(1)
        if nominated is None and self.rtts:
            # The data channel carried our pings, but the browser's nomination (a later
            # check with USE-CANDIDATE) may not have arrived yet: the pair that carries
            # the data channel is the succeeded one.
            nominated = next(
                (
                    p
                    for p in getattr(connection, "_check_list", ())
                    if getattr(getattr(p, "state", None), "name", "") == "SUCCEEDED"
                ),
                None,
            )
        if nominated is None:
            return
        if connection.remote_username != self.ufrag:  # aioice checked every USERNAME
            log.warning("peer %s: ICE ufrag differs from the offer's", self.session_id)
            return
        self.reported = True
        now = self.service.clock()
        remote = nominated.remote_candidate
        local = nominated.local_candidate
        local_ip = _ip_or_none(local.host)
        emit = self.service.on_observation
        nominated_ip = _ip_or_none(remote.host)
        if nominated_ip is not None:
            self.service.stats.observed += 1
            emit(
                Observation(
                    source=ObservationSource.ICE,
                    kind=StunKind.ICE_NOMINATED,
                    ip=nominated_ip,
                    port=int(remote.port),
                    transport="udp",
                    at=now,
                    transaction_id="",
                    session_id=self.session_id,
                    username=self.ufrag,
                    local_ip=local_ip,
                    local_port=int(local.port),
                    rtt_ms=tuple(self.rtts),
                )
            )
        seen = {(remote.host, remote.port)}
        checks = 0
        for candidate in connection.remote_candidates:
            key = (candidate.host, candidate.port)
            if candidate.type != "prflx" or key in seen or checks >= MAX_CHECK_OBSERVATIONS:
                continue
            seen.add(key)
            ip = _ip_or_none(candidate.host)
            if ip is None:
                continue
            checks += 1
            emit(
                Observation(
                    source=ObservationSource.ICE,
                    kind=StunKind.ICE_CHECK,
                    ip=ip,
                    port=int(candidate.port),
                    transport="udp",
                    at=now,
                    transaction_id="",
                    session_id=self.session_id,
                    username=self.ufrag,
                    local_ip=local_ip,
                )
            )

    async def close(self) -> None:
        for waiter in self.pongs.values():
            waiter.cancel()
        try:
            # Shielded: aiortc's close() cut short leaves the connection half-closed
            # forever (its own close task then waits on it), so it always runs to the end.
            closing = asyncio.ensure_future(self.pc.close())
            await asyncio.wait_for(asyncio.shield(closing), 2.0)
        except Exception as exc:  # closing must never leak the slot
            log.warning("peer %s: close failed: %s", self.session_id, exc)
        finally:
            if self.service.peers.pop(self.session_id, None) is not None:
                self.service.stats.closed += 1


def _ice_connection(pc: RTCPeerConnection) -> Any:
    """aioice's ``Connection`` of the data channel's transport (``None`` before it)."""
    sctp = pc.sctp
    if sctp is None:
        return None
    return getattr(sctp.transport.transport, "_connection", None)


def _ip_or_none(host: str) -> Any:
    try:
        return parse_ip(host).ip
    except ParseError:
        return None


class AiortcPeerService:
    """The :class:`~icewatch.core.ports.PeerService` on aiortc (one process)."""

    def __init__(
        self,
        *,
        on_observation: Callable[[Observation], None],
        clock: Callable[[], float],
        max_peers: int = 32,
        pings: int = 3,
        host_addresses: Sequence[str] | None = None,
    ) -> None:
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        if not 0 <= pings <= 16:
            raise ValueError("pings must be 0..16")
        preload(host_addresses)
        self.on_observation = on_observation
        self.clock = clock
        self.max_peers = max_peers
        self.pings = pings
        self.peers: dict[str, _Peer] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.stats = PeerStats()
        self._reserved = 0
        self._closed = False

    @property
    def active(self) -> int:
        """Peer connections alive or being set up."""
        return len(self.peers) + self._reserved

    async def answer(self, session_id: str, offer_sdp: str, *, deadline: float) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        self.stats.offered += 1
        if self._closed:
            raise PeerError("disabled", "the peer service is closed")
        if self.active >= self.max_peers or session_id in self.peers:
            self.stats.busy += 1
            raise PeerError("busy", f"{self.max_peers} test connections are open")
        try:
            sdp, ufrag = sanitize_offer(offer_sdp)
        except PeerError:
            self.stats.bad_offer += 1
            raise
        loop = asyncio.get_running_loop()
        ends = loop.time() + deadline
        self._reserved += 1
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer = _Peer(self, session_id, ufrag, pc, ends)
        try:
            pc.on("datachannel", peer.on_datachannel)

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState in ("failed", "closed"):
                    peer.done.set()

            try:
                async with asyncio.timeout(deadline):
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
            except TimeoutError:
                self.stats.timeout += 1
                raise PeerError("timeout", "no answer within the deadline") from None
            except PeerError:
                raise
            except Exception as exc:  # aiortc refuses what our parser let through
                self.stats.bad_offer += 1
                raise PeerError("bad_offer", f"the peer refused the offer: {exc}") from None
            local = pc.localDescription
            if local is None:
                raise PeerError("bad_offer", "no answer was produced")
        except BaseException:
            self._reserved -= 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(pc.close())), 2.0)
            raise
        self._reserved -= 1
        self.peers[session_id] = peer
        task = loop.create_task(peer.live(), name=f"icewatch-peer-{session_id[:8]}")
        peer.task = task
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.stats.answered += 1
        return local.sdp

    async def close(self) -> None:
        """Close every peer and wait for their tasks."""
        self._closed = True
        for peer in list(self.peers.values()):
            peer.pinged.set()
            peer.done.set()  # each peer reports what it has and closes itself
        if self.tasks:
            _, late = await asyncio.wait(list(self.tasks), timeout=3.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for peer in list(self.peers.values()):
            await peer.close()
