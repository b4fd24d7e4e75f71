"""Classifier benchmark on the held-out split (templates and wordings never used in training).

Trains on the seed corpus (generated + hand-written training texts, as ``dangan train`` does) and
prints item/class accuracy, calibration error, auto coverage and precision for dangan's classifier
and the paperless-ngx style baseline trained on the same documents; training time; prediction speed.
Optionally (``--scans N``) renders N held-out documents as degraded scans and runs the real
extraction + OCR on them, to compare accuracy on OCR text with the clean text.

    .venv/bin/python benchmarks/bench_classifier.py [--per-item 24] [--scans 40]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.baseline import PaperlessBaseline
from models.catalogue import load_catalogue
from models.classifier import ArchiveClassifier
from models.evaluation import score
from models.reports import write_evaluation_report
from pipelines.evaluate import as_scored
from pipelines.settings import Settings
from pipelines.training import routing_metrics, seed_splits


def _fmt(m) -> str:  # type: ignore[no-untyped-def]
    prec = "n/a" if m.auto_precision is None else f"{m.auto_precision:.2%}"
    return (f"item {m.item_accuracy:.2%}  class {m.class_accuracy:.2%}  stage {m.stage_accuracy:.2%}  "
            f"ECE {m.ece:.3f}  auto {m.auto_coverage:.1%} @ precision {prec}  (n={m.n})")


def ocr_scans(docs, clf, n: int, seed: int):  # type: ignore[no-untyped-def]
    """Render ``n`` documents as degraded scans, extract them for real, return (texts, labels)."""
    from samplegen.render import render_scan  # type: ignore[import-not-found]

    from features.extraction import extract_document
    from features.ocr.registry import create_engine

    rng = random.Random(seed)
    picked = rng.sample(docs, min(n, len(docs)))
    engine = create_engine("rapidocr", threads=2)
    texts, labels, clean = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, d in enumerate(picked):
            path = Path(tmp) / f"scan{i}.png"
            render_scan(d, path, degraded=True, fmt="png", rng=rng)
            texts.append(extract_document(path, engine_factory=lambda: engine).text)
            labels.append(d.item_code)
            clean.append(d.text)
    return texts, labels, clean


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-item", type=int, default=None)
    ap.add_argument("--scans", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/classifier.json"))
    args = ap.parse_args()
    settings = Settings()
    if args.per_item:
        settings = settings.model_copy(update={"train_per_item": args.per_item})
    cat = load_catalogue()

    t0 = time.perf_counter()
    splits = seed_splits(settings)
    gen_s = time.perf_counter() - t0
    tr, ca, te = splits["train"], splits["calib"], splits["test"]
    tx, ty, cx, cy, ex, ey = tr.texts, tr.labels, ca.texts, ca.labels, te.texts, te.labels
    print(f"corpus: train {len(tx)} · calib {len(cx)} · held-out test {len(ex)} docs (generated in {gen_s:.1f} s)")

    t0 = time.perf_counter()
    clf = ArchiveClassifier(target_precision=settings.target_precision, n_jobs=settings.workers).fit(
        tx, ty, cx, cy, groups=tr.groups, calib_groups=ca.groups
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = clf.predict(ex)
    pred_s = time.perf_counter() - t0
    ours = score(cat, [p.item_code for p in preds], [p.confidence for p in preds], ey, clf.threshold_.threshold)

    t0 = time.perf_counter()
    # The hand-written texts are in both of our splits (calibration scores them out-of-writer); the
    # baseline, which has no calibration step, gets each document once.
    unique = dict.fromkeys(zip(tx + cx, ty + cy))
    base = PaperlessBaseline().fit([t for t, _ in unique], [y for _, y in unique])
    base_fit_s = time.perf_counter() - t0
    bp = base.predict_proba(ex)
    base_pred = [str(c) for c in base.model_.classes_[bp.argmax(axis=1)]]
    base_m = score(cat, base_pred, list(bp.max(axis=1)), ey, 1.01)

    print(f"dangan   : {_fmt(ours)}")
    print(f"           threshold {clf.threshold_.threshold:.3f} (calib: precision {clf.threshold_.precision:.2%}, "
          f"coverage {clf.threshold_.coverage:.1%}); fit {fit_s:.1f} s; predict {len(ex) / pred_s:.0f} docs/s")
    print(f"paperless: item {base_m.item_accuracy:.2%}  class {base_m.class_accuracy:.2%}  fit {base_fit_s:.1f} s")
    print(f"margin   : {100 * (ours.item_accuracy - base_m.item_accuracy):+.1f} points item accuracy")
    routing = routing_metrics(cat, preds, ey)
    print(f"routes   : auto {routing['auto_share']:.1%} (item precision {routing['auto_item_precision']}) · "
          f"class only {routing['class_only_share']:.1%} (class precision {routing['class_only_class_precision']}) · "
          f"filed {routing['filed_share']:.1%} · out of catalogue {routing['out_of_catalogue_share']:.2%}")
    report = write_evaluation_report(
        args.out.with_name("classifier_report"), cat, ey, [as_scored(p) for p in preds],
        item_threshold=clf.threshold_.threshold, class_threshold=clf.class_threshold_.threshold,
        target_precision=settings.target_precision, title="held-out families (benchmark)",
        baseline={"paperless-ngx style": (base_pred, [float(x) for x in bp.max(axis=1)])},
    )
    print(f"report   : {report.report_path}")
    result = {
        "dangan": ours.as_dict(), "paperless_baseline": base_m.as_dict(), "fit_seconds": fit_s,
        "predict_docs_per_s": len(ex) / pred_s, "n_train": len(tx), "n_calib": len(cx), "routing": routing,
    }
    if args.scans:
        texts, labels, clean = ocr_scans(
            [d for d in _test_docs(settings)], clf, args.scans, settings.seed
        )
        p_scan = clf.predict(texts)
        p_clean = clf.predict(clean)
        m_scan = score(cat, [p.item_code for p in p_scan], [p.confidence for p in p_scan], labels,
                       clf.threshold_.threshold)
        m_clean = score(cat, [p.item_code for p in p_clean], [p.confidence for p in p_clean], labels,
                        clf.threshold_.threshold)
        print(f"degraded scans (OCR) : {_fmt(m_scan)}")
        print(f"same docs, clean text: {_fmt(m_clean)}")
        result["degraded_scans"] = m_scan.as_dict()
        result["degraded_scans_clean_text"] = m_clean.as_dict()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    result["peak_rss_mb"] = rss
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


def _test_docs(settings: Settings):  # type: ignore[no-untyped-def]
    from samplegen import generate_corpus

    return generate_corpus("test", seed=settings.seed + 2, per_item=settings.test_per_item)


if __name__ == "__main__":
    main()
