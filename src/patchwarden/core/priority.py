"""Urgency score and bucket of a record (R-D11): how soon to fix it.

The seed product scores urgency from technical impact, exploit maturity and exposure, and
buckets it as >13.5 fix ASAP, 7.1–13.5 later, <7 can wait (ANCHORS §2 Seed). It does not publish
its formula; ours, on the same scale:

    score = base × exploit + exposure                                   (0 … 18)

    base      CVSS base score (0–10) when known; else from severity:
              critical 9.5, high 8.0, medium 5.5, low 2.5, none 0; unknown 5.5 (an unrated
              vulnerability ranks with the medium ones, neither buried nor promoted)
    exploit   1.6 when known exploited (CISA KEV, R-D10); otherwise the larger of
              1.3 when a public exploit / POC exists and 1 + 0.4 × EPSS (1.0 … 1.4)
    exposure  + 2.0 when the affected process listens on a non-loopback address

    bucket    asap when score > 13.5; later when score ≥ 7.0; can_wait below 7.0

The score is rounded to one decimal before bucketing, so the shown score and the bucket agree;
7.0 (between the seed's "<7" and "7.1") counts as later.

Consequences, pinned by tests: any critical (CVSS ≥ 9.0) that is KEV-listed is asap
(9.0 × 1.6 = 14.4); a medium (CVSS < 7) with no exploit signal and no exposure can wait; every
high is at least later. The score never decreases when any one input grows (CVSS, severity
without CVSS, KEV, public exploit, EPSS, exposure) — property-tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import List, Optional, Tuple

from patchwarden.core.advisory import Severity

ASAP_ABOVE = 13.5
"""Scores above this are `asap` (seed threshold)."""
LATER_FROM = 7.0
"""Scores from this up to ASAP_ABOVE are `later`; below it they can wait (seed threshold)."""

SEVERITY_BASE = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.5,
    Severity.NONE: 0.0,
    Severity.UNKNOWN: 5.5,
}
"""Stand-in CVSS base score per severity, near the middle of each CVSS v3 band."""

KEV_FACTOR = 1.6
PUBLIC_EXPLOIT_FACTOR = 1.3
EPSS_WEIGHT = 0.4
EXPOSURE_BONUS = 2.0


class Bucket(str, Enum):
    """Fix-urgency buckets (R-D11; the seed's `Necessity` asap / later / nntf)."""

    ASAP = "asap"
    LATER = "later"
    CAN_WAIT = "can_wait"


@dataclass(frozen=True)
class Urgency:
    """Urgency score (0 … 18, one decimal), its bucket, and the inputs that raised it."""

    score: float
    bucket: Bucket
    because: Tuple[str, ...] = ()
    """Human words for the console: base used, exploit signal, exposure."""


def bucket_for(score: float) -> Bucket:
    """The bucket of a score, with the seed's thresholds (>13.5 asap, ≥7 later)."""
    if score > ASAP_ABOVE:
        return Bucket.ASAP
    if score >= LATER_FROM:
        return Bucket.LATER
    return Bucket.CAN_WAIT


def urgency(
    severity: Severity,
    cvss: Optional[float],
    kev: bool,
    epss: Optional[float],
    exposed: bool,
    *,
    public_exploit: bool = False,
) -> Urgency:
    """Score and bucket one record (R-D11); see the module docstring for the formula.

    `cvss`: CVSS base score 0–10, or None to use `severity`. `kev`: listed in CISA KEV.
    `epss`: EPSS probability 0–1, or None when unknown (counts as 0). `exposed`: the affected
    process listens on a non-loopback address (False for distro packages unless known).
    `public_exploit`: a public exploit or POC exists (R-D10). Out-of-range numbers raise
    ValueError naming the value.
    """
    because: List[str] = []
    if cvss is None:
        base = SEVERITY_BASE[severity]
        because.append(f"severity {severity.value} (no CVSS)")
    else:
        base = _checked("cvss", cvss, 10.0)
        because.append(f"CVSS {cvss:g}")
    probability = 0.0 if epss is None else _checked("epss", epss, 1.0)
    if kev:
        exploit = KEV_FACTOR
        because.append("known exploited (CISA KEV)")
    else:
        exploit = max(
            PUBLIC_EXPLOIT_FACTOR if public_exploit else 1.0, 1.0 + EPSS_WEIGHT * probability
        )
        if public_exploit:
            because.append("public exploit")
    if epss is not None and probability > 0:
        because.append(f"EPSS {probability:.2f}")
    score = base * exploit
    if exposed:
        score += EXPOSURE_BONUS
        because.append("listens on a non-loopback address")
    rounded = round(score, 1)
    return Urgency(rounded, bucket_for(rounded), tuple(because))


def _checked(name: str, value: float, upper: float) -> float:
    # NaN compares false with everything, so test it explicitly before the range.
    if math.isnan(value) or not 0.0 <= value <= upper:
        raise ValueError(f"{name} must be between 0 and {upper:g}, got {value!r}")
    return float(value)
