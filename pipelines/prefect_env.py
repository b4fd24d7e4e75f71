"""Prefect settings for a quiet, fast, offline ephemeral server — applied before Prefect is imported.

Measured on this machine (``shared/research/prefect.md``): the flow heartbeat costs ≥1 s per run and
the event persister / task-run recorder on SQLite caused 12–42 s stalls. Values already set in the
environment win, so an operator pointing ``PREFECT_API_URL`` at a real server keeps full records.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_QUIET_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_UI_ENABLED": "false",
}
_EPHEMERAL_ONLY = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
}
# A server that lives as long as one batch run has no schedules, deployments or late runs to look
# after: these loop services only cost boot time (≈0.4 s of ≈3.5 s) and CPU the workers could use.
# (`dangan serve`'s own server keeps them: its scheduler is what creates the nightly runs.)
_RUN_ONLY = {
    f"PREFECT_SERVER_SERVICES_{service}_ENABLED": "false"
    for service in ("CANCELLATION_CLEANUP", "DB_VACUUM", "FOREMAN", "LATE_RUNS", "SCHEDULER", "PAUSE_EXPIRATIONS",
                    "REPOSSESSOR", "CLEANUP_RECONCILER", "TRIGGERS")
}


def configure_prefect(prefect_home: Path, verbose: bool = False) -> None:
    os.environ.setdefault("PREFECT_HOME", str(prefect_home))
    for key, value in _QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    if not os.environ.get("PREFECT_API_URL"):
        for key, value in _EPHEMERAL_ONLY.items():
            os.environ.setdefault(key, value)


@contextlib.contextmanager
def prefect_server(one_run: bool = False) -> Iterator[str | None]:
    """Use the configured Prefect server, or start one local temporary server for this run
    (``one_run``: for a single batch run, without the services that schedules need).

    Prefect would start its ephemeral server lazily in *each* process that talks to the API, so
    every process-pool worker would boot its own (≈7 s each). Starting one here and exporting its
    URL lets the workers, which inherit the environment, report to it. The flow heartbeat (≥1 s per
    run, and pointless for a server that lives as long as the run) is turned off for it.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    server = SubprocessASGIServer()
    lean = {key: value for key, value in _RUN_ONLY.items() if key not in os.environ} if one_run else {}
    os.environ.update(lean)  # read by the server's process, which inherits them at its start
    try:
        server.start(timeout=int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    finally:
        for key in lean:
            os.environ.pop(key, None)
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
