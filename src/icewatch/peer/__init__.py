"""The server side of the test connection: a real WebRTC peer per session (aiortc).

See :class:`~icewatch.peer.service.AiortcPeerService`. Importing this package does not
import aiortc; :func:`~icewatch.peer.service.preload` does (once, at start-up).
"""

from __future__ import annotations

from icewatch.peer.service import AiortcPeerService, PeerStats, preload, sanitize_offer

__all__ = ["AiortcPeerService", "PeerStats", "preload", "sanitize_offer"]
