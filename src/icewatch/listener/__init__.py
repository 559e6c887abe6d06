"""The STUN/TURN listener: the asyncio adapter around :mod:`icewatch.core.stun.server`.

``listener = await start_listener(host, port, cfg, on_observation)`` binds UDP and TCP on
the same port; ``listener.stats`` counts everything, ``listener.addresses`` lists the
sockets, ``await listener.close()`` stops it. Works under the default event loop and
uvloop. It answers Binding requests, challenges and refuses TURN Allocates, records
observations, and never relays (see ``docs/listener.md``).
"""

from __future__ import annotations

from icewatch.core.stun.server import ServerConfig
from icewatch.listener.server import Listener, ListenerAddress, start_listener
from icewatch.listener.stats import ListenerLimits, ListenerStats

__all__ = [
    "Listener",
    "ListenerAddress",
    "ListenerLimits",
    "ListenerStats",
    "ServerConfig",
    "start_listener",
]
