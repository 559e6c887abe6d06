"""Downloading one source: conditional requests, bounded sizes, timeouts, one error type.

:func:`fetch` streams a URL into memory with

* conditional requests: the ETag and Last-Modified of the last good copy are sent back
  (``If-None-Match`` / ``If-Modified-Since``), and a ``304`` keeps that copy;
* bounds: a ``Content-Length`` over ``max_bytes`` is refused before reading, a body that
  grows past it is cut off, and the whole download has a deadline besides httpx's
  per-operation timeouts (a server trickling bytes cannot hold an update forever);
* one error type, :class:`FetchError`, with a short reason for the operator (HTTP status,
  timeout, truncated body, too large, refused redirect).

:func:`discover_url` finds a dated file's URL in a download page (Azure Service Tags).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from icewatch import __version__

__all__ = [
    "DEFAULT_DEADLINE_S",
    "FetchError",
    "FetchResult",
    "Progress",
    "Validators",
    "discover_url",
    "fetch",
    "open_client",
]

#: Longest a single download may take, whatever the server does.
DEFAULT_DEADLINE_S = 300.0
#: Largest download page read while looking for a file's URL.
MAX_PAGE_BYTES = 4 * 1024 * 1024
USER_AGENT = f"icewatch/{__version__} (data update)"

#: ``progress(received_bytes, total_bytes_or_None)``
Progress = Callable[[int, int | None], None]


class FetchError(Exception):
    """A download failed; ``str()`` is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said about the copy we hold, sent back on the next request."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A finished download: ``body`` is ``None`` when the server answered 304."""

    url: str
    status: int
    body: bytes | None
    validators: Validators

    @property
    def not_modified(self) -> bool:
        return self.body is None


def open_client(timeout: float = 30.0) -> httpx.Client:
    """An HTTP client for updates: redirects followed (at most 5), per-operation timeouts,
    the environment's proxy settings honoured (``HTTPS_PROXY``…)."""
    return httpx.Client(
        follow_redirects=True,
        max_redirects=5,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        headers={"User-Agent": USER_AGENT},
    )


def _check_scheme(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"not an http(s) URL: {url[:120]}")


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    validators: Validators | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Download ``url`` (see the module docstring); raise :class:`FetchError`."""
    _check_scheme(url)
    headers = (validators or Validators()).headers()
    started = clock()
    try:
        with client.stream("GET", url, headers=headers) as response:
            final = str(response.url)
            if response.url.scheme not in ("http", "https"):
                raise FetchError(f"redirected to a non-http(s) URL: {final[:120]}")
            if response.status_code == 304:
                return FetchResult(final, 304, None, validators or Validators())
            if response.status_code != 200:
                reason = response.reason_phrase or ""
                raise FetchError(f"HTTP {response.status_code} {reason}".strip())
            total = _content_length(response)
            if total is not None and total > max_bytes:
                raise FetchError(f"too large: {total} bytes announced (limit {max_bytes})")
            chunks: list[bytes] = []
            received = 0
            if progress is not None:
                progress(0, total)
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise FetchError(f"too large: more than {max_bytes} bytes")
                if clock() - started > deadline_s:
                    raise FetchError(f"took longer than {deadline_s:g} s")
                chunks.append(chunk)
                if progress is not None:
                    progress(received, total)
            body = b"".join(chunks)
            if (
                total is not None
                and received < total
                and not response.headers.get("content-encoding")
            ):
                raise FetchError(f"truncated: {received} of {total} bytes")
            return FetchResult(
                final,
                200,
                body,
                Validators(
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                ),
            )
    except FetchError:
        raise
    except httpx.TimeoutException:
        raise FetchError("timed out") from None
    except httpx.TooManyRedirects:
        raise FetchError("too many redirects") from None
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise FetchError(f"truncated or broken response: {_one_line(exc)}") from None
    except httpx.DecodingError as exc:
        raise FetchError(f"undecodable response: {_one_line(exc)}") from None
    except httpx.HTTPError as exc:
        raise FetchError(_one_line(exc) or type(exc).__name__) from None


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding"):
        return None  # a compressed body's length says nothing about the decoded size
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def discover_url(
    client: httpx.Client,
    page_url: str,
    pattern: str,
    *,
    deadline_s: float = 60.0,
) -> str:
    """The newest file URL matching ``pattern`` in the page at ``page_url``.

    ``pattern``'s first group, when it has one, orders the candidates (a date such as
    ``20261020``); the greatest wins. Raise :class:`FetchError` when none is found."""
    regex = re.compile(pattern)
    if regex.fullmatch(page_url):
        return page_url  # configured with the file's own URL
    page = fetch(client, page_url, max_bytes=MAX_PAGE_BYTES, deadline_s=deadline_s)
    text = (page.body or b"").decode("utf-8", "replace").replace("\\/", "/")
    found = {m.group(0): (m.group(1) if regex.groups else "") for m in regex.finditer(text)}
    if not found:
        raise FetchError(
            f"no file link found on {page_url[:120]} (configure the file's URL directly)"
        )
    return max(found, key=lambda u: (found[u], u))
