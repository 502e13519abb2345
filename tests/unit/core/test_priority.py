"""Urgency score and bucket (core.priority, R-D11): named cases and monotonicity properties."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchwarden.core.advisory import Severity
from patchwarden.core.priority import Bucket, Urgency, bucket_for, urgency

CRIT, HIGH, MED, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


@pytest.mark.parametrize(
    ("severity", "cvss", "kev", "epss", "exposed", "public", "score", "bucket"),
    [
        pytest.param(CRIT, 9.0, True, None, False, False, 14.4, Bucket.ASAP, id="critical KEV"),
        pytest.param(CRIT, None, True, None, False, False, 15.2, Bucket.ASAP, id="crit KEV sev"),
        pytest.param(CRIT, 10.0, True, 1.0, True, True, 18.0, Bucket.ASAP, id="maximum"),
        pytest.param(CRIT, 9.8, False, None, False, False, 9.8, Bucket.LATER, id="critical quiet"),
        pytest.param(CRIT, 9.8, False, None, False, True, 12.7, Bucket.LATER, id="crit public"),
        pytest.param(CRIT, 9.8, False, None, True, True, 14.7, Bucket.ASAP, id="crit pub exposed"),
        pytest.param(HIGH, 7.0, False, None, False, False, 7.0, Bucket.LATER, id="high quiet"),
        pytest.param(HIGH, 7.5, False, 0.5, False, False, 9.0, Bucket.LATER, id="high EPSS 0.5"),
        pytest.param(HIGH, 7.5, False, None, True, False, 9.5, Bucket.LATER, id="high exposed"),
        pytest.param(HIGH, 8.8, True, None, False, False, 14.1, Bucket.ASAP, id="high KEV"),
        pytest.param(HIGH, 7.0, True, None, True, False, 13.2, Bucket.LATER, id="h7 KEV exposed"),
        pytest.param(MED, 6.9, False, None, False, False, 6.9, Bucket.CAN_WAIT, id="medium quiet"),
        pytest.param(MED, None, False, 0.0, False, False, 5.5, Bucket.CAN_WAIT, id="medium sev"),
        pytest.param(MED, 5.3, False, None, True, False, 7.3, Bucket.LATER, id="medium exposed"),
        pytest.param(LOW, 3.1, True, None, True, False, 7.0, Bucket.LATER, id="low KEV exposed"),
        pytest.param(LOW, None, False, None, False, False, 2.5, Bucket.CAN_WAIT, id="low"),
        pytest.param(Severity.NONE, 0.0, True, 1.0, False, True, 0.0, Bucket.CAN_WAIT, id="zero"),
        pytest.param(Severity.UNKNOWN, None, False, None, False, False, 5.5, Bucket.CAN_WAIT,
                     id="unknown ranks as medium"),
    ],
)  # fmt: skip
def test_named_cases(
    severity: Severity,
    cvss: Optional[float],
    kev: bool,
    epss: Optional[float],
    exposed: bool,
    public: bool,
    score: float,
    bucket: Bucket,
) -> None:
    """Hand-computed scores (module docstring formula) and their buckets."""
    got = urgency(severity, cvss, kev, epss, exposed, public_exploit=public)
    assert (got.score, got.bucket) == (score, bucket)


@pytest.mark.parametrize(
    ("score", "bucket"),
    [(18.0, Bucket.ASAP), (13.6, Bucket.ASAP), (13.51, Bucket.ASAP), (13.5, Bucket.LATER),
     (7.1, Bucket.LATER), (7.0, Bucket.LATER), (6.99, Bucket.CAN_WAIT), (6.9, Bucket.CAN_WAIT),
     (0.0, Bucket.CAN_WAIT)],
)  # fmt: skip
def test_bucket_thresholds(score: float, bucket: Bucket) -> None:
    """README: "bucketed asap > 13.5 ≥ later ≥ 7 > can_wait" — 13.5 is later, 7.0 is later."""
    assert bucket_for(score) is bucket


@pytest.mark.parametrize(
    ("severity", "cvss", "kev", "epss", "exposed", "score", "bucket"),
    [
        # 10 × (1 + 0.4 × 0.875) = 10 × 1.35 = 13.5: on the threshold, not above it.
        pytest.param(CRIT, 10.0, False, 0.875, False, 13.5, Bucket.LATER, id="13.5 exactly"),
        # 7.2 × 1.6 + 2 = 13.52, shown as 13.5: rounded first, so later although 13.52 > 13.5.
        pytest.param(HIGH, 7.2, True, None, True, 13.5, Bucket.LATER, id="13.52 rounds to later"),
        # 7.3 × 1.6 + 2 = 13.68 → 13.7.
        pytest.param(HIGH, 7.3, True, None, True, 13.7, Bucket.ASAP, id="13.68 is asap"),
        # 5.0 + 2 = 7.0 and 5.0 × (1 + 0.4 × 1.0) = 7.0: the lower threshold is later.
        pytest.param(MED, 5.0, False, None, True, 7.0, Bucket.LATER, id="7.0 by exposure"),
        pytest.param(MED, 5.0, False, 1.0, False, 7.0, Bucket.LATER, id="7.0 by EPSS 1.0"),
        # 4.9 + 2 = 6.9.
        pytest.param(MED, 4.9, False, None, True, 6.9, Bucket.CAN_WAIT, id="6.9 can wait"),
        # 5.0 × 1.388 = 6.94 → 6.9; 5.0 × 1.392 = 6.96 → 7.0.
        pytest.param(MED, 5.0, False, 0.97, False, 6.9, Bucket.CAN_WAIT, id="6.94 can wait"),
        pytest.param(MED, 5.0, False, 0.98, False, 7.0, Bucket.LATER, id="6.96 rounds to later"),
        # 3.0 × 1.6 + 2 = 6.8.
        pytest.param(LOW, 3.0, True, None, True, 6.8, Bucket.CAN_WAIT, id="low KEV exposed 6.8"),
    ],
)
def test_scores_at_the_bucket_thresholds(
    severity: Severity,
    cvss: float,
    kev: bool,
    epss: Optional[float],
    exposed: bool,
    score: float,
    bucket: Bucket,
) -> None:
    """Hand-computed scores that land on (or round onto) 13.5 and 7.0, and their buckets."""
    got = urgency(severity, cvss, kev, epss, exposed)
    assert (got.score, got.bucket) == (score, bucket)


def test_because_explains_the_score() -> None:
    """The console can say why a record is urgent."""
    got = urgency(CRIT, 9.8, True, 0.97, True)
    assert got.because == (
        "CVSS 9.8",
        "known exploited (CISA KEV)",
        "EPSS 0.97",
        "listens on a non-loopback address",
    )
    assert urgency(HIGH, None, False, None, False, public_exploit=True).because == (
        "severity high (no CVSS)",
        "public exploit",
    )


@pytest.mark.parametrize(
    ("cvss", "epss", "message"),
    [
        (10.1, None, "cvss must be between 0 and 10, got 10.1"),
        (-0.1, None, "cvss must be between 0 and 10, got -0.1"),
        (math.nan, None, "cvss must be between 0 and 10, got nan"),
        (5.0, 1.5, "epss must be between 0 and 1, got 1.5"),
        (5.0, math.nan, "epss must be between 0 and 1, got nan"),
    ],
)
def test_out_of_range_inputs(cvss: float, epss: Optional[float], message: str) -> None:
    """Bad feed numbers are refused with the value, never silently clamped."""
    with pytest.raises(ValueError, match=message):
        urgency(MED, cvss, False, epss, False)


# -- properties --------------------------------------------------------------------------------

severities = st.sampled_from(list(Severity))
cvss_scores = st.one_of(st.none(), st.floats(0.0, 10.0))
probabilities = st.one_of(st.none(), st.floats(0.0, 1.0))


def score(
    severity: Severity,
    cvss: Optional[float],
    kev: bool,
    epss: Optional[float],
    exposed: bool,
    public: bool,
) -> float:
    """Shorthand for the score alone."""
    return urgency(severity, cvss, kev, epss, exposed, public_exploit=public).score


@given(severities, st.floats(0.0, 10.0), st.floats(0.0, 10.0), st.booleans(), probabilities,
       st.booleans(), st.booleans())  # fmt: skip
def test_monotonic_in_cvss(
    sev: Severity, a: float, b: float, kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> None:
    """A higher CVSS never lowers the score."""
    lo, hi = sorted((a, b))
    assert score(sev, lo, kev, epss, exp, pub) <= score(sev, hi, kev, epss, exp, pub)


ORDERED = [Severity.NONE, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@given(st.integers(0, 4), st.integers(0, 4), st.booleans(), probabilities, st.booleans(),
       st.booleans())  # fmt: skip
def test_monotonic_in_severity_without_cvss(
    i: int, j: int, kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> None:
    """Without CVSS, a higher severity never lowers the score."""
    lo, hi = ORDERED[min(i, j)], ORDERED[max(i, j)]
    assert score(lo, None, kev, epss, exp, pub) <= score(hi, None, kev, epss, exp, pub)


@given(severities, cvss_scores, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.booleans(),
       st.booleans(), st.booleans())  # fmt: skip
def test_monotonic_in_epss(
    sev: Severity, cvss: Optional[float], a: float, b: float, kev: bool, exp: bool, pub: bool
) -> None:
    """A higher EPSS never lowers the score; unknown EPSS scores like 0."""
    lo, hi = sorted((a, b))
    assert score(sev, cvss, kev, lo, exp, pub) <= score(sev, cvss, kev, hi, exp, pub)
    assert score(sev, cvss, kev, None, exp, pub) == score(sev, cvss, kev, 0.0, exp, pub)


@given(severities, cvss_scores, probabilities, st.booleans(), st.booleans(), st.booleans())
def test_monotonic_in_flags(
    sev: Severity, cvss: Optional[float], epss: Optional[float], kev: bool, exp: bool, pub: bool
) -> None:
    """Turning on KEV, public exploit or exposure never lowers the score; KEV tops the others."""
    base = score(sev, cvss, kev, epss, exp, pub)
    assert score(sev, cvss, True, epss, exp, pub) >= base
    assert score(sev, cvss, kev, epss, True, pub) >= base
    assert score(sev, cvss, kev, epss, exp, True) >= base
    # Exploit maturity order: KEV > public exploit / EPSS > none.
    assert score(sev, cvss, True, None, exp, False) >= score(sev, cvss, False, epss, exp, True)


# The formula as the module docstring and the README state it, written out independently.
DOCUMENTED_BASE = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.5,
    Severity.NONE: 0.0,
    Severity.UNKNOWN: 5.5,
}


def documented_score(
    sev: Severity, cvss: Optional[float], kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> float:
    """`base × exploit + exposure`, rounded to one decimal (priority.py docstring, README)."""
    base = DOCUMENTED_BASE[sev] if cvss is None else cvss
    exploit = 1.6 if kev else max(1.3 if pub else 1.0, 1.0 + 0.4 * (epss or 0.0))
    return round(base * exploit + (2.0 if exp else 0.0), 1)


def documented_bucket(score: float) -> Bucket:
    """README: asap > 13.5 ≥ later ≥ 7 > can_wait."""
    if score > 13.5:
        return Bucket.ASAP
    return Bucket.LATER if score >= 7.0 else Bucket.CAN_WAIT


@given(severities, cvss_scores, st.booleans(), probabilities, st.booleans(), st.booleans())
def test_score_and_bucket_follow_the_documented_formula(
    sev: Severity, cvss: Optional[float], kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> None:
    """Any input: the score is the documented formula, in 0…18, and its documented bucket."""
    got = urgency(sev, cvss, kev, epss, exp, public_exploit=pub)
    assert got.score == documented_score(sev, cvss, kev, epss, exp, pub)
    assert 0.0 <= got.score <= 18.0
    assert got.bucket is documented_bucket(got.score)


@given(st.floats(9.0, 10.0), probabilities, st.booleans(), st.booleans())
def test_critical_kev_is_always_asap(cvss: float, epss: Optional[float], e: bool, p: bool) -> None:
    """A critical KEV-listed CVE is asap whatever the rest."""
    assert urgency(CRIT, cvss, True, epss, e, public_exploit=p).bucket is Bucket.ASAP


@given(st.floats(0.0, 6.9), st.one_of(st.none(), st.just(0.0)))
def test_quiet_medium_can_wait(cvss: float, epss: Optional[float]) -> None:
    """A medium (CVSS < 7) with no exploit signal and no exposure can wait."""
    assert urgency(MED, cvss, False, epss, False).bucket is Bucket.CAN_WAIT


@given(st.floats(7.0, 8.9), st.floats(0.5, 1.0), st.booleans())
def test_high_with_epss_or_exposure_is_at_least_later(cvss: float, epss: float, e: bool) -> None:
    """A high with EPSS ≥ 0.5 (or exposure) is never can_wait."""
    assert urgency(HIGH, cvss, False, epss, e).bucket is not Bucket.CAN_WAIT
    assert urgency(HIGH, cvss, False, None, True).bucket is not Bucket.CAN_WAIT


def test_urgency_is_a_value() -> None:
    """Frozen value object: equal by value, usable as a dict key, not changeable in place."""
    low = urgency(LOW, None, False, None, False)
    expected = Urgency(2.5, Bucket.CAN_WAIT, ("severity low (no CVSS)",))
    assert low == expected and hash(low) == hash(expected)
    assert {expected: "found"}[low] == "found"
    assert low != Urgency(2.5, Bucket.CAN_WAIT)  # `because` is part of the value
    assert low != urgency(LOW, None, False, None, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        low.score = 18.0  # type: ignore[misc]


# -- R-D11 orderings: strict, at otherwise equal inputs --------------------------------------
# "urgency score from severity (CVSS), exploit maturity (public POC / exploit / known
# exploited), and exposure (the affected process listens on a non-loopback address) …; lists
# sort by it". A base of at least 1.0 keeps each step ≥ 0.2 apart, more than rounding eats.

bases = st.one_of(st.floats(1.0, 10.0), st.none())
rated = st.sampled_from([s for s in Severity if s is not Severity.NONE])


@given(rated, bases, probabilities, st.booleans(), st.booleans())
def test_exploited_ranks_above_not_exploited(
    sev: Severity, cvss: Optional[float], epss: Optional[float], exp: bool, pub: bool
) -> None:
    """Known exploited (KEV) is strictly above the same record without KEV, whatever else."""
    assert score(sev, cvss, True, epss, exp, pub) > score(sev, cvss, False, epss, exp, pub)


@given(rated, bases, st.booleans(), st.one_of(st.none(), st.just(0.0)))
def test_public_exploit_ranks_above_none(
    sev: Severity, cvss: Optional[float], exp: bool, epss: Optional[float]
) -> None:
    """A public exploit / POC is strictly above no exploit signal (no KEV, no EPSS)."""
    assert score(sev, cvss, False, epss, exp, True) > score(sev, cvss, False, epss, exp, False)


@given(severities, cvss_scores, st.booleans(), probabilities, st.booleans())
def test_exposed_ranks_above_not_exposed(
    sev: Severity, cvss: Optional[float], kev: bool, epss: Optional[float], pub: bool
) -> None:
    """Exposure adds 2.0 (± the rounding of the sum): strictly above, for every input."""
    exposed = score(sev, cvss, kev, epss, True, pub)
    hidden = score(sev, cvss, kev, epss, False, pub)
    assert exposed > hidden
    assert exposed - hidden == pytest.approx(2.0, abs=0.1 + 1e-9)


@given(st.integers(0, 3), st.booleans(), probabilities, st.booleans(), st.booleans())
def test_higher_severity_ranks_above_without_cvss(
    i: int, kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> None:
    """Without CVSS: critical > high > medium > low > none, strictly, at equal exploit/exposure."""
    lo, hi = ORDERED[i], ORDERED[i + 1]
    assert score(hi, None, kev, epss, exp, pub) > score(lo, None, kev, epss, exp, pub)


def test_lists_sort_by_urgency() -> None:
    """Sorted by score, a KEV-listed high outranks a quiet critical; exposure lifts a medium."""
    records = {
        "medium, quiet": urgency(MED, None, False, None, False),  # 5.5
        "low, exposed": urgency(LOW, None, False, None, True),  # 2.5 + 2 = 4.5
        "critical, quiet": urgency(CRIT, 9.8, False, None, False),  # 9.8
        "medium, exposed": urgency(MED, None, False, None, True),  # 5.5 + 2 = 7.5
        "high, KEV": urgency(HIGH, 8.8, True, None, False),  # 8.8 × 1.6 = 14.08 → 14.1
        "high, public exploit": urgency(HIGH, 7.0, False, None, False, public_exploit=True),  # 9.1
    }
    ranked = sorted(records, key=lambda name: records[name].score, reverse=True)
    assert [(name, records[name].score, records[name].bucket) for name in ranked] == [
        ("high, KEV", 14.1, Bucket.ASAP),
        ("critical, quiet", 9.8, Bucket.LATER),
        ("high, public exploit", 9.1, Bucket.LATER),
        ("medium, exposed", 7.5, Bucket.LATER),
        ("medium, quiet", 5.5, Bucket.CAN_WAIT),
        ("low, exposed", 4.5, Bucket.CAN_WAIT),
    ]
