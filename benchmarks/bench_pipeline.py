"""End-to-end throughput: ``dangan run`` (Prefect flow, process pool) on generated text PDFs and scans,
beside a bare Python loop doing the same work in one process, plus peak RSS.

    .venv/bin/python benchmarks/bench_pipeline.py [--text 1000] [--scans 100]

Each pipeline run is timed twice: the whole command (wall) and inside the flow; the flow time set
against the bare loop is the pipeline's overhead (Prefect tasks, pickling, result writing).

Needs a registered model (``dangan train``) under DANGAN_HOME (default .dangan).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_inbox(root: Path, n_text: int, n_scans: int, seed: int) -> None:
    from samplegen import generate_corpus
    from samplegen.render import render_pdf, render_scan  # type: ignore[import-not-found]

    rng = random.Random(seed)
    per_item = -(-(n_text + n_scans) // 331)
    docs = generate_corpus("test", seed=seed, per_item=per_item)
    rng.shuffle(docs)
    (root / "text").mkdir(parents=True)
    (root / "scans").mkdir(parents=True)
    for i, d in enumerate(docs[:n_text]):
        render_pdf(d, root / "text" / f"{i:05d}.pdf", rng=rng)
    for i, d in enumerate(docs[n_text : n_text + n_scans]):
        render_scan(d, root / "scans" / f"{i:05d}.pdf", degraded=True, fmt="pdf", rng=rng)


def bare_loop(folder: Path) -> tuple[float, int]:
    """The same per-file work, sequentially in this process, with no Prefect and no pool."""
    from pipelines.discovery import discover
    from pipelines.processing import process_file, worker_context
    from pipelines.settings import Settings

    ctx = worker_context(Settings())
    jobs = discover([folder])
    t0 = time.perf_counter()
    pages = sum((process_file(j, ctx).pages or 0) for j in jobs)
    return time.perf_counter() - t0, pages


def dangan_run(folder: Path, out: Path, workers: int, *extra: str) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds inside the flow) — the difference is start-up:
    interpreter and imports, the local Prefect server, and the worker pool. Each run gets a database
    of its own, or it would skip the files an earlier run recorded."""
    env = dict(os.environ, DANGAN_DATABASE_URL=f"sqlite:///{out}.db")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", str(folder), "--out", str(out), "-q", "--workers", str(workers),
         *extra],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL, env=env,
    )
    wall = time.perf_counter() - t0
    return wall, json.loads((out / "summary.json").read_text())["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", type=int, default=1000)
    ap.add_argument("--scans", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "inbox"
        make_inbox(root, args.text, args.scans, args.seed)
        for kind, n in (("text", args.text), ("scans", args.scans)):
            if n == 0:
                continue
            folder = root / kind
            bare_s, pages = bare_loop(folder)
            wall1, flow1 = dangan_run(folder, Path(tmp) / f"out-{kind}-1", 1)
            wall2, flow2 = dangan_run(folder, Path(tmp) / f"out-{kind}-2", 2)
            dask = {w: dangan_run(folder, Path(tmp) / f"out-{kind}-dask{w}", w, "--dask-workers", str(w))
                    for w in (1, 2)}
            print(f"{kind:5s}: {n} files, {pages} pages")
            print(f"       bare loop (1 process, model loaded)  {n / bare_s:7.2f} files/s  {pages / bare_s:7.2f} pages/s")
            print(f"       dangan run, 1 worker   flow {n / flow1:7.2f} files/s ({flow1 / bare_s - 1:+.0%} vs bare)"
                  f"  + start-up {wall1 - flow1:.1f} s")
            print(f"       dangan run, 2 workers  flow {n / flow2:7.2f} files/s ({bare_s / flow2:.2f}x bare)"
                  f"  + start-up {wall2 - flow2:.1f} s")
            print(f"       dask, 1 worker         flow {n / dask[1][1]:7.2f} files/s ({dask[1][1] / bare_s - 1:+.0%} vs bare)"
                  f"  + start-up {dask[1][0] - dask[1][1]:.1f} s")
            print(f"       dask, 2 workers        flow {n / dask[2][1]:7.2f} files/s "
                  f"({dask[1][1] / dask[2][1]:.2f}x dask 1 worker)  + start-up {dask[2][0] - dask[2][1]:.1f} s")
            results.update({f"{kind}_dask1_files_per_s": n / dask[1][1], f"{kind}_dask2_files_per_s": n / dask[2][1]})
            results.update({f"{kind}_bare_files_per_s": n / bare_s, f"{kind}_flow1_files_per_s": n / flow1,
                            f"{kind}_flow2_files_per_s": n / flow2, f"{kind}_startup_s": wall2 - flow2,
                            f"{kind}_pages": pages})
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: bare-loop process {self_rss:.0f} MB; largest child process {child_rss:.0f} MB")
    results.update({"peak_rss_self_mb": self_rss, "peak_rss_child_mb": child_rss})
    out = REPO / "benchmarks" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
