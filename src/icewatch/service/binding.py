"""Binding the HTTP listening sockets before anything else starts.

The service binds the HTTP sockets itself and hands them to uvicorn, so that "port in
use", "address not available" and "permission denied" become one clear line and exit
code 1 *before* the database is opened or the STUN/TURN listener starts, instead of a
log line from deep inside uvicorn.
"""

from __future__ import annotations

import errno
import socket

from icewatch.service.errors import StartupError

__all__ = ["bind_error_message", "bind_tcp", "url_host"]


def url_host(host: str) -> str:
    """``host`` as it appears in a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


def bind_error_message(what: str, host: str, port: int, exc: OSError) -> str:
    """One line saying why ``what`` (e.g. "HTTP", "STUN/TURN UDP") could not bind."""
    where = f"{url_host(host)}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{what} port {port} is already in use ({where}); "
            "stop the other server or pick another port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot bind {what} to {where}: the address is not on this machine"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (
            f"cannot bind {what} to {where}: permission denied (ports below 1024 need root "
            "or CAP_NET_BIND_SERVICE)"
        )
    if isinstance(exc, socket.gaierror):
        return f"cannot bind {what}: cannot resolve host {host!r} ({exc.strerror})"
    return f"cannot bind {what} to {where}: {exc.strerror or exc}"


def bind_tcp(host: str, port: int, *, backlog: int = 2048) -> list[socket.socket]:
    """Bound, listening, non-blocking TCP sockets for ``host`` (every address it resolves to).

    ``::`` gives one dual-stack socket (IPv4 too, on Linux); other IPv6 sockets are
    IPv6-only so that a name resolving to both families binds both without conflict.
    Raise :class:`StartupError` with a clear message on failure.
    """
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise StartupError(bind_error_message("HTTP", host, port, exc)) from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, str]] = set()
    try:
        for family, kind, proto, _, addr in infos:
            if (family, str(addr[0])) in seen:
                continue
            seen.add((family, str(addr[0])))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
            try:
                sock.bind(addr)
                sock.listen(backlog)
            except OSError as exc:
                raise StartupError(bind_error_message("HTTP", str(addr[0]), port, exc)) from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
