"""Urgency score and bucket (core.priority, R-D11): named cases and monotonicity properties."""

from __future__ import annotations

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
    [(13.6, Bucket.ASAP), (13.5, Bucket.LATER), (7.1, Bucket.LATER), (7.0, Bucket.LATER),
     (6.9, Bucket.CAN_WAIT), (0.0, Bucket.CAN_WAIT)],
)  # fmt: skip
def test_bucket_thresholds(score: float, bucket: Bucket) -> None:
    """Seed thresholds: >13.5 asap, 7.1–13.5 later (7.0 too), <7 can wait."""
    assert bucket_for(score) is bucket


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


@given(severities, cvss_scores, st.booleans(), probabilities, st.booleans(), st.booleans())
def test_score_range_and_bucket_agree(
    sev: Severity, cvss: Optional[float], kev: bool, epss: Optional[float], exp: bool, pub: bool
) -> None:
    """Scores stay in 0…18 with one decimal, and the bucket is the bucket of the shown score."""
    got = urgency(sev, cvss, kev, epss, exp, public_exploit=pub)
    assert 0.0 <= got.score <= 18.0 and got.score == round(got.score, 1)
    assert got.bucket is bucket_for(got.score)
    assert got == urgency(sev, cvss, kev, epss, exp, public_exploit=pub)  # stable


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
    """Frozen value object, usable as a dict key and comparable."""
    assert Urgency(1.0, Bucket.CAN_WAIT) == Urgency(1.0, Bucket.CAN_WAIT)
    assert {urgency(LOW, None, False, None, False)}
