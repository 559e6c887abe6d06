"""The web adapter: the HTTP API, the collector script and the leak-test page.

Built by the composition root (``icewatch.service``) with :func:`create_app` from a
:class:`WebContext` (store, correlation state, server secret, settings, clock, random
source); it meets the other adapters only through ``icewatch.core``.
"""

from __future__ import annotations

from icewatch.web.app import create_app
from icewatch.web.context import WebContext, WebSettings

__all__ = ["WebContext", "WebSettings", "create_app"]
