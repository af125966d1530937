"""Per-service request rate (token bucket) and concurrency limits, shared by every fetcher in the process."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

__all__ = ["TokenBucket", "ConcurrencyLimit", "ServiceLimits", "limits_for"]


class TokenBucket:
    """Thread-safe token bucket: on average ``rate_per_s`` acquisitions per second, bursts up to ``capacity``.

    Waiting threads reserve their token under the lock and sleep outside it, so
    tokens are handed out in call order and the lock is never held while sleeping.
    In any interval of length ``T`` at most ``capacity + rate_per_s * T`` tokens
    are granted. A rate of 0 means unlimited.

    Parameters
    ----------
    rate_per_s : float
        Tokens added per second (0 = unlimited).
    capacity : float
        Largest burst; 1 spaces every request evenly.
    clock, sleep : callable
        Monotonic clock and sleep function (injected by tests).
    """

    def __init__(self, rate_per_s: float, capacity: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._rate = float(rate_per_s)
        self._capacity = max(1.0, float(capacity))
        self._tokens = self._capacity
        self._last = clock()

    @property
    def rate_per_s(self) -> float:
        """Tokens added per second (0 = unlimited)."""
        return self._rate

    def set_rate(self, rate_per_s: float) -> None:
        """Change the rate; tokens already reserved keep their times."""
        with self._lock:
            self._refill()
            self._rate = float(rate_per_s)

    def _refill(self) -> None:
        now = self._clock()
        if self._rate > 0:
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the seconds waited."""
        with self._lock:
            if self._rate <= 0:
                return 0.0
            self._refill()
            # The balance may go negative: that debt is this caller's place in the queue.
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class ConcurrencyLimit:
    """A resizable counting semaphore: at most ``limit`` holders at once."""

    def __init__(self, limit: int):
        self._cond = threading.Condition()
        self._limit = max(1, int(limit))
        self._held = 0

    @property
    def limit(self) -> int:
        """Largest number of simultaneous holders."""
        return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the limit; holders above a lowered limit finish normally."""
        with self._cond:
            self._limit = max(1, int(limit))
            self._cond.notify_all()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the duration of the ``with`` block."""
        with self._cond:
            self._cond.wait_for(lambda: self._held < self._limit)
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify()


class ServiceLimits:
    """Rate and concurrency limits of one archive service."""

    def __init__(self, rate_per_s: float, max_concurrency: int):
        self.bucket = TokenBucket(rate_per_s)
        self.concurrency = ConcurrencyLimit(max_concurrency)

    @contextlib.contextmanager
    def slot(self) -> Iterator[float]:
        """Hold a concurrency slot and a rate token; yield the seconds spent waiting for them.

        The slot is taken before the token: a token taken first and then kept
        waiting for a slot would let requests bunch up above the rate.
        """
        start = time.monotonic()
        with self.concurrency.hold():
            self.bucket.acquire()
            yield time.monotonic() - start


_registry: dict[str, ServiceLimits] = {}
_registry_lock = threading.Lock()


def limits_for(service: str, rate_per_s: float, max_concurrency: int) -> ServiceLimits:
    """Return the process-wide limits of ``service``, created or reconfigured with these values.

    Every fetcher of one service shares one :class:`ServiceLimits`; the most
    recently built fetcher's settings apply to all of them.
    """
    with _registry_lock:
        limits = _registry.get(service)
        if limits is None:
            limits = _registry[service] = ServiceLimits(rate_per_s, max_concurrency)
        else:
            if limits.bucket.rate_per_s != float(rate_per_s):
                limits.bucket.set_rate(rate_per_s)
            if limits.concurrency.limit != int(max_concurrency):
                limits.concurrency.set_limit(max_concurrency)
        return limits
