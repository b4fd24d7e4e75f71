"""Training the seed model from the generated sample corpus, evaluating it on held-out templates,
and registering it."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

from models.catalogue import load_catalogue
from models.classifier import ArchiveClassifier
from models.evaluation import Metrics, score
from models.registry import ModelRegistry, load_or_create_key
from pipelines.settings import Settings

OCR_NOISE_SHARE = 0.3  # share of training texts passed through simulated OCR errors


@dataclass(frozen=True)
class TrainingOutcome:
    version: str
    metrics: Metrics
    seconds: float
    n_train: int
    n_calib: int


def corpus_hash(texts: list[str], labels: list[str]) -> str:
    h = hashlib.sha256()
    for t, y in zip(texts, labels):
        h.update(y.encode())
        h.update(b"\0")
        h.update(t.encode())
        h.update(b"\1")
    return h.hexdigest()


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: list[str]
    groups: list[str]  # template family of each document


def generated_splits(settings: Settings) -> dict[str, Split]:
    """Train / calib / test texts from the seeded generator (test: held-out templates and wordings)."""
    from samplegen import generate_corpus, ocr_noise

    rng = random.Random(settings.seed)
    out: dict[str, Split] = {}
    for split, offset, per_item in (
        ("train", 0, settings.train_per_item),
        ("calib", 1, settings.calib_per_item),
        ("test", 2, settings.test_per_item),
    ):
        docs = generate_corpus(split, seed=settings.seed + offset, per_item=per_item)
        texts = [d.text for d in docs]
        if split != "test":
            texts = [ocr_noise(t, rng, 1) if rng.random() < OCR_NOISE_SHARE else t for t in texts]
        out[split] = Split(texts, [d.item_code for d in docs], [d.family for d in docs])
    return out


def train_default(settings: Settings) -> TrainingOutcome:
    started = time.perf_counter()
    catalogue = load_catalogue()
    splits = generated_splits(settings)
    train, calib, test = splits["train"], splits["calib"], splits["test"]
    clf = ArchiveClassifier(target_precision=settings.target_precision).fit(
        train.texts, train.labels, calib.texts, calib.labels, groups=train.groups, calib_groups=calib.groups
    )
    preds = clf.predict(test.texts)
    metrics = score(
        catalogue, [p.item_code for p in preds], [p.confidence for p in preds], test.labels, clf.threshold_.threshold
    )
    registry = ModelRegistry(settings.models_dir, load_or_create_key(settings.key_file))
    version = registry.register(
        clf,
        metrics={"heldout_test": metrics.as_dict(), "calibration": clf.calibration_},
        thresholds={
            "item": clf.threshold_.threshold,
            "target_precision": clf.threshold_.target_precision,
            "calib_precision": clf.threshold_.precision,
            "calib_coverage": clf.threshold_.coverage,
        },
        training_data_sha256=corpus_hash(train.texts + calib.texts, train.labels + calib.labels),
        catalogue_sha256=catalogue.sha256,
        notes=f"seed corpus: generated, seed {settings.seed}, {settings.train_per_item}/item train",
    )
    return TrainingOutcome(version, metrics, time.perf_counter() - started, len(train.texts), len(calib.texts))
