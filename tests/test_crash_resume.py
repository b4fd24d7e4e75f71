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


def _session_members(session: int) -> list[int]:
    """Live (not zombie) processes of a session: a command, its pool workers and its Prefect server."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            members.append(int(stat.parent.name))
    return members


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_nothing_outlives_a_command_killed_alone(trained, test_settings, inbox, tmp_path):
    """`kill -9` of the command's own process (not its group): its workers and its Prefect server go too."""
    db = tmp_path / "alone.db"  # a database of its own: every file is still to do
    env = dict(os.environ, DANGAN_HOME=str(test_settings.home), DANGAN_WORKERS="2", DANGAN_BATCH_SIZE="1",
               DANGAN_DATABASE_URL=f"sqlite:///{db}")
    cmd = [sys.executable, "-m", "pipelines.cli", "run", str(inbox), "--out", str(tmp_path / "out"), "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while _recorded(db, 0) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    assert len(_session_members(proc.pid)) >= 3  # the command, its server, at least one worker
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while _session_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_members(proc.pid) == []
