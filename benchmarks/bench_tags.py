"""Tag extraction benchmark on held-out documents: field-level precision / recall / F1.

Generates the held-out split (template families and wordings training never uses) with its own seed,
runs ``features.tags.extract_tags`` on every document and scores project_name, doc_number, doc_date,
units (per role/name pair) and discipline against the generator's truth (``models.tag_metrics``).
``--ocr-noise N`` damages the texts with simulated PP-OCR errors first (truth stays the printed value,
so recall then also measures how often OCR destroyed it). Prints the table overall and per family,
the speed with and without keywords, and writes JSON to benchmarks/results/.

    .venv/bin/python benchmarks/bench_tags.py [--per-item 2] [--ocr-noise 1] [--errors 20] [--split train]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.segmentation import Segmenter
from features.tags import extract_tags
from models.tag_metrics import FIELDS, TagScores, TagTruth, format_table, score_one

# The generator's catch-all 专业 for items of no particular trade (approvals, contracts, general
# forms): scored as "no discipline", so predicting one there is a false positive.
NO_DISCIPLINE = ("综合",)
DEFAULT_SEED = 20261128 + 2  # training uses 20261128 (train) and +1 (calib)


def truth_of(doc) -> TagTruth:  # type: ignore[no-untyped-def]
    return TagTruth.of(project_name=doc.project_name, doc_number=doc.doc_number, doc_date=doc.doc_date,
                       units=doc.units, discipline=doc.discipline, no_discipline=NO_DISCIPLINE)


def _errors(docs, texts, preds, truths, per_field: int):  # type: ignore[no-untyped-def]
    """Up to ``per_field`` mismatches per field, for reading what the rules miss."""
    out: dict[str, list[dict]] = defaultdict(list)
    for d, text, p, t in zip(docs, texts, preds, truths, strict=True):
        s = score_one(p, t)
        for f in FIELDS:
            fs = s[f]
            perfect = fs.correct == fs.predicted == fs.truth
            if (fs.predicted or fs.truth) and not perfect and len(out[f]) < per_field:
                if f in ("units", "unit_names"):
                    pv, tv = sorted((u.role, u.name) for u in p.units), sorted(t.units)
                else:
                    pv, tv = getattr(p, f), getattr(t, f)
                out[f].append({"family": d.family, "item": d.item_code, "pred": pv, "truth": tv,
                               "text": text[:600]})
    return dict(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-item", type=int, default=2)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--split", default="test", choices=("test", "train", "calib"),
                    help="test = held-out families (default); train/calib check the rules on other layouts")
    ap.add_argument("--keyword-docs", type=int, default=40,
                    help="time keywords (jieba TF-IDF) on this many documents; 0 skips it")
    ap.add_argument("--ocr-noise", type=int, default=0, help="simulated OCR damage level 0-3")
    ap.add_argument("--errors", type=int, default=0, help="store this many mismatches per field in the JSON")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from samplegen import generate_corpus, ocr_noise  # type: ignore[import-not-found]

    t0 = time.perf_counter()
    docs = generate_corpus(args.split, seed=args.seed, per_item=args.per_item)
    texts = [d.text for d in docs]
    if args.ocr_noise:
        texts = [ocr_noise(t, random.Random(f"{args.seed}:ocr:{i}"), args.ocr_noise)
                 for i, t in enumerate(texts)]
    gen_s = time.perf_counter() - t0
    truths = [truth_of(d) for d in docs]
    print(f"{args.split} split: {len(docs)} docs, seed {args.seed}, OCR noise {args.ocr_noise} "
          f"(generated in {gen_s:.1f} s)")

    t0 = time.perf_counter()
    preds = [extract_tags(t) for t in texts]
    rules_s = time.perf_counter() - t0

    seg = Segmenter()
    kw: list[tuple[str, ...]] = []
    kw_s = float("nan")
    if args.keyword_docs:
        seg.words("预热")  # build the tokenizer outside the timing
        sample = texts[:: max(1, len(texts) // args.keyword_docs)][: args.keyword_docs]
        t0 = time.perf_counter()
        kw = [extract_tags(t, seg).keywords for t in sample]
        kw_s = time.perf_counter() - t0

    overall = TagScores()
    by_family: dict[str, TagScores] = defaultdict(TagScores)
    for d, p, t in zip(docs, preds, truths, strict=True):
        s = score_one(p, t)
        overall = overall + s
        by_family[d.family] = by_family[d.family] + s

    print(format_table(overall, f"all {args.split} families"))
    for fam in sorted(by_family):
        print(format_table(by_family[fam], fam))
    rules_rate, kw_rate = len(texts) / rules_s, (len(kw) / kw_s if kw else float("nan"))
    print(f"speed: {rules_rate:.0f} docs/s rules only", end="")
    if kw:
        stop = seg.stopwords
        n_kw = sum(len(k) for k in kw)
        print(f", {kw_rate:.1f} docs/s with keywords (TF-IDF top 8 on {len(kw)} docs; {n_kw / len(kw):.1f} "
              f"keywords/doc, {sum(w in stop for k in kw for w in k)} stop-words among them)")
    else:
        print()

    result = {
        "n_docs": len(docs), "seed": args.seed, "per_item": args.per_item, "ocr_noise": args.ocr_noise,
        "overall": overall.as_dict(), "by_family": {f: s.as_dict() for f, s in sorted(by_family.items())},
        "docs_per_s_rules": round(rules_rate, 1), "split": args.split,
        "docs_per_s_with_keywords": round(kw_rate, 1) if kw else None,
        "no_discipline": list(NO_DISCIPLINE),
    }
    if args.errors:
        result["errors"] = _errors(docs, texts, preds, truths, args.errors)
    results = Path(__file__).resolve().parent / "results"
    out = args.out or results / f"tags_{args.split}_noise{args.ocr_noise}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
