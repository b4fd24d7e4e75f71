"""Scale-out: the same batch on a local 2-worker Dask cluster gives the same results as the default runner."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _run(inbox: Path, out: Path, home: Path, db: Path, *extra: str) -> list[dict]:
    env = dict(os.environ, DANGAN_HOME=str(home), DANGAN_DATABASE_URL=f"sqlite:///{db}", DANGAN_BATCH_SIZE="2")
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", str(inbox), "--out", str(out), "-q", *extra],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_dask_local_cluster_matches_the_default_runner(trained, test_settings, tmp_path):
    from samplegen import generate_doc
    from samplegen.render import render_pdf

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rng = random.Random(8)
    for k, code in enumerate(["C5-1", "A1-2", "E1-8", "C2-7", "B2-1", "C6-2", "D-1", "C7-1"]):
        render_pdf(generate_doc(code, "test", seed=99, k=k), inbox / f"d{k}.pdf", rng=rng)
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")

    default = _run(inbox, tmp_path / "a", test_settings.home, tmp_path / "a.db")
    dask = _run(inbox, tmp_path / "b", test_settings.home, tmp_path / "b.db", "--dask-workers", "2")
    keep = ("file", "sha256", "status", "item_code", "route", "confidence", "candidates", "tags", "error")
    assert [{k: r[k] for k in keep} for r in dask] == [{k: r[k] for k in keep} for r in default]
