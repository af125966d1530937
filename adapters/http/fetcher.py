"""HttpFetcher: archive requests with retries, rate and concurrency limits, and atomic file downloads."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from virtualobserver.adapters.files.atomic import sweep_temporaries, temporary_prefix
from virtualobserver.adapters.http.deadline import Watchdog
from virtualobserver.adapters.http.ratelimit import limits_for
from virtualobserver.adapters.http.redact import redact
from virtualobserver.adapters.http.retry import backoff_delay
from virtualobserver.adapters.http.transport import (
    Permanent,
    Retryable,
    TooLarge,
    TooSlow,
    check_status,
    describe,
    fsync_folder,
    new_session,
    stream_body,
)
from virtualobserver.domain.errors import SurveyError, TransientSurveyError

__all__ = ["BadAnswer", "OfflineError", "FetchStats", "HttpFetcher"]

log = logging.getLogger(__name__)


class BadAnswer(Exception):
    """Raised by a validator: the answer arrived but is unusable.

    Parameters
    ----------
    reason : str
        What is wrong, for the error message.
    retry : bool
        Whether asking again may help (e.g. an empty answer during an outage).
    """

    def __init__(self, reason: str, *, retry: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class OfflineError(SurveyError):
    """The answer is not in the cache and offline mode forbids asking the archive."""


@dataclass
class FetchStats:
    """Counters of one fetcher, safe to update from several threads.

    ``requests`` counts attempts sent, ``retries`` the retries among them,
    ``bytes`` the body bytes of successful exchanges, and ``waited_s`` the
    time spent in backoff and waiting for the service's rate and concurrency limits.
    """

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    waited_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, bytes: int = 0, waited_s: float = 0.0) -> None:
        """Add to the counters atomically."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.bytes += bytes
            self.waited_s += waited_s


class HttpFetcher:
    """Requests to one archive service, retried on transient failures.

    Retries (exponential backoff with full jitter, or the server's longer
    Retry-After) follow timeouts, connection failures, 408/425/429/5xx answers,
    bodies shorter than their Content-Length, HTML error pages, answers not
    complete within ``deadline_s`` (the whole request, however slowly it
    trickles), and ``BadAnswer(retry=True)`` from a validator. An answer over
    ``max_answer_mb`` (counted after decompression, while it streams) is cut
    there and not retried. Every fetcher with the same
    ``service`` name shares one rate limit and one concurrency limit. Error
    messages name the service, ``what`` and the URL, with credentials removed.

    Parameters
    ----------
    service : str
        Archive name, e.g. ``"ztf"``; keys the shared limits.
    parameters : Parameters
        A parameter set including :func:`adapters.http.parameters.http_specs`.
    session : requests.Session, optional
        Session to use (a new one with a pool of ``max_concurrency`` connections by default).
    sleep : callable
        Called with the seconds to pause between retries (tests inject a recorder).
    rng : random.Random, optional
        Source of the backoff jitter.
    """

    def __init__(self, service: str, parameters: Any, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.service = service
        self.parameters = parameters
        self.stats = FetchStats()
        self._session = session if session is not None else new_session(parameters.max_concurrency)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._rng_lock = threading.Lock()
        self._limits = limits_for(service, parameters.rate_limit_per_s, parameters.max_concurrency)

    def url_for(self, url: str) -> str:
        """Return ``url`` if absolute, else ``url`` joined to the ``base_url`` parameter."""
        if url.startswith(("http://", "https://")):
            return url
        return f"{self.parameters.base_url.rstrip('/')}/{url.lstrip('/')}"

    def fetch(self, url: str, *, params=None, data=None, method: str = "GET",
              validate: Callable[[bytes], None] | None = None, what: str = "") -> bytes:
        """Return the body of a successful answer, retrying transient failures.

        Parameters
        ----------
        url : str
            Absolute URL, or a path joined to ``base_url``.
        params, data : mapping, optional
            Query parameters and (urlencoded) form body, as for ``requests``.
        method : str
            HTTP method.
        validate : callable, optional
            Called with the body; raises :class:`BadAnswer` if it is unusable.
        what : str
            What is fetched (e.g. ``"source 'X'"``), for error messages.

        Returns
        -------
        bytes
            The complete body.

        Raises
        ------
        OfflineError
            In offline mode (no request is made).
        TransientSurveyError
            When retries run out, or the server asks to wait longer than ``max_retry_after_s``.
        SurveyError
            On a permanent failure (another 4xx, ``BadAnswer(retry=False)``).
        """
        full, label = self._target(url, params, what)

        def once() -> bytes:
            # Chunks, not a growing bytearray: what is held stays the bytes received (at most the limit),
            # without the over-allocation of a buffer that doubles as it grows.
            chunks: list[bytes] = []
            self._exchange(method, full, params, data, chunks.append)
            body = b"".join(chunks)
            del chunks
            if validate is not None:
                self._check(validate, body)
            return body

        return self._with_retries(once, label)

    def download(self, url: str, dest: pathlib.Path, *, params=None, data=None, method: str = "GET",
                 validate: Callable[[pathlib.Path], None] | None = None, expected_size: int | None = None,
                 what: str = "") -> pathlib.Path:
        """Stream an answer into ``dest`` atomically and return ``dest``; an existing ``dest`` is the cache.

        The body goes to a temporary file beside ``dest``, which is checked
        (Content-Length, ``expected_size``, ``validate``), fsynced and renamed
        onto ``dest``; on any failure it is removed, so nothing half-written stays.
        ``validate`` is called with the temporary path; other arguments are as in :meth:`fetch`.

        Returns
        -------
        pathlib.Path
            ``dest``.

        Raises
        ------
        OfflineError, TransientSurveyError, SurveyError
            As :meth:`fetch`; ``SurveyError`` also when the size differs from ``expected_size``.
        """
        dest = pathlib.Path(dest)
        if dest.exists():
            return dest
        full, label = self._target(url, params, what)
        dest.parent.mkdir(parents=True, exist_ok=True)

        def once() -> pathlib.Path:
            sweep_temporaries(dest.parent)  # what a killed download left here goes first
            fd, name = tempfile.mkstemp(dir=dest.parent, prefix=temporary_prefix(dest), suffix=".part")
            tmp = pathlib.Path(name)
            try:
                with os.fdopen(fd, "wb") as out:
                    size = self._exchange(method, full, params, data, out.write)
                    out.flush()
                    os.fsync(out.fileno())
                if expected_size is not None and size != expected_size:
                    raise Permanent(f"got {size} bytes, expected {expected_size}")
                if validate is not None:
                    self._check(validate, tmp)
                os.replace(tmp, dest)
                fsync_folder(dest.parent)
                return dest
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

        return self._with_retries(once, label)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _target(self, url: str, params: Any, what: str) -> tuple[str, str]:
        full = self.url_for(url)
        shown = full
        with contextlib.suppress(Exception):
            prepared = requests.PreparedRequest()
            prepared.prepare_url(full, params)
            shown = prepared.url or full
        label = redact(f"{self.service}: {what + ': ' if what else ''}{shown}")
        if self.parameters.offline:
            raise OfflineError(f"{label}: not available offline (offline mode makes no requests)")
        return full, label

    def _with_retries(self, once: Callable[[], Any], label: str) -> Any:
        p = self.parameters
        for attempt in range(p.retries + 1):
            try:
                return once()
            except Permanent as failure:
                raise SurveyError(f"{label}: {redact(self._reason(failure))}") from None
            except Retryable as failure:
                if attempt == p.retries:
                    raise TransientSurveyError(
                        f"{label}: {redact(self._reason(failure))}; gave up after {attempt + 1} attempt(s)") from None
                with self._rng_lock:
                    wait = backoff_delay(attempt, p.backoff_s, p.backoff_max_s, self._rng)
                if failure.retry_after is not None:
                    if failure.retry_after > p.max_retry_after_s:
                        raise TransientSurveyError(
                            f"{label}: {failure.reason}; the archive asks to retry after {failure.retry_after:.0f} s, "
                            f"longer than max_retry_after_s = {p.max_retry_after_s:g} s") from None
                    wait = max(wait, failure.retry_after)
                log.info("%s: %s; retry %d in %.2f s", label, self._reason(failure), attempt + 1, wait)
                self.stats.add(retries=1, waited_s=wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, validate: Callable[[Any], None], answer: Any) -> None:
        try:
            validate(answer)
        except BadAnswer as bad:
            if bad.retry:
                raise Retryable(f"unusable answer: {bad.reason}") from None
            raise Permanent(f"unusable answer: {bad.reason}") from None

    def _reason(self, failure: Retryable | Permanent) -> str:
        # The limits' failures name the parameter to change, so the one line says what to do.
        p = self.parameters
        if isinstance(failure, TooLarge):
            how = "the archive announced" if failure.announced else "stopped reading after"
            return (f"answer larger than max_answer_mb = {p.max_answer_mb:g} MB ({how} {failure.size:,} bytes); "
                    "not retried")
        if isinstance(failure, TooSlow):
            return (f"answer not complete within deadline_s = {p.deadline_s:g} s (the whole request; "
                    f"timeout_s = {p.timeout_s:g} s bounds each wait)")
        return failure.reason

    def _exchange(self, method: str, url: str, params: Any, data: Any, sink: Callable[[bytes], Any]) -> int:
        """Send one request inside a rate/concurrency slot, stream the body to ``sink``; return its size.

        Every wait is bounded by ``timeout_s`` and the whole request by ``deadline_s`` (a watchdog
        stops a read that blocks past it); the body by ``max_answer_mb``.
        """
        p = self.parameters
        read = min(p.timeout_s, p.deadline_s)
        timeout = (min(read, 30.0), read)
        limit = int(p.max_answer_mb * 1_000_000)
        with self._limits.slot() as waited:
            self.stats.add(requests=1, waited_s=waited)
            deadline = time.monotonic() + p.deadline_s  # from the request on, not from the wait for a slot
            watchdog: Watchdog | None = None
            try:
                with self._session.request(method, url, params=params, data=data, timeout=timeout,
                                           stream=True) as response:
                    with Watchdog(response, deadline - time.monotonic()) as watchdog:
                        check_status(response)
                        size = stream_body(response, sink, max_bytes=limit, deadline=deadline)
            except (Retryable, Permanent):
                if watchdog is not None and watchdog.expired:
                    raise TooSlow() from None
                raise
            except requests.RequestException as exc:
                if watchdog is not None and watchdog.expired:
                    raise TooSlow() from None  # the watchdog cut the read: whatever it broke says nothing
                raise _classified(exc, p.timeout_s) from None
            if watchdog.expired:
                raise TooSlow()  # an answer without a length ends at the cut as if complete: it is not
        self.stats.add(bytes=size)
        return size


def _classified(exc: requests.RequestException, timeout_s: float) -> Retryable | Permanent:
    if isinstance(exc, requests.Timeout):
        return Retryable(f"no answer within {timeout_s:g} s")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return Retryable(f"answer cut short ({describe(exc)})")
    if isinstance(exc, requests.ConnectionError):
        return Retryable(f"connection failed ({describe(exc)})")
    return Permanent(f"request failed ({describe(exc)})")
