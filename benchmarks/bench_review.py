"""How fast the review workbench answers with a large queue: the queue page, a document view (which
also works out next/previous in the queue) and saving a label (which moves to the next document).

    .venv/bin/python benchmarks/bench_review.py [--docs 5000] [--rounds 30]

Prints milliseconds per request (median and 90th percentile) on SQLite, in process (FastAPI's test
client, no network), with the page images already rendered (their first render is an OCR-free PDF
rasterisation, measured separately).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient

from models.catalogue import load_catalogue
from pipelines.db import repository as repo
from pipelines.db import review as rq
from pipelines.results import CandidateOut, FileResult, TagsOut
from pipelines.settings import Settings
from pipelines.storage import Database
from review.app import create_app
from review.security import hash_password

PASSWORD = "benchmark password"


def build(home: Path, n: int) -> Settings:
    settings = Settings(home=home)
    catalogue = load_catalogue()
    codes = catalogue.codes
    rng = random.Random(1)
    db = Database.open(settings.db_url)
    with db.session() as s:
        run = repo.start_run(s, inputs=[str(home / "inbox")], model_version="bench")
    results = []
    for i in range(n):
        picks = rng.sample(codes, 5)
        conf = rng.random()
        sha = hashlib.sha256(f"doc {i}".encode()).hexdigest()
        results.append(FileResult(
            file=f"batch/{i:05d}.pdf", sha256=sha, status="ok", pages=1, item_code=picks[0],
            item_name=catalogue[picks[0]].name, class_code=catalogue[picks[0]].class_code, confidence=conf,
            route="review" if conf < 0.8 else "class", model_version="bench",
            candidates=[CandidateOut(item_code=c, item_name=catalogue[c].name, confidence=conf / (k + 1))
                        for k, c in enumerate(picks)],
            tags=TagsOut(project_name=f"工程{i % 20}"), text="施工记录 " * 200,
        ))
    for start in range(0, n, 500):
        db.record(run, results[start:start + 500])
    with db.session() as s:
        rq.create_user(s, username="bench", role="reviewer", actor="bench", password_hash=hash_password(PASSWORD))
    return settings


def timed(fn, rounds: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        settings = build(Path(tmp) / "home", args.docs)
        print(f"queue of {args.docs} documents recorded in {time.perf_counter() - t:.1f} s")
        client = TestClient(create_app(settings))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
        page = client.get("/queue").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]  # new at login
        ids = [int(x) for x in re.findall(r'data-doc="(\d+)"', page)]
        queue = timed(lambda: client.get("/queue").raise_for_status(), args.rounds)
        filtered = timed(lambda: client.get("/queue?project=工程3&class_code=C5").raise_for_status(), args.rounds)
        doc = timed(lambda: client.get(f"/documents/{ids[len(ids) // 2]}").raise_for_status(), args.rounds)
        todo = iter(ids)
        save = timed(lambda: client.post(f"/documents/{next(todo)}/label", follow_redirects=False, data={
            "csrf_token": csrf, "item_code": "C5-1", "expected_version": "0"}).status_code == 303 or sys.exit("save failed"),
            min(args.rounds, len(ids)))
        search = timed(lambda: client.get("/catalogue/search", params={"q": "隐蔽"}).raise_for_status(), args.rounds)
    print(f"{'request':34} {'median ms':>10} {'p90 ms':>8}")
    for name, (med, p90) in [("queue page (50 rows)", queue), ("queue page, filtered", filtered),
                             ("document view (+ next/previous)", doc), ("save label → next document", save),
                             ("catalogue search", search)]:
        print(f"{name:34} {med:10.1f} {p90:8.1f}")


if __name__ == "__main__":
    main()
