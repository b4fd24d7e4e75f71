"""Command line: ``python -m samplegen corpus …`` and ``python -m samplegen demo-inbox DIR``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from samplegen.output import FORMATS, inbox_size, write_corpus, write_demo_inbox


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samplegen", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus", help="render a labelled corpus (files + labels.csv)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--split", choices=("train", "calib", "test"), default="test")
    c.add_argument("--seed", type=int, default=3)
    c.add_argument("--per-item", type=int, default=1)
    c.add_argument("--formats", default="text_pdf", help=f"comma-separated, from: {','.join(FORMATS)}")
    c.add_argument("--items", default="", help="comma-separated item codes (default: the whole catalogue)")
    c.add_argument("--all-formats", action="store_true", help="render every document in every format")
    d = sub.add_parser("demo-inbox", help="write the small demo inbox with good and bad inputs")
    d.add_argument("out", type=Path, nargs="?", default=Path("data/samples/inbox"))
    d.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.command == "corpus":
            formats = [f.strip() for f in args.formats.split(",") if f.strip()]
            items = [i.strip() for i in args.items.split(",") if i.strip()] or None
            rows = write_corpus(args.out, args.split, args.seed, args.per_item, formats, items,
                                all_formats=args.all_formats)
        else:
            rows = write_demo_inbox(args.out, seed=args.seed)
            print(f"inbox size {inbox_size(args.out) / 2**20:.2f} MB", file=sys.stderr)
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} files (+ labels) to {args.out} in {time.perf_counter() - started:.1f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
