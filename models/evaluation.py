"""Scoring a classifier on labelled texts: item/class accuracy (same-named items equivalent),
calibration error and auto-routing precision/coverage at the model's threshold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from models.catalogue import Catalogue


@dataclass(frozen=True)
class Metrics:
    n: int
    item_accuracy: float
    class_accuracy: float
    stage_accuracy: float
    ece: float  # expected calibration error of the item confidence (15 bins)
    auto_coverage: float
    auto_precision: float | None
    threshold: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def score(
    catalogue: Catalogue,
    predicted: Sequence[str],
    confidence: Sequence[float],
    truth: Sequence[str],
    threshold: float,
) -> Metrics:
    conf = np.asarray(confidence, dtype=float)
    item_ok = np.asarray([catalogue.equivalent(p, t) for p, t in zip(predicted, truth)])
    class_ok = np.asarray(
        [item_ok[i] or catalogue[p].class_code == catalogue[t].class_code for i, (p, t) in enumerate(zip(predicted, truth))]
    )
    stage_ok = np.asarray(
        [item_ok[i] or catalogue[p].stage == catalogue[t].stage for i, (p, t) in enumerate(zip(predicted, truth))]
    )
    auto = conf >= threshold
    n = len(truth)
    return Metrics(
        n=n,
        item_accuracy=float(item_ok.mean()) if n else 0.0,
        class_accuracy=float(class_ok.mean()) if n else 0.0,
        stage_accuracy=float(stage_ok.mean()) if n else 0.0,
        ece=expected_calibration_error(conf, item_ok) if n else 0.0,
        auto_coverage=float(auto.mean()) if n else 0.0,
        auto_precision=float(item_ok[auto].mean()) if auto.any() else None,
        threshold=float(threshold),
    )
