"""Scoring a classifier on labelled texts: accuracy and calibration at each level of the catalogue
(item, class, stage), the risk–coverage curve behind the auto-filing thresholds, a per-class table
and a class-level confusion matrix. Pure numpy; ``models.reports`` turns it into files and plots.

Conventions, the same everywhere in this module:

* Items printed with the same name (工程开工报审表 B2-1 / C3-1, …) are one answer
  (``Catalogue.equivalent``). A prediction equivalent to the truth is right at every level, and
  counts as the true class / stage in the per-class table and the confusion matrix.
* An *abstention* is a prediction whose item code is ``""`` or ``None`` (the model judged the
  document out of catalogue). It is never right and never auto-filed, but stays in every
  denominator: accuracy and coverage are shares of *all* documents. It carries no claim, so it is
  left out of the calibration error and the reliability bins.
* A confidence threshold ``t`` auto-files every answered document with confidence ``>= t``, so
  documents of equal confidence are always on the same side of a cut (ties never split).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from models.catalogue import Catalogue

LEVELS = ("item", "class", "stage")
ECE_BINS = 15
ABSTAINED = "abstained"  # column label of abstentions in the confusion matrix


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), digits)


def is_abstention(code: str | None) -> bool:
    return code is None or code == ""


# --------------------------------------------------------------------------------- compat API
@dataclass(frozen=True)
class Metrics:
    """Headline numbers at the item level (what the registry manifest and the benchmark record)."""

    n: int
    item_accuracy: float
    class_accuracy: float
    stage_accuracy: float
    ece: float  # expected calibration error of the item confidence (15 bins)
    auto_coverage: float
    auto_precision: float | None
    threshold: float
    abstained: int = 0  # predictions with no item (out of catalogue): neither right nor auto-filed

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Σ_b (n_b / n) · |accuracy_b − mean confidence_b| over ``bins`` equal-width bins of [0, 1]."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(confidence) == 0:
        return 0.0
    idx = _bin_index(confidence, bins)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def score(
    catalogue: Catalogue,
    predicted: Sequence[str | None],
    confidence: Sequence[float],
    truth: Sequence[str],
    threshold: float,
) -> Metrics:
    ok = correctness(catalogue, predicted, truth)
    conf = np.asarray(confidence, dtype=float)
    auto = ok.answered & (conf >= threshold)
    n = ok.n
    return Metrics(
        n=n,
        item_accuracy=float(ok.item.mean()) if n else 0.0,
        class_accuracy=float(ok.class_.mean()) if n else 0.0,
        stage_accuracy=float(ok.stage.mean()) if n else 0.0,
        ece=expected_calibration_error(conf[ok.answered], ok.item[ok.answered]),
        auto_coverage=float(auto.mean()) if n else 0.0,
        auto_precision=float(ok.item[auto].mean()) if auto.any() else None,
        threshold=float(threshold),
        abstained=int((~ok.answered).sum()),
    )


# ------------------------------------------------------------------------------- correctness
@dataclass(frozen=True, eq=False)
class Correctness:
    """Per document: answered or abstained, right or wrong at each level, and the classes compared.

    ``pred_class`` / ``pred_stage`` are the *effective* predictions: the true class (stage) when the
    item is equivalent to the truth, ``""`` for an abstention.
    """

    answered: np.ndarray
    item: np.ndarray
    class_: np.ndarray
    stage: np.ndarray
    true_class: np.ndarray
    pred_class: np.ndarray
    true_stage: np.ndarray
    pred_stage: np.ndarray

    @property
    def n(self) -> int:
        return len(self.answered)

    def level(self, name: str) -> np.ndarray:
        return {"item": self.item, "class": self.class_, "stage": self.stage}[name]


def correctness(catalogue: Catalogue, predicted: Sequence[str | None], truth: Sequence[str]) -> Correctness:
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} labels")
    unknown = sorted({t for t in truth if t not in catalogue})
    if unknown:
        raise ValueError(f"true item codes not in the catalogue: {unknown[:10]}")
    bad = sorted({p for p in predicted if not is_abstention(p) and p not in catalogue})
    if bad:
        raise ValueError(f"predicted item codes not in the catalogue: {bad[:10]}")
    answered = np.asarray([not is_abstention(p) for p in predicted], dtype=bool)
    item = np.asarray([a and catalogue.equivalent(p, t) for a, p, t in zip(answered, predicted, truth)], dtype=bool)
    true_class = np.asarray([catalogue[t].class_code for t in truth], dtype=object)
    true_stage = np.asarray([catalogue[t].stage for t in truth], dtype=object)
    pred_class = np.asarray(
        [tc if ok else (catalogue[p].class_code if a else "")
         for a, ok, p, tc in zip(answered, item, predicted, true_class)], dtype=object,
    )
    pred_stage = np.asarray(
        [ts if ok else (catalogue[p].stage if a else "")
         for a, ok, p, ts in zip(answered, item, predicted, true_stage)], dtype=object,
    )
    return Correctness(
        answered=answered, item=item,
        class_=answered & (pred_class == true_class).astype(bool),
        stage=answered & (pred_stage == true_stage).astype(bool),
        true_class=true_class, pred_class=pred_class, true_stage=true_stage, pred_stage=pred_stage,
    )


# ------------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class ReliabilityDiagram:
    """Equal-width confidence bins: how often the model is right against how sure it said it was."""

    edges: tuple[float, ...]  # bins + 1 edges of [0, 1]
    count: tuple[int, ...]
    mean_confidence: tuple[float | None, ...]  # None for an empty bin
    accuracy: tuple[float | None, ...]
    ece: float  # count-weighted mean |accuracy − confidence|
    mce: float  # the largest gap of a non-empty bin
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "edges": [_r(e) for e in self.edges], "count": list(self.count),
            "mean_confidence": [_r(c) for c in self.mean_confidence], "accuracy": [_r(a) for a in self.accuracy],
            "ece": _r(self.ece), "mce": _r(self.mce), "n": self.n,
        }


def reliability_diagram(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> ReliabilityDiagram:
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    idx = _bin_index(confidence, bins)
    count, conf, acc, gaps = [], [], [], []
    for b in range(bins):
        mask = idx == b
        k = int(mask.sum())
        count.append(k)
        if k:
            c, a = float(confidence[mask].mean()), float(correct[mask].mean())
            gaps.append(abs(a - c))
        else:
            c = a = None
        conf.append(c)
        acc.append(a)
    return ReliabilityDiagram(
        edges=tuple(float(e) for e in np.linspace(0.0, 1.0, bins + 1)),
        count=tuple(count), mean_confidence=tuple(conf), accuracy=tuple(acc),
        ece=expected_calibration_error(confidence, correct, bins), mce=max(gaps, default=0.0), n=len(confidence),
    )


@dataclass(frozen=True)
class LevelMetrics:
    """One level of the hierarchy (item, class or stage): accuracy and calibration of its confidence."""

    level: str
    n: int
    answered: int
    accuracy: float  # right / all documents (an abstention is not right)
    answered_accuracy: float | None  # right / answered documents
    mean_confidence: float | None  # over answered documents
    ece: float  # over answered documents
    reliability: ReliabilityDiagram

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "n": self.n, "answered": self.answered, "accuracy": _r(self.accuracy),
            "answered_accuracy": _r(self.answered_accuracy), "mean_confidence": _r(self.mean_confidence),
            "ece": _r(self.ece), "reliability": self.reliability.as_dict(),
        }


def level_metrics(
    level: str, confidence: np.ndarray, correct: np.ndarray, answered: np.ndarray, bins: int = ECE_BINS
) -> LevelMetrics:
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    answered = np.asarray(answered, dtype=bool)
    n, k = len(correct), int(answered.sum())
    rel = reliability_diagram(confidence[answered], correct[answered], bins)
    return LevelMetrics(
        level=level, n=n, answered=k,
        accuracy=float(correct.mean()) if n else 0.0,
        answered_accuracy=float(correct[answered].mean()) if k else None,
        mean_confidence=float(confidence[answered].mean()) if k else None,
        ece=rel.ece, reliability=rel,
    )


# ---------------------------------------------------------------------------- risk–coverage
@dataclass(frozen=True)
class OperatingPoint:
    """What auto-filing everything answered with confidence ≥ ``threshold`` delivers.

    ``threshold`` is None when no cut reaches the target precision (nothing can be auto-filed).
    """

    threshold: float | None
    coverage: float  # auto-filed / all documents
    precision: float | None  # right / auto-filed (None when nothing is auto-filed)
    n_auto: int
    n: int
    target_precision: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target_precision is None:
            return None
        return self.precision is not None and self.precision >= self.target_precision

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": _r(self.threshold, 6), "coverage": _r(self.coverage), "precision": _r(self.precision),
            "n_auto": self.n_auto, "n": self.n, "target_precision": self.target_precision, "met": self.met,
        }


@dataclass(frozen=True, eq=False)
class RiskCoverageCurve:
    """One point per distinct confidence, from the most confident down.

    Point ``i`` is the cut ``confidence >= threshold[i]``: every answered document at or above it is
    auto-filed (equal confidences together). ``coverage`` is a share of all ``n`` documents, so
    abstentions lower the coverage and never reach 1.0 of it. Risk is ``1 - precision``.
    """

    threshold: np.ndarray  # descending
    coverage: np.ndarray
    precision: np.ndarray
    n_auto: np.ndarray
    n_correct: np.ndarray
    n: int

    def __len__(self) -> int:
        return len(self.threshold)

    @property
    def risk(self) -> np.ndarray:
        return 1.0 - self.precision

    @property
    def aurc(self) -> float:
        """Area under the risk–coverage curve (document-weighted mean selective risk; lower is better)."""
        if not len(self):
            return 0.0
        steps = np.diff(np.concatenate([[0], self.n_auto]))
        return float((steps * self.risk).sum() / self.n_auto[-1])

    def at(self, threshold: float | None, target_precision: float | None = None) -> OperatingPoint:
        """The operating point of a given threshold (e.g. the one the model chose on calibration data)."""
        if threshold is None:
            return OperatingPoint(None, 0.0, None, 0, self.n, target_precision)
        i = int(np.searchsorted(-self.threshold, -threshold, side="right")) - 1
        if i < 0:
            return OperatingPoint(float(threshold), 0.0, None, 0, self.n, target_precision)
        return OperatingPoint(
            float(threshold), float(self.coverage[i]), float(self.precision[i]), int(self.n_auto[i]), self.n,
            target_precision,
        )

    def coverage_at_precision(self, target: float) -> OperatingPoint:
        """The largest coverage whose measured precision is ≥ ``target``: what that target buys here.

        Measured on this data, so optimistic for choosing a threshold on it; the model's own
        threshold is chosen on calibration data (``models.routing.choose_threshold``).
        """
        ok = np.flatnonzero(self.precision >= target)
        if not len(ok):
            return OperatingPoint(None, 0.0, None, 0, self.n, target)
        i = int(ok[-1])
        return OperatingPoint(
            float(self.threshold[i]), float(self.coverage[i]), float(self.precision[i]), int(self.n_auto[i]),
            self.n, target,
        )

    def as_dict(self, max_points: int = 101) -> dict[str, Any]:
        """The curve, thinned to at most ``max_points`` points (the first and last always kept)."""
        idx = np.arange(len(self))
        if len(self) > max_points:
            idx = np.unique(np.round(np.linspace(0, len(self) - 1, max_points)).astype(int))
        return {
            "n": self.n, "aurc": _r(self.aurc), "points": len(self),
            "threshold": [_r(x, 6) for x in self.threshold[idx]],
            "coverage": [_r(x) for x in self.coverage[idx]],
            "precision": [_r(x) for x in self.precision[idx]],
        }


def risk_coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, answered: np.ndarray | None = None
) -> RiskCoverageCurve:
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    n = len(confidence)
    answered = np.ones(n, dtype=bool) if answered is None else np.asarray(answered, dtype=bool)
    conf, ok = confidence[answered], correct[answered]
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    if not len(conf):
        empty = np.zeros(0)
        return RiskCoverageCurve(empty, empty, empty, empty.astype(int), empty.astype(int), n)
    last_of_tie = np.append(conf[1:] < conf[:-1], True)
    hits = np.cumsum(ok)[last_of_tie]
    k = np.arange(1, len(conf) + 1)[last_of_tie]
    return RiskCoverageCurve(
        threshold=conf[last_of_tie], coverage=k / n, precision=hits / k, n_auto=k, n_correct=hits, n=n,
    )


# ---------------------------------------------------------------------------- per-class table
@dataclass(frozen=True)
class ClassRow:
    class_code: str
    class_name: str
    stage: str
    support: int  # documents of this class
    predicted: int  # documents (effectively) predicted as this class
    item_accuracy: float | None  # documents of this class whose item is right
    precision: float | None  # of the class: predicted as it and truly of it
    recall: float | None  # of the class (its class-level accuracy)
    mean_confidence: float | None  # item confidence, answered documents of this class
    auto_share: float | None  # documents of this class auto-filed at the item threshold
    auto_precision: float | None  # item right among those auto-filed
    abstained: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (_r(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _share(num: float, den: int) -> float | None:
    return float(num) / den if den else None


def per_class_table(
    catalogue: Catalogue, ok: Correctness, item_confidence: np.ndarray, item_threshold: float | None
) -> list[ClassRow]:
    """One row per catalogue class, in catalogue order (classes without documents included)."""
    conf = np.asarray(item_confidence, dtype=float)
    auto = ok.answered & (conf >= item_threshold) if item_threshold is not None else np.zeros(ok.n, bool)
    rows = []
    for code in catalogue.class_codes:
        mine = ok.true_class == code
        said = ok.pred_class == code
        support, predicted = int(mine.sum()), int(said.sum())
        answered = mine & ok.answered
        auto_mine = mine & auto
        rows.append(ClassRow(
            class_code=code,
            class_name=catalogue.class_name(code),
            stage=next(i.stage for i in catalogue.items if i.class_code == code),
            support=support,
            predicted=predicted,
            item_accuracy=_share(ok.item[mine].sum(), support),
            precision=_share((said & mine).sum(), predicted),
            recall=_share((said & mine).sum(), support),
            mean_confidence=float(conf[answered].mean()) if answered.any() else None,
            auto_share=_share(auto_mine.sum(), support),
            auto_precision=_share(ok.item[auto_mine].sum(), int(auto_mine.sum())),
            abstained=int((mine & ~ok.answered).sum()),
        ))
    return rows


# --------------------------------------------------------------------------- confusion matrix
@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Rows: true class; columns: predicted class, then one column of abstentions.

    ``counts[i, j]`` documents of class ``classes[i]`` were predicted as ``columns[j]``. A prediction
    equivalent to the truth sits on the diagonal even when the equivalent item lies in another class.
    """

    classes: tuple[str, ...]  # catalogue order
    names: tuple[str, ...]
    columns: tuple[str, ...]  # classes + (ABSTAINED,)
    counts: np.ndarray  # (len(classes), len(classes) + 1), int

    @property
    def correct(self) -> int:
        return int(np.trace(self.counts[:, : len(self.classes)]))

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": "true class", "columns": list(self.columns), "classes": list(self.classes),
            "names": list(self.names), "counts": self.counts.tolist(),
        }


def confusion_matrix(catalogue: Catalogue, ok: Correctness) -> ConfusionMatrix:
    classes = tuple(catalogue.class_codes)
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes) + 1), dtype=int)
    for t, p in zip(ok.true_class, ok.pred_class):
        counts[index[t], index[p] if p else len(classes)] += 1
    return ConfusionMatrix(classes, tuple(catalogue.class_name(c) for c in classes), (*classes, ABSTAINED), counts)


# ------------------------------------------------------------------------------ everything
@dataclass(frozen=True, eq=False)
class Evaluation:
    """All of the above for one set of predictions against the truth."""

    n: int
    abstained: int
    target_precision: float
    levels: dict[str, LevelMetrics]  # item, class, stage
    curves: dict[str, RiskCoverageCurve]  # item, class
    at_threshold: dict[str, OperatingPoint]  # the given thresholds (item, class), when given
    at_target: dict[str, OperatingPoint]  # the coverage the target precision buys (item, class)
    per_class: tuple[ClassRow, ...]
    confusion: ConfusionMatrix
    thresholds: dict[str, float | None] = field(default_factory=dict)

    def metrics(self) -> Metrics:
        """The headline ``Metrics`` (identical to ``score`` on the same predictions)."""
        item = self.at_threshold.get("item")
        threshold = self.thresholds.get("item")
        return Metrics(
            n=self.n,
            item_accuracy=self.levels["item"].accuracy,
            class_accuracy=self.levels["class"].accuracy,
            stage_accuracy=self.levels["stage"].accuracy,
            ece=self.levels["item"].ece,
            auto_coverage=item.coverage if item else 0.0,
            auto_precision=item.precision if item else None,
            threshold=1.01 if threshold is None else float(threshold),  # 1.01: nothing auto-filed
            abstained=self.abstained,
        )

    def as_dict(self, max_points: int = 101) -> dict[str, Any]:
        return {
            "n": self.n,
            "abstained": self.abstained,
            "target_precision": self.target_precision,
            "thresholds": {k: _r(v, 6) for k, v in self.thresholds.items()},
            "levels": {k: v.as_dict() for k, v in self.levels.items()},
            "at_threshold": {k: v.as_dict() for k, v in self.at_threshold.items()},
            "at_target": {k: v.as_dict() for k, v in self.at_target.items()},
            "risk_coverage": {k: v.as_dict(max_points) for k, v in self.curves.items()},
            "per_class": [r.as_dict() for r in self.per_class],
            "confusion": self.confusion.as_dict(),
        }


def evaluate(
    catalogue: Catalogue,
    truth: Sequence[str],
    predicted: Sequence[str | None],
    item_confidence: Sequence[float],
    class_confidence: Sequence[float] | None = None,
    stage_confidence: Sequence[float] | None = None,
    *,
    item_threshold: float | None = None,
    class_threshold: float | None = None,
    target_precision: float = 0.99,
    bins: int = ECE_BINS,
) -> Evaluation:
    """Score predictions at every level.

    ``class_confidence`` / ``stage_confidence`` default to the next finer level's confidence (a
    lower bound: a model that only gives item probabilities, such as the baseline). Thresholds are
    optional: without them there is no ``at_threshold`` point for that level.
    """
    ok = correctness(catalogue, predicted, truth)
    conf: dict[str, np.ndarray] = {"item": np.asarray(item_confidence, dtype=float)}
    conf["class"] = conf["item"] if class_confidence is None else np.asarray(class_confidence, dtype=float)
    conf["stage"] = conf["class"] if stage_confidence is None else np.asarray(stage_confidence, dtype=float)
    for level, c in conf.items():
        if len(c) != ok.n:
            raise ValueError(f"{len(c)} {level} confidences for {ok.n} documents")
    levels = {lv: level_metrics(lv, conf[lv], ok.level(lv), ok.answered, bins) for lv in LEVELS}
    curves = {lv: risk_coverage_curve(conf[lv], ok.level(lv), ok.answered) for lv in ("item", "class")}
    thresholds = {"item": item_threshold, "class": class_threshold}
    at_threshold = {
        lv: curves[lv].at(t, target_precision) for lv, t in thresholds.items() if t is not None
    }
    return Evaluation(
        n=ok.n,
        abstained=int((~ok.answered).sum()),
        target_precision=target_precision,
        levels=levels,
        curves=curves,
        at_threshold=at_threshold,
        at_target={lv: c.coverage_at_precision(target_precision) for lv, c in curves.items()},
        per_class=tuple(per_class_table(catalogue, ok, conf["item"], item_threshold)),
        confusion=confusion_matrix(catalogue, ok),
        thresholds={k: (None if v is None else float(v)) for k, v in thresholds.items()},
    )


class PredictionLike(Protocol):
    item_code: str | None
    confidence: float
    class_confidence: float
    stage_confidence: float


def evaluate_predictions(
    catalogue: Catalogue, truth: Sequence[str], predictions: Sequence[PredictionLike], **kwargs: Any
) -> Evaluation:
    """``evaluate`` on ``models.classifier.Prediction`` objects (item_code ``""``/None = abstention)."""
    return evaluate(
        catalogue, truth,
        [p.item_code for p in predictions],
        [p.confidence for p in predictions],
        [p.class_confidence for p in predictions],
        [p.stage_confidence for p in predictions],
        **kwargs,
    )
