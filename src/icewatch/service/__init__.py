"""The composition root: settings, and ``run()`` wiring store, state, the STUN/TURN
listener and the web app on one event loop.

Importing this package (and :mod:`icewatch.service.settings`) pulls in only the
standard library; :func:`run` imports the web stack when it is called, so
``icewatch --help`` stays fast.
"""

from __future__ import annotations

from icewatch.service.errors import EXIT_CONFIG, EXIT_OK, EXIT_STARTUP, StartupError
from icewatch.service.settings import (
    SETTINGS,
    Setting,
    Settings,
    SettingsError,
    Source,
    load_settings,
)

__all__ = [
    "EXIT_CONFIG",
    "EXIT_OK",
    "EXIT_STARTUP",
    "SETTINGS",
    "Setting",
    "Settings",
    "SettingsError",
    "Source",
    "StartupError",
    "load_settings",
    "run",
]


def run(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code (see :mod:`icewatch.service.runner`)."""
    from icewatch.service.runner import run as _run

    return _run(settings)
