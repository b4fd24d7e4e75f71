"""The active model on hand-written documents that no part of dangan generated.

``data/samples/handwritten/documents.jsonl`` holds 331 document texts (one per catalogue item) in five styles (filled-in form,
authority approval or permit, excerpt, poor OCR, local name), written for this benchmark from what
such documents look like, by writers who saw neither the sample generator nor the knowledge files
(see that folder's README). The ``dev`` split (131) was read to fix gaps in the knowledge files and
to judge experiments; nothing was changed on account of the ``test`` split (200).

    .venv/bin/python benchmarks/bench_handwritten.py [--split test] [--misses]

Needs a registered model (``dangan train``) under DANGAN_HOME (default .dangan).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.catalogue import load_catalogue
from models.evaluation import correctness
from models.routing import Route
from pipelines.evaluate import as_scored
from pipelines.settings import Settings

DOCUMENTS = REPO / "data" / "samples" / "handwritten" / "documents.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--misses", action="store_true", help="list every document whose first answer is wrong")
    args = ap.parse_args()

    rows = [json.loads(line) for line in DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    catalogue = load_catalogue()
    clf, manifest = Settings().model_registry().load()
    preds = [as_scored(p) for p in clf.predict([r["text"] for r in rows])]
    ok = correctness(catalogue, [p.item_code or None for p in preds], [r["item_code"] for r in rows])
    top3 = [any(catalogue.equivalent(c.item_code, r["item_code"]) for c in p.candidates[:3]) for p, r in zip(preds, rows)]
    auto = [p.route == Route.AUTO and bool(p.item_code) for p in preds]

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[f"{r['split']}"].append(i)
        groups[f"{r['split']} · {r['style']}"].append(i)
    print(f"model {manifest.get('version')} · {len(rows)} hand-written documents")
    print(f"{'':22s} {'n':>3s}  {'item':>6s}  {'class':>6s}  {'stage':>6s}  {'top-3':>6s}  auto (right)")
    results = {}
    for name in sorted(groups, key=lambda g: (g.split(" · ")[0], " · " in g, g)):
        idx = groups[name]
        n = len(idx)
        a = [i for i in idx if auto[i]]
        line = {
            "n": n, "item": sum(ok.item[i] for i in idx) / n, "class": sum(ok.class_[i] for i in idx) / n,
            "stage": sum(ok.stage[i] for i in idx) / n, "top3": sum(top3[i] for i in idx) / n,
            "auto": len(a), "auto_right": int(sum(ok.item[i] for i in a)),
        }
        results[name] = line
        print(f"{name:22s} {n:3d}  {line['item']:6.1%}  {line['class']:6.1%}  {line['stage']:6.1%}  "
              f"{line['top3']:6.1%}  {len(a)} ({line['auto_right']})")
    if args.misses:
        for i, (r, p) in enumerate(zip(rows, preds)):
            if not ok.item[i]:
                true = catalogue[r["item_code"]].name
                print(f"  {r['id']} {r['style']:9s} {r['item_code']} {true[:16]} -> {p.item_code or 'abstain'} "
                      f"{p.item_name[:16]} ({p.confidence:.2f}, {p.route})")
    out = REPO / "benchmarks" / "results" / "handwritten.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": manifest.get("version"), "split": args.split, "groups": results}, indent=2))


if __name__ == "__main__":
    main()
