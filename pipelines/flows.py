"""The batch flow: thin Prefect orchestration over ``pipelines.processing``.

Files are hashed in the parent (resume is keyed on sha256 + model version in the database),
grouped into batches (``BatchPlan``), and each batch is one Prefect task on a process pool:
one worker per core, each loading the classifier and OCR engine once.

A Prefect task costs ≈0.1 s of bookkeeping (its run is created, hydrated in the worker, moved through
its states), a text PDF ≈0.01 s, a scan seconds. So batches are sized by time, not by count: a few
files per worker first, then — from the seconds per file measured on them — batches of about
``TASK_SECONDS`` of work each, an equal number per worker. Text PDFs go hundreds to a task (the
bookkeeping is a few per cent), scans a few (the progress bar keeps moving, and a crash loses at
most a few seconds of work per worker).
"""

from __future__ import annotations

import logging
import math
import os
import select
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, _initialize_process_pool_worker
from pydantic import BaseModel, Field

from features.errors import DanganError, UnreadableFileError
from features.hashing import sha256_file
from models.catalogue import load_catalogue
from models.registry import RegistryError, model_id
from pipelines.archive import ArchiveStore
from pipelines.discovery import discover
from pipelines.exports import RunMeta, render_run_report, write_exports
from pipelines.exports import preload as preload_exports
from pipelines.processing import FileJob, limit_native_threads, process_batch
from pipelines.progress import reporter
from pipelines.results import ErrorInfo, FileResult, write_csv, write_jsonl, write_text
from pipelines.settings import Settings
from pipelines.worker_preload import start_fork_server

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


def _init_worker(threads: int, settings: Settings | None = None, command: int | None = None) -> None:
    """Each pool worker's start: native thread limits, a watch on the command that runs the pool
    (``command``: its pid; by default the worker's parent), then (given ``settings``) the model and
    word segmenter, unless the worker was forked with them, so it has them when its first batch arrives."""
    limit_native_threads(threads)
    threading.Thread(target=_exit_with_command, args=(command or os.getppid(),), name="dangan-command-watch",
                     daemon=True).start()
    if settings is not None:
        from pipelines.processing import worker_context

        try:
            worker_context(settings)
        except Exception as exc:  # no model, a tampered one: the first batch reports it as it would have
            log.debug("worker warm-up failed: %s", exc)


def _exit_with_command(pid: int) -> None:
    """A worker whose command died without shutting the pool down (``kill -9`` of the command alone)
    exits rather than hold a model (≈0.6 GB) and a core until its queue breaks.

    The command is watched by pid, not as the parent: a fork server's workers are its children, and
    it lives on as long as any of them does. Not the server's ``PR_SET_PDEATHSIG`` (``prefect_env``)
    either: that signal follows the *thread* that created the process."""
    try:
        handle = os.pidfd_open(pid)  # readable once the process has exited (Linux ≥ 5.3)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
        os._exit(1)
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):  # gone (or its pid now names someone else's process)
            os._exit(1)


def process_pool(settings: Settings) -> ProcessPoolTaskRunner:
    """The default task runner: one worker process per core, started lazily by Prefect."""
    return ProcessPoolTaskRunner(
        max_workers=settings.workers, initializer=_init_worker, initargs=(settings.ocr_threads,)
    )


class EarlyProcessPool(ProcessPoolTaskRunner):
    """A process pool started before its flow, so the workers' start (imports, model, segmenter:
    ≈5–7 s of CPU) overlaps the local Prefect server's boot (≈5 s) instead of following it. The
    workers are forked from a server that has done that start once (``worker_preload``), rather
    than spawned to do it each as in Prefect's own pool.

    ``with EarlyProcessPool(settings) as pool`` starts the workers; the flow gets ``pool.for_flow()``,
    an unstarted runner that names the pool by a token. The flow engine enters a *duplicate* of its
    task runner, and that duplicate is the started pool (entered again as a no-op; the engine's exit
    shuts it down, while the server still runs, and the outer exit is then a no-op). The flow's own
    runner is copied and pickled with the run context (a started pool, holding a multiprocessing
    queue, could be neither: hence the token), and where the token names no pool — in a worker,
    which hydrates that context — its duplicate is an ordinary lazy pool.
    """

    _started_pools: ClassVar[dict[str, EarlyProcessPool]] = {}

    def __init__(self, settings: Settings, token: str | None = None, early: int | None = None) -> None:
        super().__init__(max_workers=settings.workers)  # its workers' initializer is set in ``__enter__``
        self._settings = settings
        self._token = token
        # Workers started at once: no more than the run has files (each holds a model, ≈0.6 GB).
        self._early = settings.workers if early is None else max(1, min(early, settings.workers))

    def for_flow(self) -> EarlyProcessPool:
        return EarlyProcessPool(self._settings, token=str(id(self)))

    def duplicate(self) -> ProcessPoolTaskRunner:
        pool = self._started_pools.get(self._token or "")
        return pool if pool is not None and pool._started else process_pool(self._settings)

    def __enter__(self) -> Self:
        if self._started:
            return self
        super().__enter__()  # Prefect's: the queue workers forward events on, and a spawn executor
        self._executor.shutdown(wait=False)  # type: ignore[union-attr]  # (no worker started yet)
        self._executor = executor = ProcessPoolExecutor(
            max_workers=self._max_workers, mp_context=start_fork_server(self._settings),
            initializer=_initialize_process_pool_worker,
            initargs=(self._subprocess_message_queue, _init_worker,
                      (self._settings.ocr_threads, self._settings, os.getpid())),
        )
        self._started_pools[str(id(self))] = self
        # Such a pool starts a worker per submission while none is idle: one no-op each starts that many.
        # The first waits for the rest of the fork server's preload (``dangan run`` started it with the
        # Prefect server). (Starting only one beside the server's boot, leaving it a core, measured no
        # faster: 16.9 s against 16.5 s for 1,000 text PDFs on 2 cores, with spawned workers.)
        for _ in range(self._early):
            executor.submit(os.getpid)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None,
    ) -> None:
        # The first exit shuts the pool down, normally the flow engine's: its workers' last events
        # and logs are then forwarded while the Prefect server still runs. The outer one is then a
        # no-op (it shuts down a pool whose flow never started).
        if not self._started:
            return
        self._started_pools.pop(str(id(self)), None)
        super().__exit__(exc_type, exc_value, traceback)


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
    """Files per task when batches cannot be sized by time: an explicit ``batch_size``, or a Dask
    cluster of unknown size (all batches are submitted at once). About eight tasks per worker keeps
    the load balanced; a crash loses at most one batch per worker."""
    if settings.batch_size:
        return settings.batch_size
    workers = settings.dask_workers or settings.workers
    return max(4, min(64, -(-n_files // (8 * workers))))


#: Seconds of work per task once the cost per file is known (bookkeeping ≈0.1 s a task: < 2 %).
TASK_SECONDS = 6.0
#: Files per task in the first tasks, before any cost is measured.
PROBE_FILES = 8
#: Upper bound of a batch (results, texts included, travel back in one message).
MAX_BATCH = 1000


@dataclass
class BatchPlan:
    """How many files the next batch gets, from the seconds the finished ones took.

    ``fixed``: every batch has that size and all are submitted at once (an explicit ``batch_size``,
    or a Dask cluster whose size we do not know). Otherwise at most ``window`` batches are in flight
    (two per worker: one running, one queued). The first ones are probes of ``probe`` files (at most
    ``PROBE_FILES``; all of them together at most half the files, so that a few slow scans are not
    all handed out before their cost is known). Afterwards the work not yet done — in flight or
    not yet submitted — is cut into equal batches of at most ``TASK_SECONDS``, their number a
    multiple of the workers so that all finish together; as long as the cost per file holds, every
    batch gets the same size.

    The cost per file is the mean over the files read so far, or that of the last batch when higher;
    files that failed (often in milliseconds) do not count. A batch also ends early when its files'
    bytes, at the seconds per byte seen so far, would take twice ``TASK_SECONDS``: after hundreds of
    small text PDFs, the first big scans do not all go into one batch sized for text. Per-file
    seconds exclude a worker's start-up (``worker_context``).
    """

    workers: int
    fixed: int | None = None
    probe: int = PROBE_FILES
    task_seconds: float = TASK_SECONDS
    files_done: int = 0
    seconds_done: float = 0.0
    bytes_done: int = 0
    last_per_file: float = 0.0
    sizes: dict[Path, int] = field(default_factory=dict, repr=False)

    @classmethod
    def for_run(cls, n_files: int, settings: Settings) -> BatchPlan:
        workers = settings.dask_workers or settings.workers
        fixed = batch_size(n_files, settings) if settings.batch_size or settings.dask_address else None
        return cls(workers=workers, fixed=fixed, probe=max(1, min(PROBE_FILES, -(-n_files // (4 * workers)))))

    @property
    def window(self) -> int | None:
        """Most batches in flight at once (None: no limit)."""
        return None if self.fixed else 2 * self.workers

    def size_of(self, job: FileJob) -> int:
        if job.path not in self.sizes:
            try:
                self.sizes[job.path] = job.path.stat().st_size
            except OSError:
                self.sizes[job.path] = 0
        return self.sizes[job.path]

    def observe(self, batch: Sequence[FileJob], results: Sequence[FileResult]) -> None:
        """A batch came back: the seconds its files took update the cost per file and per byte."""
        ok = [(job, r.seconds) for job, r in zip(batch, results) if r.status == "ok"]
        if ok:
            seconds = sum(sec for _, sec in ok)
            self.files_done += len(ok)
            self.seconds_done += seconds
            self.bytes_done += sum(self.size_of(job) for job, _ in ok)
            self.last_per_file = seconds / len(ok)

    def next_size(self, remaining: int, in_flight: int = 0) -> int:
        """Files in the next batch, with ``remaining`` files not yet submitted and ``in_flight``
        submitted but not back."""
        if self.fixed:
            return min(self.fixed, remaining)
        if not self.files_done:
            return min(remaining, self.probe)
        per_file = max(self.seconds_done / self.files_done, self.last_per_file, 1e-4)
        outstanding = remaining + in_flight
        tasks = max(1, math.ceil(outstanding * per_file / self.task_seconds))
        tasks = -(-tasks // self.workers) * self.workers
        return max(1, min(remaining, MAX_BATCH, -(-outstanding // tasks)))

    def take(self, pending: deque[FileJob], in_flight: int = 0) -> list[FileJob]:
        """The next batch, taken from the front of ``pending``."""
        size = self.next_size(len(pending), in_flight)
        per_byte = self.seconds_done / self.bytes_done if self.bytes_done and not self.fixed else 0.0
        batch = [pending.popleft()]
        expected = per_byte * self.size_of(batch[0])
        while pending and len(batch) < size:
            more = per_byte * self.size_of(pending[0])
            if expected + more > 2 * self.task_seconds:
                break
            batch.append(pending.popleft())
            expected += more
        return batch


def _first_done(futures: list[Any]) -> Any:
    """The first of ``futures`` to finish."""
    gen = as_completed(futures)
    try:
        return next(gen)
    finally:
        gen.close()


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

    from pipelines.storage import Database  # here: worker processes import this module, not SQLAlchemy

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
            plan = BatchPlan.for_run(len(todo), settings)
            pending = deque(todo)
            in_flight: dict[Any, list[FileJob]] = {}  # future -> its batch
            submitted = 0

            def submit() -> None:
                nonlocal submitted
                while pending and (plan.window is None or len(in_flight) < plan.window):
                    batch = plan.take(pending, sum(map(len, in_flight.values())))
                    task = process_batch_task.with_options(task_run_name=f"batch-{submitted:05d}")
                    in_flight[task.submit(batch, settings)] = batch
                    submitted += 1

            submit()
            preload_exports()  # the exports' libraries and the catalogue (≈1 s) while the workers start up
            while in_flight:
                fut = _first_done(list(in_flight))
                batch = in_flight.pop(fut)
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
                else:
                    plan.observe(batch, batch_results)
                submit()  # keep the workers busy while this batch is recorded
                db.record(run_id, batch_results, sizes={j.sha256: plan.size_of(j) for j in batch if j.sha256})
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
    """Run ``batch_flow`` on a process pool sized from ``settings`` (one worker per core by default).

    The local Prefect server (unless one is configured, or the caller already spawned it), the
    workers and this process's remaining start-up all overlap: the flow starts when the server is up.
    """
    from pipelines.prefect_env import prefect_api, prefect_server

    with prefect_server(one_run=True) as server:
        flow_ = configured_flow(settings)
        if isinstance(flow_.task_runner, ProcessPoolTaskRunner):
            files = len(discover([Path(p) for p in inputs], exclude=[Path(out_dir)]))  # a directory walk: cheap
            pool = EarlyProcessPool(settings, early=files)
            with pool, prefect_api(server):
                return flow_.with_options(task_runner=pool.for_flow())(inputs=inputs, out_dir=out_dir,
                                                                       settings=settings)
        with prefect_api(server):
            return flow_(inputs=inputs, out_dir=out_dir, settings=settings)


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
    return batch_flow.with_options(task_runner=process_pool(settings))
