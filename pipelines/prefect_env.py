"""Prefect settings for a quiet, fast, offline ephemeral server — applied before Prefect is imported —
and the local server a command starts for itself.

Measured on this machine (``shared/research/prefect.md``): the flow heartbeat costs ≥1 s per run and
the event persister / task-run recorder on SQLite caused 12–42 s stalls. Values already set in the
environment win, so an operator pointing ``PREFECT_API_URL`` at a real server keeps full records.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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


class LocalServer:
    """A temporary Prefect API server in a subprocess of its own, for one run or one ``serve``.

    It is the server Prefect's own ephemeral mode starts (uvicorn on
    ``prefect.server.api.server:create_app``), started without importing Prefect's server code in
    this process: that import alone is ≈3 s of CPU (FastAPI, the ORM, every API router) that
    Prefect's ``SubprocessASGIServer`` spends here *before* it spawns the server. Spawned first, the
    server boots while this process imports Prefect and the workers load the model.
    """

    def __init__(self, lean: bool = False) -> None:
        self.lean = lean
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> LocalServer:
        self.port = _free_port()
        env = dict(os.environ, PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        if self.lean:
            env.update({key: value for key, value in _RUN_ONLY.items() if key not in os.environ})
        spec = importlib.util.find_spec("prefect")
        app_dir = Path(next(iter(spec.submodule_search_locations or []))).parent if spec else Path.cwd()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "error", "--lifespan", "on"],
            env=env,
            # Its own process group: a terminal's Ctrl-C interrupts the command, which still reports
            # to the server while it winds down, then stops it (in the command's group, the server
            # died at once and `dangan serve` ended on a connection-error traceback).
            process_group=0,
            # Runs in the forked child before exec: one C call, no locks to inherit from other threads.
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the API answers its health check (a busy 2-core box: several seconds)."""
        timeout = timeout or float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise RuntimeError(f"the local Prefect server on port {self.port} exited (code {code})")
            try:
                with _DIRECT.open(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:  # not listening yet
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the local Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


_current: LocalServer | None = None  # the server an outer ``prefect_server`` of this process started
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the server's process before it runs: SIGTERM when the command dies, even by ``kill -9``,
    so that no server outlives its run (Linux; elsewhere a killed command can leave it behind)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def prefect_server(one_run: bool = False) -> Iterator[LocalServer | None]:
    """Use the configured Prefect server (yields None), or start one local temporary server for this
    run (``one_run``: for a single batch run, without the services that schedules need).

    The server is only *spawned* here; ``prefect_api`` waits for it before the first flow. Nested
    calls share the outer one's server, so a command can spawn it before importing Prefect at all.
    Prefect would start its ephemeral server lazily in *each* process that talks to the API, so every
    process-pool worker would boot its own (≈7 s each). Starting one here and exporting its URL lets
    the workers, which inherit the environment, report to it.
    """
    global _current
    if _current is not None:  # an outer ``prefect_server`` in this process started it: share it
        yield _current
        return
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    server = _current = LocalServer(lean=one_run).start()
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        yield server
    finally:
        _current = None
        os.environ.pop("PREFECT_API_URL", None)
        _refresh_prefect_globals()
        server.stop()


@contextlib.contextmanager
def prefect_api(server: LocalServer | None) -> Iterator[None]:
    """Talk to ``server`` once it is up: its URL in Prefect's settings, and no flow heartbeat (≥1 s per
    run, and pointless for a server that lives as long as the run)."""
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    server.wait_ready()
    _refresh_prefect_globals()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _refresh_prefect_globals() -> None:
    """Rebuild Prefect's process-wide settings from the environment, if Prefect is imported: the
    threads it starts outside any settings context (e.g. forwarding the workers' events) read those,
    and without the server's URL there they would boot an ephemeral server of their own."""
    if "prefect.context" in sys.modules:
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
