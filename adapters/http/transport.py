"""One HTTP exchange: status and body checks, failure classification, session and file helpers."""

from __future__ import annotations

import os
import pathlib
import re
import time
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

from virtualobserver.adapters.faults import fault_point
from virtualobserver.adapters.http.redact import redact
from virtualobserver.adapters.http.retry import retry_after_seconds

__all__ = ["RETRY_STATUSES", "Retryable", "Permanent", "TooLarge", "TooSlow", "check_status", "stream_body",
           "describe", "fsync_folder", "new_session"]

#: Statuses that say "try again later" rather than "this request is wrong".
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_CHUNK = 1 << 16


class Retryable(Exception):
    """A failure worth retrying; ``retry_after`` is the wait the server asked for, if any."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Permanent(Exception):
    """A failure that asking again will not cure."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TooLarge(Permanent):
    """The answer is larger than the limit: ``size`` bytes were read (or announced) when it stopped.

    Not retried: a runaway or hostile answer comes back the same, and each try would cost the limit again.
    """

    def __init__(self, size: int, announced: bool = False):
        super().__init__(f"{'announced' if announced else 'stopped after'} {size} bytes")
        self.size = size
        self.announced = announced


class TooSlow(Retryable):
    """The whole answer did not arrive before the request's deadline (it may well tomorrow: retried)."""

    def __init__(self):
        super().__init__("answer not complete before the deadline")


def check_status(response: requests.Response) -> None:
    """Raise Retryable for a try-later status, Permanent for another failure status."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"HTTP {status} {response.reason or ''}".rstrip()
    if status in RETRY_STATUSES:
        raise Retryable(reason, retry_after_seconds(response.headers.get("Retry-After")))
    excerpt = " ".join(response.raw.read(300, decode_content=True).decode("utf-8", "replace").split())
    raise Permanent(reason + (f": {excerpt}" if excerpt else ""))


def _html_reason(start: bytes) -> str:
    # The page title is usually the archive's own one-line explanation ("down for maintenance").
    title = re.search(rb"<title[^>]*>(.*?)</title>", start[:4096], re.IGNORECASE | re.DOTALL)
    said = " ".join(title.group(1).decode("utf-8", "replace").split())[:200] if title else ""
    return "the archive answered with an HTML page (an error page, not data)" + (f": {said!r}" if said else "")


def stream_body(response: requests.Response, sink: Callable[[bytes], Any], *, max_bytes: int | None = None,
                deadline: float | None = None) -> int:
    """Pass the body to ``sink`` chunk by chunk; return its size, refusing HTML pages and cut bodies.

    Parameters
    ----------
    response : requests.Response
        A streamed response whose status was checked.
    sink : callable
        Called with each chunk of the (decompressed) body.
    max_bytes : int, optional
        Largest body accepted, counted after decompression; more raises :class:`TooLarge`
        before the chunk that crosses the limit reaches ``sink``.
    deadline : float, optional
        ``time.monotonic()`` by which the whole body must have arrived, else :class:`TooSlow`.

    Returns
    -------
    int
        The body's size (decompressed).

    Raises
    ------
    Retryable
        An HTML page, a body shorter than its Content-Length, or :class:`TooSlow`.
    TooLarge
        A body over ``max_bytes``.
    """
    declared = response.headers.get("Content-Length", "")
    # With a Content-Encoding the declared length is of the compressed bytes, which urllib3 checks itself.
    identity = response.headers.get("Content-Encoding", "identity").strip().lower() == "identity"
    if max_bytes is not None and identity and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(int(declared), announced=True)  # refused before a byte of it is read
    size = 0
    html = "text/html" in response.headers.get("Content-Type", "").lower()
    # urllib3 (>= 2.6) decompresses at most one chunk's worth per read, so a gzip bomb arrives in
    # small pieces and is counted here before it can be held.
    for chunk in response.iter_content(_CHUNK):
        if size == 0 and (html or chunk.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))):
            raise Retryable(_html_reason(chunk))
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(size)
        if deadline is not None and time.monotonic() > deadline:
            raise TooSlow()
        sink(chunk)
        fault_point("download.mid_body")
    if declared.isdigit() and identity and size != int(declared):
        raise Retryable(f"answer cut short: {size} of {declared} bytes")
    return size


def describe(exc: Exception) -> str:
    """Return a one-line, credential-free description of a requests exception."""
    text = " ".join(str(exc).split())
    return redact(f"{type(exc).__name__}: {text[:200]}")


def fsync_folder(folder: pathlib.Path) -> None:
    """Flush a folder's entries (a rename) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_session(max_concurrency: int) -> requests.Session:
    """Return a session whose pool keeps a connection for every concurrent request."""
    session = requests.Session()
    # One pooled connection per concurrent request, so none is opened and discarded each time.
    adapter = HTTPAdapter(pool_maxsize=max(10, int(max_concurrency)))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "virtualobserver (python-requests)"
    return session
