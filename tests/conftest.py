"""Shared fixtures: one trained seed model per test session (small corpus, real classifier)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("DANGAN_SECRET_KEY", "test-only-key-not-a-secret")


@pytest.fixture(scope="session")
def dangan_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dangan-home")


@pytest.fixture(scope="session")
def test_settings(dangan_home):
    from pipelines.settings import Settings

    # A smaller corpus than the default keeps the suite fast; the benchmark uses the full one.
    return Settings(home=dangan_home, train_per_item=8, calib_per_item=3, test_per_item=2, workers=2)


@pytest.fixture(scope="session")
def trained(test_settings):
    """Train and register a model once for the session; returns the TrainingOutcome."""
    from pipelines.training import train_default

    return train_default(test_settings)


INBOX = Path(__file__).resolve().parents[1] / "data" / "samples" / "inbox"


def dangan(args: list[str], settings, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    """Run the ``dangan`` CLI in a subprocess with ``settings.home`` as DANGAN_HOME."""
    env = dict(os.environ, DANGAN_HOME=str(settings.home), DANGAN_WORKERS="2")
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True, timeout=900, **kw
    )


@pytest.fixture(scope="session")
def demo_run(trained, test_settings, tmp_path_factory):
    """``dangan run`` over the bundled sample inbox, once per session: (out folder, process, result rows)."""
    out = tmp_path_factory.mktemp("demo-out")
    proc = dangan(["run", str(INBOX), "--out", str(out), "-q"], test_settings)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return out, proc, rows
