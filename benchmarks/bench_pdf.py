"""Text-PDF extraction speed through ``extract_document`` (the path every born-digital file takes).

Generates multi-page Chinese text PDFs (deterministic), extracts them with OCR disabled — a text PDF
must never need it — and prints pages/s and files/s, plus the CER of the text layer against the
source text. Writes a JSON to benchmarks/results/.

    .venv/bin/python benchmarks/bench_pdf.py [--files 20] [--pages 10]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_ocr import RESULTS_DIR, SENTENCES, TITLES, UNITS, cer  # noqa: E402
from features.extraction import extract_document  # noqa: E402

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def make_pdf(pages: int, rng: random.Random) -> tuple[bytes, str]:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.add_font("zh", "", FONT, collection_font_number=0)
    pdf.set_font("zh", size=11)
    texts = []
    for _ in range(pages):
        pdf.add_page()
        lines = [rng.choice(TITLES), f"施工单位：{rng.choice(UNITS)}"]
        lines += [rng.choice(SENTENCES).format(a=rng.randint(2, 40), b=rng.randint(100, 9000),
                                               c=rng.randint(10, 60), d=rng.randint(1, 9)) for _ in range(20)]
        for line in lines:
            pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
        texts.append("\n".join(lines))
    return bytes(pdf.output()), "\n".join(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--pages", type=int, default=10)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        paths, refs = [], []
        for i in range(args.files):
            data, ref = make_pdf(args.pages, rng)
            path = Path(tmp) / f"doc{i:03d}.pdf"
            path.write_bytes(data)
            paths.append(path)
            refs.append(ref)
        extract_document(paths[0], engine_factory=None)  # warm-up (imports, pdfium init)
        start = time.perf_counter()
        docs = [extract_document(p, engine_factory=None) for p in paths]
        elapsed = time.perf_counter() - start

    pages = sum(d.page_count for d in docs)
    assert all(d.text_source == "text_layer" for d in docs)
    mean_cer = sum(cer(r, d.text) for r, d in zip(refs, docs)) / len(docs)
    result = {
        "files": len(docs), "pages": pages, "seconds": round(elapsed, 3),
        "pages_per_s": round(pages / elapsed, 1), "files_per_s": round(len(docs) / elapsed, 1),
        "text_layer_cer_pct": round(100 * mean_cer, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(f"text PDFs via extract_document: {pages} pages in {elapsed:.2f}s = {result['pages_per_s']} pages/s "
          f"({result['files_per_s']} files/s), text-layer CER {result['text_layer_cer_pct']}%, "
          f"peak RSS {result['peak_rss_mb']} MB")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bench_pdf_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "result": result}, indent=2), encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
