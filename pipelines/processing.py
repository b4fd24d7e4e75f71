"""One file → one ``FileResult``: plain functions that the Prefect flow wraps (and tests call directly).

Each worker process loads the classifier and (lazily, on the first page that needs it) the OCR
engine once, through ``worker_context``; nothing here depends on Prefect.

The parent process imports this module too (for ``FileJob``) but never processes a file, so the
heavy libraries (pdfium, jieba, scikit-learn: ≈2 s of imports) are imported where they are used.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.errors import DanganError, UnreadableFileError
from features.hashing import sha256_file
from pipelines.results import CandidateOut, ErrorInfo, FileResult, PartOut, TagsOut, UnitOut
from pipelines.settings import Settings

if TYPE_CHECKING:
    from features.ocr.base import OcrEngine
    from models.classifier import ArchiveClassifier, Prediction
    from models.splitting import DocumentPart

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileJob:
    """A file to process: its absolute path, the path reported (relative to its input folder) and,
    once the parent has hashed it for resuming, its sha256 (so workers need not read it twice)."""

    path: Path
    display: str
    sha256: str | None = None


@dataclass
class WorkerContext:
    settings: Settings
    classifier: ArchiveClassifier
    model_version: str
    _engine: OcrEngine | None = field(default=None, repr=False)

    def engine(self) -> OcrEngine:
        if self._engine is None:
            from features.ocr.registry import create_engine

            self._engine = create_engine(
                self.settings.ocr_engine, threads=self.settings.ocr_threads, cache_dir=self.settings.cache_dir
            )
        return self._engine


_CONTEXT: WorkerContext | None = None


def load_active_model(settings: Settings) -> tuple[ArchiveClassifier, dict[str, Any]]:
    registry = settings.model_registry()
    return registry.load()


def worker_context(settings: Settings) -> WorkerContext:
    """The process-wide context, built on first use in each worker process: the classifier, with its
    word segmenter ready, so that no file's time includes the worker's start-up."""
    from models.registry import model_id

    global _CONTEXT
    # Compared as fields: ``==`` on the models also compares cached properties, which differ between
    # copies pickled before and after their first use (the warm-up's and the first task's).
    if _CONTEXT is None or _CONTEXT.settings.model_dump() != settings.model_dump():
        classifier, manifest = load_active_model(settings)
        classifier.segmenter_.warm_up()
        _CONTEXT = WorkerContext(settings=settings, classifier=classifier, model_version=model_id(manifest))
    return _CONTEXT



def _error(job: FileJob, sha: str | None, exc: DanganError, started: float, version: str) -> FileResult:
    return FileResult(
        file=job.display, sha256=sha, status="error",
        error=ErrorInfo(code=str(exc.code), message=exc.message),
        model_version=version, seconds=time.perf_counter() - started,
    )


def process_file(job: FileJob, ctx: WorkerContext) -> FileResult:
    """Extract, classify, tag and route one file; every failure becomes an error result."""
    from features.extraction import extract_document
    from features.preflight import check_size
    from features.tags import extract_tags
    from models.routing import Route
    from models.splitting import split_document

    started = time.perf_counter()
    sha: str | None = None
    try:
        check_size(job.path, ctx.settings.max_file_mb * 1024 * 1024)
        try:
            sha = job.sha256 or sha256_file(job.path)
        except OSError as exc:
            raise UnreadableFileError(f"cannot read file: {exc.strerror or exc}") from exc
        doc = extract_document(
            job.path,
            engine_factory=ctx.engine,
            dpi=ctx.settings.dpi,
            max_pixels=ctx.settings.max_image_pixels,
            max_pages=ctx.settings.max_pages,
            min_text_chars=ctx.settings.min_text_chars,
        )
    except DanganError as exc:
        return _error(job, sha, exc, started, ctx.model_version)
    except Exception as exc:  # a bug or an unexpected library failure: record it, keep the batch going
        log.exception("unexpected failure on %s", job.display)
        err = DanganError(f"internal error: {type(exc).__name__}: {exc}")
        return _error(job, sha, err, started, ctx.model_version)

    text = doc.text
    clf = ctx.classifier
    pred = clf.predict([text])[0]
    tags = extract_tags(text, clf.segmenter_)
    label = None if pred.out_of_catalogue else pred
    parts: list[PartOut] = []
    route = pred.route
    if doc.page_count > 1:
        found = split_document(clf, [p.text for p in doc.pages], whole=pred)
        if len(found) > 1:
            parts = [_part(p) for p in found]
            # One file, several documents: it can only be filed unattended part by part.
            route = Route.AUTO if all(p.route == Route.AUTO for p in parts) else Route.REVIEW
    return FileResult(
        file=job.display,
        sha256=sha,
        status="ok",
        pages=doc.page_count,
        text_source=doc.text_source,
        ocr_confidence=doc.ocr_confidence,
        stage=label and label.stage,
        class_name=label and label.class_name,
        **{**_prediction_fields(pred), "route": str(route)},
        parts=parts,
        model_version=ctx.model_version,
        tags=TagsOut(
            project_name=tags.project_name,
            doc_number=tags.doc_number,
            doc_date=tags.doc_date,
            units=[UnitOut(role=u.role, name=u.name) for u in tags.units],
            discipline=tags.discipline,
            keywords=list(tags.keywords),
        ),
        warnings=list(doc.warnings),
        seconds=time.perf_counter() - started,
        text=text,
    )


def _prediction_fields(pred: Prediction) -> dict[str, Any]:
    """The fields a file and a part share. Out of catalogue: abstain (no label), but keep the
    candidates as hints for the reviewer."""
    label = None if pred.out_of_catalogue else pred
    return {
        "item_code": label and label.item_code, "item_name": label and label.item_name,
        "class_code": label and label.class_code, "confidence": label and label.confidence,
        "class_confidence": label and label.class_confidence, "route": str(pred.route),
        "out_of_catalogue": pred.out_of_catalogue,
        "candidates": [CandidateOut(**c.__dict__) for c in pred.candidates],
    }


def _part(part: DocumentPart) -> PartOut:
    return PartOut(
        first_page=part.first_page, last_page=part.last_page,
        start_probability=round(part.start_probability, 4), **_prediction_fields(part.prediction),
    )


def process_batch(jobs: list[FileJob], settings: Settings) -> list[FileResult]:
    ctx = worker_context(settings)
    return [process_file(job, ctx) for job in jobs]


def limit_native_threads(threads: int) -> None:
    """One worker per core: keep BLAS/OpenMP from oversubscribing the machine."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"):
        os.environ.setdefault(var, str(threads))
