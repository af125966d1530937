"""Pure parts of the download layer: token bucket timing, Retry-After parsing, backoff, credential redaction."""

from __future__ import annotations

import contextlib
import random
import threading

import pytest

from virtualobserver.adapters.http.parameters import http_specs
from virtualobserver.adapters.http.ratelimit import ServiceLimits, TokenBucket, limits_for, share_limits, shared_limits
from virtualobserver.adapters.http.redact import redact
from virtualobserver.adapters.http.retry import backoff_delay, retry_after_seconds


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def test_token_bucket_spaces_requests_and_queues_callers_in_order():
    clock = FakeClock()
    bucket = TokenBucket(4.0, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(4)]
    # Nobody slept in between, so each caller is queued one interval after the previous one.
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75])
    clock.now += 10.0  # a long idle time refills only up to the capacity of one
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.25)


def test_token_bucket_with_rate_zero_never_waits():
    clock = FakeClock()
    bucket = TokenBucket(0.0, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(100)] == [0.0] * 100 and clock.sleeps == []


def test_limits_are_shared_by_service_name_and_follow_the_newest_settings():
    first = limits_for("policy-test-a", 5.0, 2)
    assert limits_for("policy-test-a", 5.0, 2) is first
    assert limits_for("policy-test-b", 5.0, 2) is not first
    limits_for("policy-test-a", 7.0, 3)
    assert (first.bucket.rate_per_s, first.concurrency.limit) == (7.0, 3)


@pytest.mark.parametrize("value, expected", [
    ("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("1.5", 1.5),
    ("Thu, 01 Jan 1970 00:02:00 GMT", 90.0),  # now = 30 s
    ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # in the past
    ("Thu, 01 Jan 1970 00:02:00 -0000", 90.0),
    (None, None), ("", None), ("soon", None), ("-3", None),
])
def test_retry_after_seconds(value, expected):
    assert retry_after_seconds(value, now=30.0) == expected


def test_backoff_is_capped_and_jittered():
    rng = random.Random(1)
    delays = [backoff_delay(attempt, 1.0, 10.0, rng) for attempt in range(200)]
    assert all(0.0 <= d <= min(10.0, 2.0**k) for k, d in enumerate(delays))
    assert len(set(delays)) == len(delays)  # jitter: no two clients retry in step
    assert max(delays[10:]) > 5.0  # the cap, not the exponential, bounds late delays


@pytest.mark.parametrize("text, secret, kept", [
    ("https://user:pa55@archive.org/x?ID=1", "pa55", "archive.org/x?ID=1"),
    ("https://tok3n@archive.org/x", "tok3n", "archive.org/x"),
    ("https://a.org/q?POS=1&access_token=zz9&B=2", "zz9", "POS=1"),
    ("https://a.org/q?password=hunter2", "hunter2", "password=***"),
    ("https://a.org/q?API_KEY=K1&b=2", "K1", "b=2"),
    ("Max retries exceeded with url: /lc?ID=1&session=S9 (Caused by X)", "S9", "(Caused by X)"),
])
def test_redact_removes_credentials_and_keeps_the_rest(text, secret, kept):
    cleaned = redact(text)
    assert secret not in cleaned and kept in cleaned


def test_http_specs_never_change_versions():
    specs = http_specs("https://example.org", rate_limit_per_s=5, max_concurrency=4, timeout_s=30)
    assert set(specs) == {"base_url", "timeout_s", "deadline_s", "max_answer_mb", "retries", "backoff_s",
                          "backoff_max_s", "max_retry_after_s", "rate_limit_per_s", "max_concurrency", "offline"}
    assert not any(spec.science for spec in specs.values())
    assert (specs["rate_limit_per_s"].default, specs["max_concurrency"].default, specs["timeout_s"].default) == (
        5.0, 4, 30.0)


class RecordingShared:
    """A SharedLimits fake: records each slot asked for and how many are held at once."""

    def __init__(self):
        self.asked, self.held, self.most = [], 0, 0

    @contextlib.contextmanager
    def slot(self, service, rate_per_s, max_concurrency):
        self.asked.append((service, rate_per_s, max_concurrency))
        self.held += 1
        self.most = max(self.most, self.held)
        try:
            yield
        finally:
            self.held -= 1


def test_shared_limits_give_the_slots_and_the_process_limit_still_comes_first():
    shared = RecordingShared()
    previous = share_limits(shared)
    try:
        limits = ServiceLimits(5.0, 2, "policy-shared")
        clock = FakeClock()
        limits.bucket = TokenBucket(5.0, clock=clock, sleep=clock.sleep)
        local_turns = []
        limits.bucket.acquire = lambda: local_turns.append(1) or 0.0  # the shared store paces: no local turn
        entered = threading.Barrier(3, timeout=5)
        leave = threading.Event()

        def hold():
            with limits.slot():
                entered.wait()
                leave.wait(5)

        threads = [threading.Thread(target=hold) for _ in range(2)]
        for thread in threads:
            thread.start()
        entered.wait()
        third = threading.Thread(target=lambda: limits.slot().__enter__())
        third.start()
        third.join(0.2)
        assert third.is_alive() and shared.asked == [("policy-shared", 5.0, 2)] * 2  # the third waits in-process
        leave.set()
        for thread in threads:
            thread.join(5)
        third.join(5)
        assert shared.asked == [("policy-shared", 5.0, 2)] * 3 and shared.most == 2 and local_turns == []
    finally:
        share_limits(previous)
    assert shared_limits() is previous
