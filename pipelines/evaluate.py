"""``dangan evaluate``: score a registered model on labelled files and write a readable report."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from models.catalogue import load_catalogue
from models.classifier import Prediction
from models.registry import RegistryError, model_id
from pipelines.labelled import LabelledDataError, extract_texts, load_labelled
from pipelines.settings import Settings


@dataclass(frozen=True)
class EvaluationOutcome:
    model_version: str
    n: int
    problems: list[str]
    report_path: Path
    summary: str


def as_scored(pred: Prediction) -> Prediction:
    """An out-of-catalogue abstention carries no label: scored as neither right nor auto-filed."""
    return dataclasses.replace(pred, item_code="") if pred.out_of_catalogue else pred


def evaluate_labelled(source: Path, out: Path, settings: Settings, *, version: str | None = None) -> EvaluationOutcome:
    from models.reports import write_evaluation_report

    registry = settings.model_registry()
    try:
        clf, manifest = registry.load(version)
    except RegistryError as exc:
        raise LookupError(str(exc)) from exc
    catalogue = load_catalogue()
    docs, problems = extract_texts(load_labelled(source, catalogue), settings)
    if not docs:
        raise LabelledDataError(f"{source}: no readable labelled document")
    preds = [as_scored(p) for p in clf.predict([d.text for d in docs])]
    mid = model_id(manifest)
    report = write_evaluation_report(
        Path(out), catalogue, [d.item_code for d in docs], preds,
        item_threshold=clf.threshold_.threshold, class_threshold=clf.class_threshold_.threshold,
        target_precision=clf.target_precision, title=f"{source.name} · model {mid}",
    )
    return EvaluationOutcome(mid, len(docs), problems, report.report_path, report.summary)
