"""Throttling of failed authentication: per client address and per credential, with back-off.

A subject (a client address, or a credential such as an agent's host id or a token digest)
that fails authentication `limit` times within `window` seconds is locked out: every request
counting against it is refused (TooManyRequests, with the seconds left) until the lock ends.
Each further lock-out of the same subject lasts twice as long, up to `max_backoff`; a subject
that stays quiet for `max_backoff` after its last failure and lock-out starts afresh. Only
failures count: a successful request costs a dictionary lookup and is never delayed.

Pure and in memory: the caller passes the time (seconds from an injected clock) and says which
subjects a request counts against; nothing here knows HTTP. Each console process keeps its own
counters, so replicas behind a load balancer each allow the configured failures and a restart
forgets them: the limits slow guessing down by orders of magnitude, they are no lock-out
stored in the database.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from patchwarden.services.errors import TooManyRequests


class SubjectKind(str, Enum):
    """What a subject is: the limits differ."""

    ADDRESS = "address"
    CREDENTIAL = "credential"


@dataclass(frozen=True)
class Subject:
    """One thing failures count against, e.g. (ADDRESS, "api:192.0.2.7")."""

    kind: SubjectKind
    name: str


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are allowed and how long lock-outs last (seconds)."""

    per_address: int = 10
    """Failures one client address may make within `window` (0: no limit)."""
    per_credential: int = 10
    """Failures one credential may see within `window`, from any address (0: no limit)."""
    window: float = 60.0
    backoff: float = 60.0
    """The first lock-out; each next one of the same subject doubles it."""
    max_backoff: float = 900.0
    max_subjects: int = 50_000
    """Subjects remembered at most (guesses with random tokens each make one); the least
    recently failed are forgotten first."""

    def limit(self, kind: SubjectKind) -> int:
        """The failures allowed for a kind of subject."""
        return self.per_address if kind is SubjectKind.ADDRESS else self.per_credential


@dataclass
class _Record:
    failures: deque[float] = field(default_factory=deque)
    """Times of the latest failures (at most `limit` of them)."""
    lockouts: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class FailureThrottle:
    """Counts failed authentications and refuses locked-out subjects (thread-safe)."""

    def __init__(self, policy: ThrottlePolicy) -> None:
        self.policy = policy
        self._records: OrderedDict[Subject, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, subjects: Iterable[Subject], now: float) -> float:
        """Seconds until none of `subjects` is locked out (0: not locked out)."""
        with self._lock:
            waits = [r.locked_until - now for s in subjects if (r := self._records.get(s))]
        return max([0.0, *waits])

    def check(self, subjects: Iterable[Subject], now: float) -> None:
        """TooManyRequests when any of `subjects` is locked out."""
        wait = self.retry_after(subjects, now)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"too many failed authentication attempts; try again in {seconds} s",
                retry_after=seconds,
            )

    def failed(self, subjects: Iterable[Subject], now: float) -> None:
        """Count one failed authentication against each of `subjects`."""
        with self._lock:
            for subject in subjects:
                limit = self.policy.limit(subject.kind)
                if limit > 0:
                    self._fail(subject, limit, now)
            if len(self._records) > self.policy.max_subjects:
                self._forget(now)

    def __len__(self) -> int:
        return len(self._records)

    def _fail(self, subject: Subject, limit: int, now: float) -> None:
        record = self._records.get(subject)
        if record is None or self._stale(record, now):
            record = _Record(failures=deque(maxlen=limit))
        self._records[subject] = record
        self._records.move_to_end(subject)
        record.last_failure = now
        record.failures.append(now)
        if len(record.failures) >= limit and now - record.failures[0] < self.policy.window:
            record.lockouts += 1
            backoff = self.policy.backoff * 2 ** min(record.lockouts - 1, 32)
            record.locked_until = now + min(backoff, self.policy.max_backoff)
            record.failures.clear()

    def _stale(self, record: _Record, now: float) -> bool:
        quiet = max(self.policy.window, self.policy.max_backoff)
        return now - max(record.last_failure, record.locked_until) >= quiet

    def _forget(self, now: float) -> None:
        for subject in [s for s, r in self._records.items() if self._stale(r, now)]:
            del self._records[subject]
        while len(self._records) > self.policy.max_subjects:
            self._records.popitem(last=False)
