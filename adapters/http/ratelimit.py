"""Per-service request rate (token bucket) and concurrency limits: every fetcher of the process shares them, and
with :func:`share_limits` every process that shares the store (all workers of a run, every run on one database)."""

from __future__ import annotations

import abc
import contextlib
import threading
import time
from typing import Callable, Iterator

__all__ = ["TokenBucket", "ConcurrencyLimit", "ServiceLimits", "SharedLimits", "limits_for", "share_limits",
           "shared_limits"]


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


class SharedLimits(abc.ABC):
    """Rate and concurrency limits kept outside the process, so that processes sharing them share the limits.

    Implementations keep the state where every worker of a run can reach it (the project database:
    :class:`adapters.postgres.archive_limits.PostgresArchiveLimits`).
    """

    @abc.abstractmethod
    def slot(self, service: str, rate_per_s: float, max_concurrency: int) -> contextlib.AbstractContextManager:
        """Return a context that holds one of the service's ``max_concurrency`` slots and its next rate turn.

        Parameters
        ----------
        service : str
            Archive service name (every process of every run names it the same).
        rate_per_s : float
            Requests per second over all processes (0: unlimited).
        max_concurrency : int
            Requests in flight at once over all processes.

        Returns
        -------
        contextlib.AbstractContextManager
            Entered when the request may be sent (the caller's turn has come); left when its answer is read.
        """

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release what the limits hold (connections)."""


_shared: SharedLimits | None = None


def share_limits(shared: SharedLimits | None) -> SharedLimits | None:
    """Make every fetcher of this process take its slots from ``shared`` too (None: this process only).

    The composition root calls it once the project database is known, in the driver and in every worker,
    so ``--workers N`` and concurrent runs on one database stay within each archive's limits together.

    Parameters
    ----------
    shared : SharedLimits or None
        The limits shared with other processes.

    Returns
    -------
    SharedLimits or None
        The limits shared before.
    """
    global _shared
    previous, _shared = _shared, shared  # one assignment: a fetcher reads either the old or the new
    return previous


def shared_limits() -> SharedLimits | None:
    """Return the limits this process shares with others, if any (see :func:`share_limits`)."""
    return _shared


class ServiceLimits:
    """Rate and concurrency limits of one archive service.

    In-process, a token bucket and a counting semaphore; when limits are shared (:func:`share_limits`),
    the semaphore still comes first (threads of one process never ask the shared store for more slots
    than the process may hold) and the shared store then gives the slot and the rate turn.
    """

    def __init__(self, rate_per_s: float, max_concurrency: int, service: str = ""):
        self.service = service
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
            shared = _shared
            if shared is None:
                self.bucket.acquire()
                yield time.monotonic() - start
                return
            # The shared store paces every process exactly: a second, local bucket would only add waits.
            with shared.slot(self.service, self.bucket.rate_per_s, self.concurrency.limit):
                yield time.monotonic() - start


_registry: dict[str, ServiceLimits] = {}
_registry_lock = threading.Lock()


def limits_for(service: str, rate_per_s: float, max_concurrency: int) -> ServiceLimits:
    """Return the process-wide limits of ``service``, created or reconfigured with these values.

    Every fetcher of one service shares one :class:`ServiceLimits`; the most
    recently built fetcher's settings apply to all of them. With :func:`share_limits`
    they are shared with the other processes as well.
    """
    with _registry_lock:
        limits = _registry.get(service)
        if limits is None:
            limits = _registry[service] = ServiceLimits(rate_per_s, max_concurrency, service)
        else:
            if limits.bucket.rate_per_s != float(rate_per_s):
                limits.bucket.set_rate(rate_per_s)
            if limits.concurrency.limit != int(max_concurrency):
                limits.concurrency.set_limit(max_concurrency)
        return limits
