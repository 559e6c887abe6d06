"""icewatch: see a visitor's real network through WebRTC, with server-side STUN/TURN truth.

Importing this package pulls in nothing but the standard library; the pure protocol
core lives in :mod:`icewatch.core`, adapters and the CLI sit around it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
