"""Prefect settings for a quiet, fast, offline ephemeral server — applied before Prefect is imported.

Measured on this machine (``shared/research/prefect.md``): the flow heartbeat costs ≥1 s per run and
the event persister / task-run recorder on SQLite caused 12–42 s stalls. Values already set in the
environment win, so an operator pointing ``PREFECT_API_URL`` at a real server keeps full records.
"""

from __future__ import annotations

import os
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


def configure_prefect(prefect_home: Path, verbose: bool = False) -> None:
    os.environ.setdefault("PREFECT_HOME", str(prefect_home))
    for key, value in _QUIET_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    if not os.environ.get("PREFECT_API_URL"):
        for key, value in _EPHEMERAL_ONLY.items():
            os.environ.setdefault(key, value)


def heartbeat_off():
    """Context manager that turns the flow heartbeat off for an ephemeral run (it cannot be unset by env)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if os.environ.get("PREFECT_API_URL"):
        import contextlib

        return contextlib.nullcontext()
    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
