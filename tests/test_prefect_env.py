"""The local Prefect server a run starts for itself (a real uvicorn subprocess, no mocks)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.prefect_env import prefect_api, prefect_server


def test_one_local_server_per_command_visible_to_prefect_threads(monkeypatch, tmp_path):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_server(one_run=True) as server:
        assert server is not None
        assert os.environ["PREFECT_API_URL"] == server.api_url  # inherited by the workers it starts
        with prefect_server(one_run=True) as inner:  # run_batch inside `dangan run`: the same server
            assert inner is server
        with prefect_api(server):
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"{server.api_url}/health", timeout=10
            ) as response:
                assert response.status == 200
            # Threads Prefect starts outside any settings context (forwarding the workers' events)
            # must see this server too, or they boot an ephemeral server of their own.
            seen: list[str | None] = []
            from prefect.settings import get_current_settings

            thread = threading.Thread(target=lambda: seen.append(get_current_settings().api.url))
            thread.start()
            thread.join()
            assert seen == [server.api_url]
        process = server._process
        assert process is not None and process.poll() is None
    assert process.wait(timeout=10) is not None  # stopped with the command
    assert "PREFECT_API_URL" not in os.environ


def test_a_configured_server_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    with prefect_server(one_run=True) as server, prefect_api(server):
        assert server is None
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


@pytest.mark.filterwarnings("ignore:Failed to create the Prefect home directory")
def test_a_server_that_cannot_start_is_reported(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", "/dev/null/not-a-directory")  # its database cannot be created
    with prefect_server(one_run=True) as server:
        assert server is not None
        with pytest.raises(RuntimeError, match="Prefect server"):
            server.wait_ready(timeout=60)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited, it only waits to be reaped


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_server_does_not_outlive_a_killed_command(tmp_path):
    """`kill -9` of a run (only its own process) takes its Prefect server down too, and a terminal's
    Ctrl-C does not reach the server directly: it runs in a process group of its own."""
    script = (
        "import os, time\n"
        "from pipelines.prefect_env import LocalServer\n"
        "s = LocalServer(lean=True).start()\n"
        "print(s._process.pid, os.getpgid(s._process.pid), os.getpgid(0), flush=True)\n"
        "time.sleep(120)\n"
    )
    env = dict(os.environ, PREFECT_HOME=str(tmp_path), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    command = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env,
                               cwd=Path(__file__).resolve().parents[1])
    server, server_group, command_group = map(int, command.stdout.readline().split())
    assert server_group != command_group
    assert _alive(server)
    command.kill()
    command.wait()
    deadline = time.monotonic() + 30
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(server)
