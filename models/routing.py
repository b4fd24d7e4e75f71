"""Auto/review thresholds from the risk–coverage curve on held-out data.

The operator asks for a precision (default 99%); we pick the lowest confidence threshold whose
auto-filed set still meets it on data the model did not train on, and report the coverage it buys.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Route(StrEnum):
    AUTO = "auto"  # item certain: filed without a reviewer
    CLASS = "class"  # class certain, item not: filed under its class, item left to review
    REVIEW = "review"  # a reviewer decides (also every out-of-catalogue document)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    target_precision: float
    precision: float  # measured on the held-out set at this threshold
    coverage: float  # share of held-out documents routed to auto
    support: int  # number of held-out documents

    @property
    def met(self) -> bool:
        return self.precision >= self.target_precision


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, coverage, precision) for every prefix of the documents sorted by confidence."""
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    hits = np.cumsum(correct[order].astype(float))
    n = np.arange(1, len(conf) + 1)
    return conf, n / len(conf), hits / n


def wilson_lower(hits: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    """Lower Wilson score bound of a binomial proportion (vectorised)."""
    p = hits / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - margin) / denom


def choose_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    target_precision: float = 0.99,
    min_auto: int = 20,
    z: float = 1.2816,
) -> ThresholdChoice:
    """Lowest threshold at which the precision of everything above it is ≥ target, with confidence.

    The largest prefix that merely *measures* ≥ target on the calibration data overfits it (the
    last few documents let in are the ones that happened to be right), and on new data falls just
    short. So the prefix must reach the target with its one-sided 90% Wilson lower bound (``z``).

    Ties are kept together (a threshold cannot split documents of equal confidence). When no prefix
    of at least ``min_auto`` documents reaches the target, the threshold is 1.0+ (all to review):
    an honest "cannot promise that precision" rather than a guess.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    if len(confidence) == 0:
        return ThresholdChoice(1.01, target_precision, 0.0, 0.0, 0)
    conf, coverage, precision = risk_coverage(confidence, correct)
    # Only cut where the next document has a strictly lower confidence.
    cut_ok = np.append(conf[1:] < conf[:-1], True)
    n = np.arange(1, len(conf) + 1)
    lower = wilson_lower(precision * n, n, z)
    ok = (lower >= target_precision) & cut_ok & (np.arange(1, len(conf) + 1) >= min_auto)
    if not ok.any():
        return ThresholdChoice(1.01, target_precision, 1.0, 0.0, len(conf))
    i = int(np.flatnonzero(ok)[-1])
    return ThresholdChoice(
        threshold=float(conf[i]),
        target_precision=target_precision,
        precision=float(precision[i]),
        coverage=float(coverage[i]),
        support=len(conf),
    )
