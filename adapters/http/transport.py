"""One HTTP exchange: status and body checks, failure classification, session and file helpers."""

from __future__ import annotations

import re

import os
import pathlib
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

from adapters.faults import fault_point
from adapters.http.redact import redact
from adapters.http.retry import retry_after_seconds

__all__ = ["RETRY_STATUSES", "Retryable", "Permanent", "check_status", "stream_body", "describe",
           "fsync_folder", "new_session"]

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


def stream_body(response: requests.Response, sink: Callable[[bytes], Any]) -> int:
    """Pass the body to ``sink`` chunk by chunk; return its size, refusing HTML pages and cut bodies."""
    size = 0
    html = "text/html" in response.headers.get("Content-Type", "").lower()
    for chunk in response.iter_content(_CHUNK):
        if size == 0 and (html or chunk.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))):
            raise Retryable(_html_reason(chunk))
        sink(chunk)
        fault_point("download.mid_body")
        size += len(chunk)
    declared = response.headers.get("Content-Length", "")
    # With a Content-Encoding the declared length is of the compressed bytes, which urllib3 checks itself.
    if declared.isdigit() and response.headers.get("Content-Encoding", "identity") == "identity":
        if size != int(declared):
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
