"""Files per Prefect task: large enough that task bookkeeping stays small, small enough to balance."""

import os
import subprocess
import sys
from collections import deque
from pathlib import Path

from pipelines.flows import MAX_BATCH, PROBE_FILES, TASK_SECONDS, BatchPlan, batch_size
from pipelines.processing import FileJob
from pipelines.results import FileResult
from pipelines.settings import Settings
from pipelines.worker_preload import PRELOAD_ENV


def test_adaptive_batch_size(tmp_path):
    s = Settings(home=tmp_path, workers=2)
    assert batch_size(1000, s) == 63  # ≈8 tasks per worker
    assert batch_size(10, s) == 4  # never below 4
    assert batch_size(100_000, s) == 64  # never above 64: a crash loses at most one batch per worker
    assert batch_size(1000, s.model_copy(update={"batch_size": 2})) == 2  # an explicit size wins
    assert batch_size(1000, s.model_copy(update={"dask_workers": 4})) == 32


def _files(folder: Path, n: int, size: int, start: int = 0) -> list[FileJob]:
    folder.mkdir(exist_ok=True)
    jobs = []
    for i in range(start, start + n):
        (folder / f"{i:05d}.pdf").write_bytes(b"x" * size)
        jobs.append(FileJob(path=folder / f"{i:05d}.pdf", display=f"{i:05d}.pdf"))
    return jobs


def _done(plan: BatchPlan, batch: list[FileJob], seconds: float, status: str = "ok") -> None:
    plan.observe(batch, [FileResult(file=j.display, status=status, seconds=seconds) for j in batch])


def test_batches_are_sized_by_time(tmp_path):
    plan = BatchPlan.for_run(1000, Settings(home=tmp_path, workers=2))
    assert plan.window == 4  # one batch running and one queued per worker
    pending = deque(_files(tmp_path / "text", 1000, 5_000))
    probes = [plan.take(pending) for _ in range(4)]
    assert [len(b) for b in probes] == [PROBE_FILES] * 4  # nothing measured yet
    _done(plan, probes[0], 0.01)  # text PDFs, 10 ms each
    # 992 files ≈ 9.9 s of work outstanding (3 probes still out): 2 batches of ≈5 s, one per worker
    first = plan.take(pending, 3 * PROBE_FILES)
    assert len(first) == 496
    assert len(plan.take(pending, 2 * PROBE_FILES + 496)) == 472  # the same size again: the rest
    assert not pending
    assert BatchPlan(workers=2, task_seconds=2.5, files_done=8, seconds_done=0.08).next_size(968, 24) == 248

    cheap = BatchPlan.for_run(10**6, Settings(home=tmp_path, workers=1))
    cheap.files_done, cheap.seconds_done = 10, 1e-4
    assert cheap.next_size(10**6) == MAX_BATCH  # bounded, however cheap the files


def test_slow_files_go_a_few_to_a_batch(tmp_path):
    # 30 slow scans on 2 workers: probes of 4, then batches sized by the seconds they took
    plan = BatchPlan.for_run(30, Settings(home=tmp_path, workers=2))
    pending = deque(_files(tmp_path / "scans", 30, 300_000))
    probes = [plan.take(pending) for _ in range(4)]
    assert [len(b) for b in probes] == [4, 4, 4, 4]
    _done(plan, probes[0], 4.5)
    assert len(plan.take(pending, 12)) == 2  # 26 files ≈ 117 s outstanding: batches of ≤ 6 s
    assert len(BatchPlan.for_run(3, Settings(home=tmp_path, workers=2)).take(deque(probes[1]))) == 1


def test_scans_after_text_pdfs_do_not_fill_a_batch_sized_for_text(tmp_path):
    plan = BatchPlan.for_run(2000, Settings(home=tmp_path, workers=1))
    text = _files(tmp_path / "in", 500, 5_000)
    scans = _files(tmp_path / "in", 100, 500_000, start=500)
    _done(plan, text[:100], 0.01)
    pending = deque(text[100:] + scans)
    batches = [plan.take(pending) for _ in range(2)]
    assert len(batches[0]) > 100  # text PDFs: hundreds to a batch
    # the batch that reaches the scans stops at their bytes, not at the count sized for text
    assert sum(plan.size_of(j) for j in batches[1]) * plan.seconds_done / plan.bytes_done <= 2 * TASK_SECONDS
    assert len([j for j in batches[1] if j in scans]) < 20
    _done(plan, batches[1][-3:], 3.0)  # the scans came back slow: the next batches are small at once
    assert len(plan.take(pending)) <= 2


def test_failed_files_do_not_make_the_files_look_cheap(tmp_path):
    plan = BatchPlan.for_run(1000, Settings(home=tmp_path, workers=1))
    pending = deque(_files(tmp_path / "in", 100, 1_000))
    probe = plan.take(pending)
    _done(plan, probe, 0.0001, status="error")  # e.g. corrupt files, refused in no time
    assert len(plan.take(pending)) == plan.probe  # still probing: nothing is known about real files


def test_explicit_size_or_remote_cluster_submits_fixed_batches_at_once(tmp_path):
    s = Settings(home=tmp_path, workers=2)
    for plan in (BatchPlan.for_run(1000, s.model_copy(update={"batch_size": 10})),
                 BatchPlan.for_run(1000, s.model_copy(update={"dask_address": "tcp://127.0.0.1:8786"}))):
        assert plan.window is None
        pending = deque(_files(tmp_path / "fixed", 300, 100))
        first = plan.take(pending)
        _done(plan, first, 0.01)
        assert len(plan.take(pending)) == len(first) == (10 if plan.fixed == 10 else batch_size(1000, s))


def test_early_pool_is_started_before_its_flow_and_shut_down_once(tmp_path):
    """`run_batch` starts the workers before the Prefect server: the flow engine's duplicate of the
    flow's runner must be that started pool, and the flow's own runner must stay picklable."""
    import pickle

    from pipelines.flows import EarlyProcessPool

    pool = EarlyProcessPool(Settings(home=tmp_path, workers=2), early=1)  # a one-file run: one worker, not two
    for_flow = pool.for_flow()
    assert not isinstance(for_flow.duplicate(), EarlyProcessPool)  # not started yet: an ordinary lazy pool
    with pool:
        assert len(pool._executor._processes) == 1  # type: ignore[union-attr]
        assert pool._executor.submit(sum, [1, 2]).result(timeout=120) == 3  # its worker is up
        engine_runner = for_flow.duplicate()
        assert engine_runner is pool
        pickle.loads(pickle.dumps(for_flow))  # travels with the run context; the started pool could not
        with engine_runner:  # the flow engine enters and leaves it: that exit shuts the pool down
            pass
        assert not pool._started and pool._executor is None
    assert not pool._started  # the outer exit was a no-op
    assert not isinstance(for_flow.duplicate(), EarlyProcessPool)


def _worker_view() -> tuple[int, bool, str | None]:
    import pipelines.processing

    return os.getppid(), pipelines.processing._CONTEXT is not None, os.environ.get(PRELOAD_ENV)


def test_pool_workers_are_forked_ready_from_the_preloading_fork_server(trained, test_settings):
    """The workers are not spawned by this process (each doing the imports and model load again) but
    forked by the fork server; they have their model, and the preload's settings leave no trace."""
    from pipelines.flows import EarlyProcessPool

    with EarlyProcessPool(test_settings, early=2) as pool:
        views = [pool._executor.submit(_worker_view).result(timeout=300) for _ in range(4)]  # type: ignore[union-attr]
        with pool:  # the flow engine's enter and exit: shuts it down
            pass
    assert all(parent != os.getpid() for parent, _, _ in views)  # the fork server's children
    assert all(ready for _, ready, _ in views)
    assert not any(env for _, _, env in views) and PRELOAD_ENV not in os.environ


def test_the_preload_loads_the_model_for_the_given_settings_and_never_fails(trained, test_settings, tmp_path):
    """What the fork server does on import, in a fresh interpreter: with the run's settings, the
    worker context is ready; with settings it cannot use (no model there), it imports and moves on."""
    probe = ("import os, pipelines.worker_preload as w, pipelines.processing as p; "
             "print(p._CONTEXT is not None and str(p._CONTEXT.settings.home), w.PRELOAD_ENV in os.environ)")
    for settings, expect in ((test_settings, str(test_settings.home)), (Settings(home=tmp_path), "False")):
        env = dict(os.environ, **{PRELOAD_ENV: settings.model_dump_json()})
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300,
                             cwd=Path(__file__).resolve().parents[1], check=True).stdout.split()
        assert out == [expect, "False"]
