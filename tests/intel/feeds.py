"""A local HTTP server standing in for the providers' feeds (127.0.0.1 only).

Each path is a :class:`Feed`: a body with an ETag and Last-Modified, answering ``304``
to a matching conditional request, or misbehaving on purpose (an error status, a delay
longer than the client's timeout, a body cut short of its Content-Length, a body that
never ends). Every request is recorded so tests can check what the updater sent.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Feed:
    body: bytes
    status: int = 200
    etag: str | None = None  # None: derived from the body
    last_modified: str | None = "Sat, 22 Aug 2026 10:00:00 GMT"
    conditional: bool = True  # honour If-None-Match / If-Modified-Since
    delay: float = 0.0  # seconds before answering
    truncate_to: int | None = None  # send only this many bytes of the body, then close
    endless: bool = False  # announce nothing and send forever (until the client stops)
    content_type: str = "application/octet-stream"

    def tag(self) -> str:
        return self.etag or '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class FeedServer:
    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.requests.append(
                Request(self.path, {k.lower(): v for k, v in self.headers.items()}, time.time())
            )
            feed = server.feeds.get(self.path)
            if feed is None:
                self._plain(404, b"not found")
                return
            if feed.delay:
                time.sleep(feed.delay)
            if feed.status != 200:
                self._plain(feed.status, b"feed error")
                return
            tag = feed.tag()
            if feed.conditional and (
                self.headers.get("If-None-Match") == tag
                or (
                    feed.last_modified is not None
                    and self.headers.get("If-Modified-Since") == feed.last_modified
                    and self.headers.get("If-None-Match") is None
                )
            ):
                self.send_response(304)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", feed.content_type)
            self.send_header("ETag", tag)
            if feed.last_modified:
                self.send_header("Last-Modified", feed.last_modified)
            if feed.endless:
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"10.0.0.0/8\n" * 1000
                try:
                    for _ in range(100_000):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            body = feed.body if feed.truncate_to is None else feed.body[: feed.truncate_to]
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                pass
            if feed.truncate_to is not None:
                self.close_connection = True

        def _plain(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    """A running server on 127.0.0.1 (an ephemeral port); stopped on exit."""
    state = FeedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
