"""Start-up failures the operator can act on, and the exit codes they map to."""

from __future__ import annotations

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_STARTUP", "StartupError"]

EXIT_OK = 0
#: The machine refused: a port in use, a database that cannot be written, a failed app.
EXIT_STARTUP = 1
#: The settings are wrong: a bad flag, variable or config file.
EXIT_CONFIG = 2


class StartupError(Exception):
    """``icewatch serve`` cannot start; the message is one line for the operator."""

    def __init__(self, message: str, exit_code: int = EXIT_STARTUP) -> None:
        super().__init__(message)
        self.exit_code = exit_code
