"""kill -9 in the middle of a batch, then the same command again: every file recorded exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
N_FILES = 60


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    from samplegen import generate_doc
    from samplegen.render import render_pdf

    root = tmp_path_factory.mktemp("crash-inbox")
    rng = random.Random(3)
    codes = ["C5-1", "C2-7", "A1-2", "E1-8", "B2-1", "C6-2"]
    for k in range(N_FILES):
        render_pdf(generate_doc(codes[k % len(codes)], "test", seed=4711, k=k), root / f"f{k:03d}.pdf", rng=rng)
    return root


def _recorded(db: Path, run_after: int) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=5) as con:
        try:
            return con.execute("select count(*) from predictions where run_id > ?", (run_after,)).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def _last_run(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=5) as con:
        try:
            return con.execute("select coalesce(max(id), 0) from runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_kill_9_then_rerun_records_every_file_once(trained, test_settings, inbox, tmp_path):
    db = Path(test_settings.home) / "dangan.db"
    before = _last_run(db)
    out = tmp_path / "out"
    env = dict(os.environ, DANGAN_HOME=str(test_settings.home), DANGAN_WORKERS="1", DANGAN_BATCH_SIZE="1")
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(inbox), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while _recorded(db, before) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its worker pool and its Prefect server, mid-batch
    proc.wait()
    killed_at = _recorded(db, before)
    assert 0 < killed_at < N_FILES
    assert not (out / "results.jsonl").exists()  # nothing half-written

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in inbox.iterdir())
    assert all(r["status"] == "ok" for r in rows)
    with sqlite3.connect(db) as con:
        shas = [r["sha256"] for r in rows]
        marks = ",".join("?" * len(shas))
        counts = con.execute(
            f"select d.sha256, count(*) from predictions p join documents d on d.id = p.document_id "
            f"where d.sha256 in ({marks}) group by d.sha256", shas).fetchall()
        statuses = dict(con.execute("select id, status from runs where id > ?", (before,)).fetchall())
    assert len(counts) == N_FILES and all(n == 1 for _, n in counts)  # exactly once each
    assert f"resumed {killed_at}" in again.stdout or "resumed" in again.stdout
    assert sorted(statuses.values()) == ["finished", "interrupted"]
