"""Watchdog: ends a response's reads when its request's deadline passes, however slowly bytes trickle in."""

from __future__ import annotations

import contextlib
import threading

import requests

__all__ = ["Watchdog"]


class Watchdog:
    """Shut a streamed response's socket for reading at a deadline.

    A read timeout bounds each wait for bytes, not the whole answer: an archive
    sending a byte a second never times out, and a read blocked inside a large
    buffered read cannot look at the clock. At the deadline the watchdog shuts
    the socket (``urllib3``'s ``HTTPResponse.shutdown``), so the blocked read
    returns at once and the caller sees :attr:`expired`. Use it as a context
    manager around the reading; leaving it disarms the timer before the
    connection can go back to the pool, so it never touches another request.

    Parameters
    ----------
    response : requests.Response
        A streamed response (``stream=True``).
    seconds : float
        Time left until the deadline.
    """

    def __init__(self, response: requests.Response, seconds: float):
        self.expired = False
        self._response = response
        self._lock = threading.Lock()
        self._armed = True
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._armed = False
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.expired = True
            # The response may have just finished and released its connection: nothing left to stop.
            with contextlib.suppress(Exception):
                self._response.raw.shutdown()
