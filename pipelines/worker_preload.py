"""Imported once by the process pool's fork server, before it forks any worker: everything a worker
needs before its first file — Prefect's task engine, scikit-learn, jieba, the active model and its
word segmenter — so each worker starts as a copy of a ready process instead of doing it all again.

Spawned workers each paid ≈5–7 s of CPU for this (imports ≈3.5 s, Prefect ≈1.5 s, model and
segmenter ≈2 s); two of them beside the run's own Prefect server made three processes boot on two
cores. The fork server does it once; its forks share the pages.

The fork server's only inputs are its environment and the names of modules to import, so the run's
settings arrive as JSON in ``PRELOAD_ENV``. Nothing here may raise: an exception other than an
ImportError would kill the fork server and with it the pool. A worker whose preload failed or was
made for other settings simply loads what it needs itself (``worker_context`` compares settings).

Importing this module anywhere else does nothing: the variable is only set while the fork server
starts (``start_fork_server``).
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from pipelines.settings import Settings

PRELOAD_ENV = "DANGAN_WORKER_PRELOAD"
# Prefect's task engine (it runs each task in a worker), what ``process_file`` imports on its first
# call, and the module the task function is unpickled from.
_MODULES = ("prefect.task_engine", "features.extraction", "features.preflight", "features.tags", "models.routing",
            "models.splitting", "pipelines.flows")

log = logging.getLogger(__name__)


def start_fork_server(settings: Settings) -> BaseContext:
    """Start this process's fork server, preloading for ``settings``, unless it runs already; return
    the context whose workers it forks.

    It is one per process and preloads for the settings it started with: a later pool with other
    settings still works (its workers load their own model), it only loses the head start. Called as
    early as a command knows it will need workers, the preload runs while the command imports Prefect
    and the Prefect server boots. The settings leave the environment as soon as the server has
    started, so no other process started from this one inherits them.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows: workers start from scratch
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    os.environ[PRELOAD_ENV] = settings.model_dump_json()
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        os.environ.pop(PRELOAD_ENV, None)
    return ctx


def _preload() -> None:
    raw = os.environ.pop(PRELOAD_ENV, None)
    if not raw:
        return
    from pipelines.processing import limit_native_threads
    from pipelines.settings import Settings

    settings = Settings.model_validate_json(raw)
    limit_native_threads(settings.ocr_threads)  # before numpy is imported: its BLAS pool reads it once
    for name in _MODULES:
        importlib.import_module(name)
    from pipelines.processing import worker_context

    worker_context(settings)


# At the end: ``pipelines.flows``, which the preload imports, imports ``start_fork_server`` from here.
try:
    _preload()
except Exception as exc:  # noqa: BLE001  never fatal: see the module docstring
    log.debug("worker preload failed: %s", exc)
