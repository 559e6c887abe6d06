"""Counters of the STUN/TURN listener, and its limits.

The listener logs start, stop and errors, never a packet: every datagram and frame is
counted here instead, so a flood costs an integer increment, not a log line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ListenerLimits", "ListenerStats"]


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """Bounds on what one listener accepts (see ``docs/listener.md``).

    ``max_datagram``: larger datagrams are dropped unread by the core ("oversize").
    Browsers send 20-200 byte STUN requests; 1500 bytes is a full Ethernet frame, so
    nothing legitimate comes near it. The event loops read with a 64-256 KiB buffer,
    so an oversized datagram is *seen* whole and counted, never silently truncated.

    ``rcvbuf``/``sndbuf``: socket buffers asked for (the kernel may grant less than
    ``rcvbuf`` without privileges; :attr:`ListenerAddress.rcvbuf` reports what it
    granted; Linux reports twice the usable size).

    ``udp_write_backlog``: replies are dropped (counted) instead of queued when the
    transport already holds this many unsent bytes: the socket is never waited on.

    TCP: at most ``tcp_max_connections`` at once (more are accepted and closed at
    once), frames of at most ``tcp_max_frame`` bytes (ChannelData of any length is
    skipped, never buffered), and a connection that completes no frame within
    ``tcp_idle_timeout`` seconds — silent, or trickling half a frame — is closed.
    A peer that does not read its replies is closed past ``tcp_write_backlog`` bytes.
    """

    max_datagram: int = 1500
    rcvbuf: int = 4 * 1024 * 1024
    sndbuf: int = 1024 * 1024
    udp_write_backlog: int = 256 * 1024
    tcp_max_connections: int = 1024
    tcp_max_frame: int = 4096
    tcp_idle_timeout: float = 10.0
    tcp_write_backlog: int = 64 * 1024

    def __post_init__(self) -> None:
        if not 20 <= self.max_datagram <= 65535:
            raise ValueError("max_datagram must be 20..65535")
        if not 20 <= self.tcp_max_frame <= 65556:
            raise ValueError("tcp_max_frame must be 20..65556")
        if self.tcp_idle_timeout <= 0 or self.tcp_max_connections < 1:
            raise ValueError("tcp_idle_timeout and tcp_max_connections must be positive")


@dataclass(slots=True)
class ListenerStats:
    """Counters since start (mutable, owned by the listener; read them, don't write).

    * ``datagrams`` UDP datagrams received; ``frames`` TCP frames (STUN or ChannelData);
    * ``replies`` by kind (``binding-success``, ``allocate-401``, ``allocate-438``,
      ``allocate-403``, ``binding-420``…); ``reply_drops`` replies not sent because the
      socket's backlog was full; ``send_errors`` ICMP/socket errors reported by the OS;
    * ``drops`` by reason: the core's (``not-stun``, ``malformed``, ``bad-fingerprint``,
      ``not-a-request``, ``indication``, ``unknown-method``, ``no-allocation``,
      ``channel-data``) and the adapter's (``oversize``, ``internal-error``);
    * ``observations`` handed to the callback, ``callback_errors`` when it raised;
    * TCP: ``tcp_accepted``, ``tcp_open`` (now), ``tcp_refused`` (over the cap),
      ``tcp_closed`` by reason (``peer``, ``idle``, ``oversize``, ``bad-frame``,
      ``backlog``, ``shutdown``).
    """

    datagrams: int = 0
    frames: int = 0
    observations: int = 0
    callback_errors: int = 0
    reply_drops: int = 0
    send_errors: int = 0
    tcp_accepted: int = 0
    tcp_open: int = 0
    tcp_refused: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    tcp_closed: Counter[str] = field(default_factory=Counter)

    @property
    def replies_total(self) -> int:
        return sum(self.replies.values())

    @property
    def drops_total(self) -> int:
        return sum(self.drops.values())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (for ``/healthz``-style reporting and the benchmark)."""
        return {
            "datagrams": self.datagrams,
            "frames": self.frames,
            "observations": self.observations,
            "callback_errors": self.callback_errors,
            "reply_drops": self.reply_drops,
            "send_errors": self.send_errors,
            "replies": dict(self.replies),
            "drops": dict(self.drops),
            "tcp": {
                "accepted": self.tcp_accepted,
                "open": self.tcp_open,
                "refused": self.tcp_refused,
                "closed": dict(self.tcp_closed),
            },
        }
