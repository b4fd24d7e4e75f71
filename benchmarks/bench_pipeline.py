"""End-to-end throughput: ``dangan run`` (Prefect flow, process pool or Dask) on generated text PDFs and
scans, beside a bare Python loop doing the same work in one process, plus peak RSS.

    .venv/bin/python benchmarks/bench_pipeline.py [--text 1000] [--scans 200] [--inbox DIR] [--repeat 1] [--no-dask]

Scans are single-page degraded PDFs; OCR runs ≈4.5 s a page on one core, so 200 of them take about
an hour through the bare loop and the four pipeline configurations (`--no-dask`: about 40 min).

The pipeline's overhead is reported as two numbers, because one ratio mixes them up:

* **fixed** — seconds a run costs whatever its size: interpreter and imports, the local Prefect
  server, the flow run, starting the workers (imports, model load), the exports, shutting down.
  Measured as the wall time of ``dangan run`` on a tiny batch (``--tiny`` files, default 4).
* **marginal** — what each further file costs: ``(wall(n) − wall(tiny)) / (n − tiny)``, set against
  the bare loop's seconds per file (divided by the workers: what perfect scaling would give). It
  holds what grows with the batch: Prefect tasks, results travelling back, the database, the
  archive copies, the exports.

The total ratio (flow time and wall time against the bare loop, as before) is printed too, and so
is the batch size from which the total overhead is within 10 %. **End to end**, both sides pay their
start-up: ``dangan run``'s wall time is also set beside the bare loop run as a command of its own
(interpreter, imports, model and segmenter, every file, a results.jsonl). "work in workers" is the files' own
seconds measured inside the workers: set beside the bare loop's, it tells a slower machine (other
load, two workers sharing caches) from pipeline overhead. The exports grow with the number of
projects (one 卷内目录 sheet each): by default every generated file is of a project of its own, far
more projects than a real batch has; ``--projects 20`` spreads the files over 20, as a box or a
nightly inbox is.

The bare loop gets what a worker has before its first file: the model loaded and the word
segmenter (and, for scans, the OCR engine) built; those are fixed costs of a worker.

Needs a registered model (``dangan train``) under DANGAN_HOME (default .dangan). Each run gets a
database of its own, or it would skip the files an earlier run recorded. The machine's load
average is printed: on a shared machine, re-run with ``--repeat 2`` (best of) before believing a
number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_inbox(root: Path, n_text: int, n_scans: int, seed: int, projects: int | None) -> None:
    from samplegen import generate_corpus
    from samplegen.render import render_pdf, render_scan  # type: ignore[import-not-found]

    rng = random.Random(seed)
    per_item = -(-(n_text + n_scans) // 331)
    docs = generate_corpus("test", seed=seed, per_item=per_item, projects=projects)
    rng.shuffle(docs)
    (root / "text").mkdir(parents=True, exist_ok=True)
    (root / "scans").mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(docs[:n_text]):
        render_pdf(d, root / "text" / f"{i:05d}.pdf", rng=rng)
    for i, d in enumerate(docs[n_text : n_text + n_scans]):
        render_scan(d, root / "scans" / f"{i:05d}.pdf", degraded=True, fmt="pdf", rng=rng)
    (root / "inbox.json").write_text(json.dumps(_inbox_key(n_text, n_scans, seed, projects)))


def _inbox_key(n_text: int, n_scans: int, seed: int, projects: int | None) -> dict[str, int | None]:
    key: dict[str, int | None] = {"text": n_text, "scans": n_scans, "seed": seed}
    if projects:
        key["projects"] = projects
    return key


def ensure_inbox(root: Path, n_text: int, n_scans: int, seed: int, projects: int | None = None) -> None:
    """Generate the inbox into ``root`` unless it already holds this one (``--inbox`` reuses it)."""
    marker = root / "inbox.json"
    if marker.exists() and json.loads(marker.read_text()) == _inbox_key(n_text, n_scans, seed, projects):
        return
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    make_inbox(root, n_text, n_scans, seed, projects)
    print(f"generated {n_text} text PDFs and {n_scans} scans in {time.perf_counter() - t0:.0f} s", flush=True)


def bare_loop(folder: Path) -> tuple[float, int, int]:
    """The same per-file work, sequentially in this process, with no Prefect and no pool:
    (seconds, files, pages)."""
    from pipelines.discovery import discover
    from pipelines.processing import process_file, worker_context
    from pipelines.settings import Settings

    ctx = worker_context(Settings())  # the model loaded (and its fast copy built, if missing)
    jobs = discover([folder])
    process_file(jobs[0], ctx)  # a warm-up file: segmenter, lazy imports, for scans the OCR engine
    t0 = time.perf_counter()
    pages = sum((process_file(j, ctx).pages or 0) for j in jobs)
    return time.perf_counter() - t0, len(jobs), pages


def bare_script(folder: Path, out: Path) -> float:
    """Wall seconds of the bare loop as a command of its own, start to finish — interpreter, imports,
    model and segmenter, every file, results.jsonl — to set beside ``dangan run``'s wall time: the
    end-to-end comparison, where both sides pay their own start-up."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--bare-script", str(folder), str(out)], check=True, cwd=REPO)
    return time.perf_counter() - t0


def _bare_script_main(folder: Path, out: Path) -> None:
    from pipelines.discovery import discover
    from pipelines.processing import process_file, worker_context
    from pipelines.results import write_jsonl
    from pipelines.settings import Settings

    ctx = worker_context(Settings())
    write_jsonl(out, [process_file(j, ctx) for j in discover([folder])])


@dataclass
class Run:
    wall: float  # the whole command
    flow: float  # inside the flow (summary.json)
    work: float  # the files' own seconds inside the workers (sum of their ``seconds``)
    projects: int  # distinct 工程名称: one 卷内目录 sheet each


def dangan_run(folder: Path, out: Path, workers: int, *extra: str) -> Run:
    """One ``dangan run`` with a database of its own."""
    env = dict(os.environ, DANGAN_DATABASE_URL=f"sqlite:///{out}.db")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", str(folder), "--out", str(out), "-q", "--workers", str(workers),
         *extra],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL, env=env,
    )
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    projects = {r["tags"]["project_name"] for r in rows if r["status"] == "ok" and r.get("item_code")}
    return Run(wall, json.loads((out / "summary.json").read_text())["seconds"], sum(r["seconds"] for r in rows),
               len(projects))


def best_of(repeat: int, folder: Path, out: Path, workers: int, *extra: str) -> Run:
    runs = [dangan_run(folder, out.with_name(f"{out.name}-{i}"), workers, *extra) for i in range(repeat)]
    return min(runs, key=lambda r: r.wall)


def tiny_folder(folder: Path, n: int, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(folder.iterdir())[:n]:
        shutil.copy2(f, dest / f.name)
    return dest


def main() -> None:
    if sys.argv[1:2] == ["--bare-script"]:
        return _bare_script_main(Path(sys.argv[2]), Path(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", type=int, default=1000, help="text PDFs (default 1000)")
    ap.add_argument("--scans", type=int, default=200, help="scanned single-page PDFs (default 200; 0 to skip)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tiny", type=int, default=4, help="files in the run that measures the fixed cost (default 4)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration, the fastest counts (default 1)")
    ap.add_argument("--inbox", type=Path, help="generate the inbox here, or reuse it if it is already there "
                                               "(generating 1000 text PDFs takes ~2 min)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    ap.add_argument("--projects", type=int, help="spread the files over this many projects, as one archive box or "
                                                 "a nightly inbox is (default: every file a project of its own)")
    args = ap.parse_args()
    configs = [("dangan run, 1 worker ", 1, ()), ("dangan run, 2 workers", 2, ())]
    if not args.no_dask:
        configs += [("dask, 1 worker       ", 1, ("--dask-workers", "1")), ("dask, 2 workers      ", 2, ("--dask-workers", "2"))]
    results: dict[str, float] = {}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.inbox or Path(tmp) / "inbox"
        ensure_inbox(root, args.text, args.scans, args.seed, args.projects)
        for kind, n in (("text", args.text), ("scans", args.scans)):
            if n <= args.tiny:
                continue
            folder = root / kind
            tiny = tiny_folder(folder, args.tiny, Path(tmp) / f"tiny-{kind}")
            bare_s, n_files, pages = min(bare_loop(folder) for _ in range(args.repeat))
            per_file = bare_s / n_files
            print(f"{kind:5s}: {n_files} files, {pages} pages (load average {os.getloadavg()[0]:.1f})")
            print(f"       bare loop (1 process, warm)  {n_files / bare_s:7.2f} files/s  {pages / bare_s:7.2f} pages/s"
                  f"  {1000 * per_file:6.1f} ms/file")
            script_s = min(bare_script(folder, Path(tmp) / f"bare-{kind}-{i}.jsonl") for i in range(args.repeat))
            print(f"       bare loop as a command       {script_s:7.1f} s start to finish "
                  f"({script_s - bare_s:.1f} s of start-up: interpreter, imports, model)")
            results.update({f"{kind}_bare_files_per_s": n_files / bare_s, f"{kind}_pages": pages,
                            f"{kind}_bare_ms_per_file": 1000 * per_file, f"{kind}_bare_script_s": script_s})
            print("                              fixed      marginal (vs bare/w)     total flow / wall (vs bare)"
                  "   ≤10 % from   work in workers")
            for label, workers, extra in configs:
                key = f"{kind}_{'dask' if extra else 'flow'}{workers}"
                small = best_of(args.repeat, tiny, Path(tmp) / f"out-{key}-tiny", workers, *extra)
                big = best_of(args.repeat, folder, Path(tmp) / f"out-{key}", workers, *extra)
                fixed = small.wall - args.tiny * per_file / workers  # minus the tiny batch's own work
                marginal = (big.wall - small.wall) / (n_files - args.tiny)  # seconds per further file
                ideal = per_file / workers
                over = marginal / ideal - 1
                # total overhead within 10 %: fixed + n·marginal ≤ 1.1·n·ideal
                breakeven = f"{fixed / (1.1 * ideal - marginal):8.0f} files" if marginal < 1.1 * ideal else "   never"
                print(f"       {label}  {fixed:6.1f} s   {1000 * marginal:6.2f} ms/file ({over:+4.0%})"
                      f"   {n_files / big.flow:6.1f} / {n_files / big.wall:6.1f} files/s"
                      f" ({big.flow / (bare_s / workers) - 1:+4.0%} / {big.wall / (bare_s / workers) - 1:+4.0%})"
                      f"  {breakeven}   {1000 * big.work / n_files:5.1f} ms/file", flush=True)
                results.update({
                    f"{key}_files_per_s": n_files / big.flow, f"{key}_wall_files_per_s": n_files / big.wall,
                    f"{key}_fixed_s": fixed, f"{key}_marginal_ms_per_file": 1000 * marginal,
                    f"{key}_marginal_overhead": over, f"{key}_startup_s": big.wall - big.flow,
                    f"{key}_tiny_wall_s": small.wall, f"{key}_tiny_flow_s": small.flow,
                    f"{key}_work_ms_per_file": 1000 * big.work / n_files, f"{key}_wall_s": big.wall,
                    f"{key}_wall_vs_bare_script": big.wall / script_s - 1,
                })
                print(f"         end to end: {big.wall:6.1f} s against the bare command's {script_s:.1f} s "
                      f"({big.wall / script_s - 1:+.0%})", flush=True)
                projects = big.projects
            print(f"       (the 卷内目录 workbook of the big runs has {projects} project sheets)")
            results[f"{kind}_projects"] = projects
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: bare-loop process {self_rss:.0f} MB; largest child process {child_rss:.0f} MB")
    print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    results.update({"peak_rss_self_mb": self_rss, "peak_rss_child_mb": child_rss, "load_average_start": load0})
    out = REPO / "benchmarks" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Merged into the last results, so a scans-only run (``--text 0``) keeps the text figures.
    # Against a running Prefect server (``PREFECT_API_URL``, as ``dangan serve`` has) the figures are
    # kept apart from those of runs that start their own.
    tag = "running_server_" if os.environ.get("PREFECT_API_URL") else ""
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **{f"{tag}{k}": v for k, v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
