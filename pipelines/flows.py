"""The batch flow: thin Prefect orchestration over ``pipelines.processing``.

Files are hashed in the parent (resume is keyed on sha256 + model version in the database),
grouped into batches (``batch_size``), and each batch is one Prefect task on a process pool:
one worker per core, each loading the classifier and OCR engine once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner
from pydantic import BaseModel, Field

from features.errors import DanganError, UnreadableFileError
from models.registry import RegistryError, model_id
from models.catalogue import load_catalogue
from pipelines.archive import ArchiveStore
from pipelines.discovery import discover
from pipelines.exports import RunMeta, render_run_report, write_exports
from features.hashing import sha256_file
from pipelines.processing import FileJob, limit_native_threads, process_batch
from pipelines.progress import reporter
from pipelines.results import ErrorInfo, FileResult, write_csv, write_jsonl, write_text
from pipelines.storage import Database
from pipelines.settings import Settings

log = logging.getLogger(__name__)


class BatchReport(BaseModel):
    out_dir: str
    files: int
    ok: int
    errors: int
    resumed: int
    pages: int
    auto: int
    class_only: int = 0  # filed under the class, item left to review
    review: int
    out_of_catalogue: int = 0
    error_codes: dict[str, int] = Field(default_factory=dict)
    model_version: str
    seconds: float
    slowest: list[tuple[str, float]] = Field(default_factory=list)


def _init_worker(threads: int) -> None:
    limit_native_threads(threads)


def _is_transient(task, task_run, state) -> bool:  # type: ignore[no-untyped-def]
    """Retry a batch only for failures a retry can fix (a worker that died, an OS error)."""
    try:
        state.result()
    except DanganError as exc:
        return exc.retryable
    except Exception:
        return True
    return False


@task(name="process-batch", retries=1, retry_delay_seconds=2, retry_condition_fn=_is_transient,
      cache_policy=NO_CACHE, persist_result=False)
def process_batch_task(jobs: list[FileJob], settings: Settings) -> list[FileResult]:
    return process_batch(jobs, settings)


def batch_size(n_files: int, settings: Settings) -> int:
    """Files per task. Each Prefect task costs tens of milliseconds of bookkeeping, a text PDF about
    ten: small batches would triple the time of a text-PDF run. About eight tasks per worker keeps
    the load balanced and the progress bar moving; a crash loses at most one batch per worker."""
    if settings.batch_size:
        return settings.batch_size
    workers = settings.dask_workers or settings.workers
    return max(4, min(64, -(-n_files // (8 * workers))))


def _hashed(job: FileJob) -> FileJob:
    """The job with its sha256 (None when unreadable: the worker then reports why)."""
    try:
        return replace(job, sha256=sha256_file(job.path))
    except OSError:
        return job


@flow(name="dangan-batch", persist_result=False, validate_parameters=False)
def batch_flow(inputs: list[str], out_dir: str, settings: Settings | None = None) -> BatchReport:
    """Classify every file under ``inputs`` and write ``results.jsonl`` / ``results.csv`` to ``out_dir``."""
    settings = settings or Settings()
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    registry = settings.model_registry()
    active = registry.active_version()
    if active is None:
        raise RegistryError(f"no trained model in {settings.models_dir}: run `dangan train` first")
    version = model_id(registry.manifest(active))

    jobs = [_hashed(j) for j in discover([Path(p) for p in inputs], exclude=[out])]
    # The database is the one record of what is done: files recorded for this model version are
    # skipped (their stored results reused), every finished batch is committed all or nothing.
    db = Database.open(settings.db_url)
    run_id = db.start_run(inputs, version)
    prior = db.done_results([j.sha256 for j in jobs if j.sha256], version)
    results: dict[FileJob, FileResult] = {}
    todo: list[FileJob] = []
    for job in jobs:
        if job.sha256 in prior:
            results[job] = prior[job.sha256].model_copy(update={"file": job.display})
        else:
            todo.append(job)
    resumed = len(results)
    db.record_skipped(run_id, [(j.display, j.sha256) for j in jobs if j in results])

    progress = reporter()
    progress.start(len(jobs), "dangan")
    progress.advance(resumed)
    status = "failed"
    try:
        if todo:
            size = batch_size(len(todo), settings)
            batches = [todo[i : i + size] for i in range(0, len(todo), size)]
            futures = {}
            for i, batch in enumerate(batches):
                fut = process_batch_task.with_options(task_run_name=f"batch-{i:05d}").submit(batch, settings)
                futures[fut] = batch
            for fut in as_completed(list(futures)):
                batch = futures[fut]
                try:
                    batch_results = fut.result()
                except Exception as exc:  # the worker itself died twice: record, don't lose the batch
                    err = UnreadableFileError(f"worker failed: {type(exc).__name__}: {exc}")
                    batch_results = [
                        FileResult(file=j.display, sha256=j.sha256, status="error",
                                   error=ErrorInfo(code=str(err.code), message=err.message),
                                   model_version=version)
                        for j in batch
                    ]
                db.record(run_id, batch_results)
                for job, r in zip(batch, batch_results):
                    results[job] = r.model_copy(update={"text": None})
                progress.advance(len(batch))
        status = "finished"
    finally:
        db.finish_run(run_id, status)
        progress.stop()

    ordered = [results[j] for j in jobs]
    ArchiveStore(settings.archive_dir).file_all([(results[j], j.path) for j in jobs], load_catalogue())
    write_jsonl(out / "results.jsonl", ordered)
    write_csv(out / "results.csv", ordered)
    seconds = time.perf_counter() - started
    meta = RunMeta(
        model_version=version, seconds=seconds, resumed=resumed, inputs=tuple(inputs), out_dir=str(out),
        extra={"workers": settings.workers, "ocr_engine": settings.ocr_engine},
    )
    write_exports(out, ordered, meta)
    _publish_artifact(ordered, meta)
    report = _report(ordered, out, version, resumed, seconds)
    write_text(out / "summary.json", report.model_dump_json(indent=2))
    return report


def _publish_artifact(results: list[FileResult], meta: RunMeta) -> None:
    """The run report as a Prefect artifact, so the operator sees it beside the run in the UI."""
    try:
        create_markdown_artifact(
            key="dangan-run-report", markdown=render_run_report(results, meta),
            description=f"dangan run: {len(results)} files, model {meta.model_version}",
        )
    except Exception as exc:  # the results are written; a UI extra must not fail the run
        log.warning("could not publish the run report artifact: %s", exc)


def _report(results: list[FileResult], out: Path, version: str, resumed: int, seconds: float) -> BatchReport:
    ok = [r for r in results if r.status == "ok"]
    codes = Counter(r.error.code for r in results if r.error)
    slowest = sorted(((r.file, round(r.seconds, 2)) for r in results), key=lambda x: -x[1])[:5]
    return BatchReport(
        out_dir=str(out), files=len(results), ok=len(ok), errors=len(results) - len(ok), resumed=resumed,
        pages=sum(r.pages or 0 for r in results), auto=sum(r.route == "auto" for r in ok),
        class_only=sum(r.route == "class" for r in ok), review=sum(r.route == "review" for r in ok),
        out_of_catalogue=sum(r.out_of_catalogue for r in ok), error_codes=dict(codes), model_version=version,
        seconds=round(seconds, 2), slowest=slowest,
    )


def run_batch(inputs: list[str], out_dir: str, settings: Settings) -> BatchReport:
    """Run ``batch_flow`` on a process pool sized from ``settings`` (one worker per core by default)."""
    from pipelines.prefect_env import prefect_server

    with prefect_server():
        return configured_flow(settings)(inputs=inputs, out_dir=out_dir, settings=settings)


def configured_flow(settings: Settings):  # type: ignore[no-untyped-def]
    """``batch_flow`` on the task runner ``settings`` ask for.

    Default: a local process pool, one worker per core. ``dask_address``: an existing Dask cluster
    (its workers need this project installed and, to report task runs, ``PREFECT_API_URL`` of a
    shared Prefect server). ``dask_workers``: a local Dask cluster of that many single-threaded
    worker processes, started for the run.
    """
    if settings.dask_address or settings.dask_workers:
        from prefect_dask import DaskTaskRunner

        limit_native_threads(settings.ocr_threads)  # inherited by the local cluster's worker processes
        if settings.dask_address:
            runner = DaskTaskRunner(address=settings.dask_address)
        else:
            runner = DaskTaskRunner(cluster_kwargs={
                "n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True,
                "dashboard_address": None,
            })
        return batch_flow.with_options(task_runner=runner)
    runner = ProcessPoolTaskRunner(
        max_workers=settings.workers, initializer=_init_worker, initargs=(settings.ocr_threads,)
    )
    return batch_flow.with_options(task_runner=runner)
