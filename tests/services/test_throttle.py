"""Failed-authentication throttling, on an injected clock (plain seconds): lock-out after the
allowed failures, doubling back-off up to the cap, forgiveness after a quiet spell, and that
nothing but failures ever counts."""

from __future__ import annotations

import pytest

from patchwarden.services.errors import TooManyRequests
from patchwarden.services.throttle import FailureThrottle, Subject, SubjectKind, ThrottlePolicy

IP = Subject(SubjectKind.ADDRESS, "agent:192.0.2.7")
OTHER_IP = Subject(SubjectKind.ADDRESS, "agent:192.0.2.8")
HOST = Subject(SubjectKind.CREDENTIAL, "agent:host-1")
POLICY = ThrottlePolicy(per_address=10, per_credential=5, window=60, backoff=60, max_backoff=900)


def fail(throttle: FailureThrottle, n: int, at: float, *subjects: Subject) -> None:
    for _ in range(n):
        throttle.failed(subjects or (IP,), at)


def test_the_tenth_failure_in_a_minute_locks_the_address_out_for_a_minute() -> None:
    throttle = FailureThrottle(POLICY)
    fail(throttle, 9, 0.0)
    throttle.check([IP], 1.0)  # nine failures: still let through
    fail(throttle, 1, 1.0)
    with pytest.raises(TooManyRequests, match="try again in 60 s") as refused:
        throttle.check([IP], 1.0)
    assert refused.value.retry_after == 60
    assert throttle.retry_after([IP], 31.0) == 30.0
    throttle.check([OTHER_IP], 1.0)  # another address is not concerned
    throttle.check([IP], 61.0)  # the lock has run out


def test_failures_spread_over_more_than_the_window_never_lock() -> None:
    throttle = FailureThrottle(POLICY)
    for i in range(100):
        throttle.failed([IP], i * 7.0)  # 8.6 failures per minute
        throttle.check([IP], i * 7.0)


def test_a_credential_has_its_own_limit_whatever_the_address() -> None:
    throttle = FailureThrottle(POLICY)
    for i in range(5):
        address = Subject(SubjectKind.ADDRESS, f"agent:198.51.100.{i}")
        throttle.failed([address, HOST], 0.0)
    with pytest.raises(TooManyRequests):
        throttle.check([OTHER_IP, HOST], 0.0)
    throttle.check([OTHER_IP], 0.0)


def test_each_further_lock_out_doubles_up_to_the_cap() -> None:
    throttle = FailureThrottle(POLICY)
    now, locks = 0.0, []
    for _ in range(7):
        fail(throttle, 10, now)
        wait = throttle.retry_after([IP], now)
        locks.append(wait)
        now += wait
    assert locks == [60, 120, 240, 480, 900, 900, 900]


def test_a_quiet_spell_as_long_as_the_cap_forgives_earlier_lock_outs() -> None:
    throttle = FailureThrottle(POLICY)
    fail(throttle, 10, 0.0)
    fail(throttle, 10, 60.0)
    assert throttle.retry_after([IP], 60.0) == 120
    fail(throttle, 10, 180.0 + 900.0)  # quiet for 900 s after the lock ended
    assert throttle.retry_after([IP], 1080.0) == 60


def test_only_failures_count_and_a_zero_limit_turns_the_kind_off() -> None:
    throttle = FailureThrottle(ThrottlePolicy(per_address=0, per_credential=3))
    for _ in range(1000):
        throttle.check([IP, HOST], 0.0)  # successful requests: checked, never counted
    fail(throttle, 50, 0.0, IP)
    throttle.check([IP], 0.0)
    assert len(throttle) == 0
    fail(throttle, 3, 0.0, IP, HOST)
    with pytest.raises(TooManyRequests):
        throttle.check([HOST], 0.0)


def test_memory_is_bounded_by_forgetting_the_least_recent_subjects() -> None:
    throttle = FailureThrottle(ThrottlePolicy(max_subjects=100))
    for i in range(1000):  # guesses with a new random token each time
        throttle.failed([Subject(SubjectKind.CREDENTIAL, f"api:{i}")], float(i))
    assert len(throttle) == 100
    fail(throttle, 10, 1000.0)
    with pytest.raises(TooManyRequests):
        throttle.check([IP], 1000.0)  # the subject failing now is kept
