"""Retry timing: exponential backoff with full jitter, and the server's Retry-After header."""

from __future__ import annotations

import datetime
import email.utils
import random
import time

__all__ = ["backoff_delay", "retry_after_seconds"]


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Return the pause before retry number ``attempt + 1`` (full jitter).

    Parameters
    ----------
    attempt : int
        Index of the attempt that just failed (0 for the first).
    base_s, max_s : float
        Backoff base and ceiling (seconds).
    rng : random.Random
        Source of the jitter; spreading retries keeps many clients from retrying in step.

    Returns
    -------
    float
        ``rng.uniform(0, 1) * min(max_s, base_s * 2**attempt)``.
    """
    return rng.uniform(0.0, 1.0) * min(max_s, base_s * 2.0 ** min(attempt, 1000))


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, or None when absent or unreadable.

    Parameters
    ----------
    value : str or None
        Header value: delay seconds (``"120"``) or an HTTP date.
    now : float, optional
        Current POSIX time (defaults to ``time.time()``).

    Returns
    -------
    float or None
        Seconds to wait, never negative.

    Examples
    --------
    >>> retry_after_seconds("7")
    7.0
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=30.0)
    30.0
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value)) if value.replace(".", "", 1).isdigit() else _date_wait(value, now)
    except (TypeError, ValueError, OverflowError):
        return None


def _date_wait(value: str, now: float | None) -> float:
    when = email.utils.parsedate_to_datetime(value)
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
