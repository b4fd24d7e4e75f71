"""Multi-document splitting on held-out layouts: boundary precision/recall, exact splits, part items.

Generates multi-document files (``samplegen.multidoc``: related items scanned back to back, parts
running over several sheets) and long single documents (the negatives) on the held-out side
(``split="test"``: template families and wordings no model saw), renders each as a text PDF,
extracts it with ``extract_document`` and splits it with ``models.splitting.split_document``.

Prints boundary precision / recall (a boundary = a page that starts a new document), exact-split
accuracy (every boundary of the file right), part item accuracy (a true part found with exactly its
page range and an equivalent item), page-level item accuracy against not splitting at all, and the
time ``split_document`` adds per file. ``--fit N`` also refits the boundary weights on N
calibration-side files (training layouts, unseen wordings) and prints them: those are the values of
``models.splitting.DEFAULT_MODEL``. ``--scans N`` runs the real OCR on N scanned multi-document files.

The classifier is the registry's active model when it loads (``--train`` forces a fresh one),
otherwise one trained like benchmarks/bench_classifier.py.

    .venv/bin/python benchmarks/bench_splitting.py [--bundles 100] [--singles 100] [--fit 300] [--scans 0]
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.extraction import extract_document
from models.catalogue import Catalogue, load_catalogue
from models.classifier import ArchiveClassifier
from models.registry import RegistryError
from models.splitting import (
    DEFAULT_MODEL,
    FEATURES,
    PAGE_SEPARATOR,
    BoundaryModel,
    DocumentPart,
    fit_boundary_model,
    page_evidence,
    segment,
    split_document,
)
from pipelines.settings import Settings


@dataclass
class File:
    kind: str  # bundle | single
    pages: list[str]
    truth: tuple  # samplegen.multidoc.PartTruth


def load_model(settings: Settings, force_train: bool, cache: Path | None) -> tuple[ArchiveClassifier, str]:
    if cache and cache.exists() and not force_train:
        return pickle.loads(cache.read_bytes()), f"cached {cache}"
    if not force_train:
        try:
            from pipelines.processing import load_active_model

            clf, manifest = load_active_model(settings)
            clf.predict_proba(["隐蔽工程验收记录"])  # refuses models of another dangan version
            return clf, f"registry {manifest.get('version')}"
        except (RegistryError, RuntimeError, OSError, ValueError) as exc:  # none, stale format, wrong key
            print(f"registry model unusable ({type(exc).__name__}: {exc}); training one")
    from pipelines.training import generated_splits

    t0 = time.perf_counter()
    splits = generated_splits(settings)
    tr, ca = splits["train"], splits["calib"]
    clf = ArchiveClassifier(target_precision=settings.target_precision).fit(
        tr.texts, tr.labels, ca.texts, ca.labels, groups=tr.groups, calib_groups=ca.groups
    )
    if cache:
        cache.write_bytes(pickle.dumps(clf))
    return clf, f"trained ({settings.train_per_item}/item, {time.perf_counter() - t0:.0f} s)"


def make_files(split: str, seed: int, n_bundles: int, n_singles: int, *, scans: bool = False) -> list[File]:
    """Render and extract generated files (scans: degraded image PDFs through the real OCR)."""
    from samplegen import generate_multidoc
    from samplegen.multidoc import render_multidoc_pdf, render_multidoc_scan

    engine_factory = None
    if scans:
        from features.ocr.registry import create_engine

        engine = create_engine("rapidocr", threads=2)
        engine_factory = lambda: engine
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.pdf"
        for kind, n in (("bundle", n_bundles), ("single", n_singles)):
            for k in range(n):
                md = generate_multidoc(split, seed, k, kind=kind)  # type: ignore[arg-type]
                truth = render_multidoc_scan(md, path) if scans else render_multidoc_pdf(md, path)
                doc = extract_document(path, engine_factory=engine_factory)
                files.append(File(kind, [p.text for p in doc.pages], truth))
    return files


def boundary_counts(pred: set[int], true: set[int]) -> tuple[int, int, int]:
    return len(pred & true), len(pred - true), len(true - pred)


def boundary_metrics(files: list[File], starts: list[set[int]]) -> dict[str, float | None]:
    """Boundary P/R and exact-split accuracy from predicted 1-based start pages (page 1 excluded)."""
    tp = fp = fn = 0
    exact = {"bundle": [0, 0], "single": [0, 0]}
    for f, pred in zip(files, starts):
        true = {t.first_page for t in f.truth if t.first_page > 1}
        a, b, c = boundary_counts(pred, true)
        tp, fp, fn = tp + a, fp + b, fn + c
        exact[f.kind][0] += pred == true
        exact[f.kind][1] += 1
    return {
        "boundary_precision": tp / max(tp + fp, 1),
        "boundary_recall": tp / max(tp + fn, 1),
        "true_boundaries": tp + fn,
        "exact_split_bundles": exact["bundle"][0] / exact["bundle"][1] if exact["bundle"][1] else None,
        "kept_whole_singles": exact["single"][0] / exact["single"][1] if exact["single"][1] else None,
    }


def part_metrics(cat: Catalogue, files: list[File], parts: list[list[DocumentPart]],
                 wholes: list) -> dict[str, float]:  # type: ignore[type-arg]
    found = total = 0
    page_ok = page_ok_whole = pages = 0
    for f, ps, whole in zip(files, parts, wholes):
        got = {(p.first_page, p.last_page): p.prediction.item_code for p in ps}
        for t in f.truth:
            total += 1
            code = got.get((t.first_page, t.last_page))
            found += code is not None and cat.equivalent(code, t.item_code)
        for t in f.truth:
            for page in range(t.first_page, t.last_page + 1):
                part = next(p for p in ps if p.first_page <= page <= p.last_page)
                pages += 1
                page_ok += cat.equivalent(part.prediction.item_code, t.item_code)
                page_ok_whole += cat.equivalent(whole.item_code, t.item_code)
    return {"part_item_accuracy": found / max(total, 1), "parts": total,
            "page_item_accuracy": page_ok / max(pages, 1), "page_item_accuracy_unsplit": page_ok_whole / max(pages, 1)}


def run_split(clf: ArchiveClassifier, files: list[File], model: BoundaryModel):  # type: ignore[no-untyped-def]
    wholes = clf.predict([PAGE_SEPARATOR.join(f.pages) for f in files])  # what the pipeline already does
    t0 = time.perf_counter()
    parts = [split_document(clf, f.pages, whole=w, model=model) for f, w in zip(files, wholes)]
    ms = 1000 * (time.perf_counter() - t0) / max(len(files), 1)
    return parts, wholes, ms


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def report(name: str, m: dict) -> None:  # type: ignore[type-arg]
    print(f"{name}: boundary P {m['boundary_precision']:.1%} R {m['boundary_recall']:.1%} "
          f"(n={m['true_boundaries']}) · exact split {_pct(m['exact_split_bundles'])} of multi-doc files · "
          f"{_pct(m['kept_whole_singles'])} of single documents kept whole")
    if "part_item_accuracy" in m:
        print(f"{' ' * len(name)}  part item accuracy {m['part_item_accuracy']:.1%} (n={m['parts']}) · page item accuracy "
              f"{m['page_item_accuracy']:.1%} vs {m['page_item_accuracy_unsplit']:.1%} unsplit · "
              f"{m['ms_per_file']:.1f} ms/file added")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundles", type=int, default=100)
    ap.add_argument("--singles", type=int, default=100)
    ap.add_argument("--fit", type=int, default=0, help="refit the boundary weights on N calibration-side files")
    ap.add_argument("--scans", type=int, default=0, help="also split N scanned multi-doc files through OCR")
    ap.add_argument("--train", action="store_true", help="train a fresh classifier even if the registry has one")
    ap.add_argument("--model-cache", type=Path, default=None, help="pickle the classifier here / load it from here")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/splitting.json"))
    args = ap.parse_args()
    settings = Settings()
    seed = args.seed if args.seed is not None else settings.seed + 7
    cat = load_catalogue()

    clf, source = load_model(settings, args.train, args.model_cache)
    print(f"classifier: {source}")
    t0 = time.perf_counter()
    files = make_files("test", seed, args.bundles, args.singles)
    n_pages = sum(len(f.pages) for f in files)
    print(f"held-out files: {args.bundles} multi-document + {args.singles} single documents, {n_pages} pages "
          f"(rendered and extracted in {time.perf_counter() - t0:.0f} s)")

    parts, wholes, ms = run_split(clf, files, DEFAULT_MODEL)
    m = boundary_metrics(files, [{p.first_page for p in ps[1:]} for ps in parts])
    m |= part_metrics(cat, files, parts, wholes) | {"ms_per_file": ms}
    report("default weights", m)
    result: dict[str, object] = {"classifier": source, "n_bundles": args.bundles, "n_singles": args.singles,
                                 "pages": n_pages, "default": m}

    if args.fit:
        t0 = time.perf_counter()
        calib = make_files("calib", seed + 1, args.fit // 2, args.fit - args.fit // 2)
        fitted = fit_boundary_model([(page_evidence(clf, f.pages), [t.first_page for t in f.truth]) for f in calib])
        print(f"refit on {len(calib)} calibration-side files ({time.perf_counter() - t0:.0f} s):")
        print(f"  BoundaryModel(weights={fitted.weights}, bias={fitted.bias})")
        print("  " + ", ".join(f"{f} {w:+.2f}" for f, w in zip(FEATURES, fitted.weights)))
        evs = [page_evidence(clf, f.pages) for f in files]
        mf = boundary_metrics(files, [{s + 1 for s, _ in segment(ev, fitted)[1:]} for ev in evs])
        report("refit weights  ", mf)
        mc = boundary_metrics(calib, [{s + 1 for s, _ in segment(page_evidence(clf, f.pages), DEFAULT_MODEL)[1:]}
                                      for f in calib])
        report("default on calibration side", mc)
        result["refit"] = {"weights": fitted.weights, "bias": fitted.bias, "heldout": mf, "calibration_side_default": mc}

    if args.scans:
        t0 = time.perf_counter()
        scans = make_files("test", seed + 2, args.scans, 0, scans=True)
        sp, sw, sms = run_split(clf, scans, DEFAULT_MODEL)
        ms_ = boundary_metrics(scans, [{p.first_page for p in ps[1:]} for ps in sp])
        ms_ |= part_metrics(cat, scans, sp, sw) | {"ms_per_file": sms}
        report(f"degraded scans (OCR, {time.perf_counter() - t0:.0f} s)", ms_)
        result["scans"] = ms_

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    result["peak_rss_mb"] = rss
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
