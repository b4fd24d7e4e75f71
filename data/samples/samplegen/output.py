"""Writing corpora and the demo inbox to disk, with labels.csv next to the files.

File names never carry the label (hash or running number), so nothing downstream can cheat by
reading them; the truth lives only in labels.csv.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from samplegen.corpus import generate_corpus, generate_doc
from samplegen.doc import SampleDoc
from samplegen.profile import Split
from samplegen.render import render_mixed, render_pdf, render_photo, render_scan

FORMATS = ("text_pdf", "scan_pdf", "degraded_pdf", "png", "jpg", "tiff", "mixed_pdf", "photo_jpg", "txt")
_EXT = {"text_pdf": ".pdf", "scan_pdf": ".pdf", "degraded_pdf": ".pdf", "png": ".png", "jpg": ".jpg",
        "tiff": ".tif", "mixed_pdf": ".pdf", "photo_jpg": ".jpg", "txt": ".txt"}
LABEL_COLUMNS = ("file", "item_code", "expected_error", "split", "family", "format", "title", "project_name",
                 "doc_number", "doc_date", "discipline", "units")


def write_doc(doc: SampleDoc, path: Path, fmt: str, rng: random.Random, *, degraded: bool | None = None) -> Path:
    """Render ``doc`` in one corpus format; ``degraded`` pins scan damage for png/jpg/tiff (else random)."""
    if fmt == "text_pdf":
        return render_pdf(doc, path, rng=rng)
    if fmt == "scan_pdf":
        return render_scan(doc, path, degraded=False, fmt="pdf", rng=rng)
    if fmt == "degraded_pdf":
        return render_scan(doc, path, degraded=True, fmt="pdf", rng=rng)
    if fmt in ("png", "jpg", "tiff"):
        damaged = rng.random() < 0.5 if degraded is None else degraded
        return render_scan(doc, path, degraded=damaged, fmt=fmt, rng=rng)  # type: ignore[arg-type]
    if fmt == "mixed_pdf":
        return render_mixed(doc, path, rng=rng)
    if fmt == "photo_jpg":
        return render_photo(doc, path, rng=rng)
    if fmt == "txt":
        path.write_text(doc.text, encoding="utf-8")
        return path
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def label_row(name: str, doc: SampleDoc | None, fmt: str, expected_error: str = "") -> dict[str, str]:
    if doc is None:
        return {c: "" for c in LABEL_COLUMNS} | {"file": name, "format": fmt, "expected_error": expected_error}
    return {
        "file": name, "item_code": doc.item_code, "expected_error": expected_error, "split": doc.split,
        "family": doc.family, "format": fmt, "title": doc.title, "project_name": doc.project_name,
        "doc_number": doc.doc_number, "doc_date": doc.doc_date, "discipline": doc.discipline,
        "units": json.dumps(doc.units, ensure_ascii=False, sort_keys=True),
    }


def write_labels(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(LABEL_COLUMNS))
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["file"]))


def write_corpus(out: Path, split: Split, seed: int, per_item: int, formats: list[str],
                 items: list[str] | None = None, *, all_formats: bool = False) -> list[dict[str, str]]:
    """Render a corpus into ``out``: each document in one format (cycled) or, with ``all_formats``, in all."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    docs = generate_corpus(split, seed=seed, per_item=per_item, items=items)
    rows = []
    for i, doc in enumerate(docs):
        for fmt in (formats if all_formats else [formats[i % len(formats)]]):
            name = hashlib.sha1(f"{doc.seed_key}:{fmt}".encode()).hexdigest()[:16] + _EXT[fmt]
            write_doc(doc, out / name, fmt, random.Random(f"{doc.seed_key}:{fmt}"))
            rows.append(label_row(name, doc, fmt))
    write_labels(rows, out / "labels.csv")
    return rows


# --- demo inbox ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxEntry:
    """One planned inbox file: an item rendered in a format, with an optional pinned family."""

    code: str
    fmt: str
    family: str | None = None
    split: Split = "train"
    title: str | None = None


_GOOD: tuple[InboxEntry, ...] = (
    InboxEntry("C5-1", "text_pdf", "form"), InboxEntry("C2-7", "text_pdf", "letter", title="技术核定单"),
    InboxEntry("A1-2", "text_pdf", "redhead"), InboxEntry("A5-2", "text_pdf", "permit"),
    InboxEntry("C4-11", "text_pdf", "test_report"), InboxEntry("B1-4", "text_pdf", "minutes"),
    InboxEntry("C2-2", "text_pdf", "chapters"), InboxEntry("D-7", "text_pdf", "drawing"),
    InboxEntry("C5-20", "text_pdf", "log"), InboxEntry("E1-5", "text_pdf", "acceptance"),
    InboxEntry("B1-8", "text_pdf", "letter"), InboxEntry("C6-16", "degraded_pdf", "test_report"),
    InboxEntry("C7-1", "degraded_pdf", "form"), InboxEntry("A3-7", "scan_pdf", "redhead"),
    InboxEntry("A3-1", "mixed_pdf", "chapters"), InboxEntry("E1-8", "photo_jpg", "permit"),
    InboxEntry("C5-9", "png", "log"), InboxEntry("B1-1", "tiff", "chapters"),
)


def _pdf_bytes_blank() -> bytes:
    from fpdf import FPDF

    from samplegen.render import CREATION_DATE

    pdf = FPDF()
    pdf.set_creation_date(CREATION_DATE)
    pdf.add_page()
    return bytes(pdf.output())


def _encrypted_pdf(plain: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password="dangan-demo", owner_password="dangan-owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in (("[Content_Types].xml", "<Types/>"), ("_rels/.rels", "<Relationships/>"),
                           ("word/document.xml", "<w:document><w:body><w:p><w:r><w:t>隐蔽工程验收记录</w:t></w:r></w:p></w:body></w:document>")):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, body)
    return buf.getvalue()


def _bomb_png(width: int = 40000, height: int = 40000) -> bytes:
    """A 1-bit PNG declaring 1.6 gigapixels whose zlib stream is ~200 kB: a decompression bomb."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    parts = [comp.compress(row * 1000) for _ in range(height // 1000)]
    idat = b"".join(parts) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_demo_inbox(out: Path, seed: int = 11) -> list[dict[str, str]]:
    """A small inbox (~25 files, < 5 MB) of good documents in every format plus typical bad inputs.

    The truth goes to ``<inbox>.labels.csv`` beside the folder, not inside it: an inbox holds only
    what a user would drop there.
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    rows: list[dict[str, str]] = []
    n = 0

    def name(ext: str) -> str:
        nonlocal n
        n += 1
        return f"doc_{n:03d}{ext}"

    for k, e in enumerate(_GOOD):
        doc = generate_doc(e.code, e.split, seed, k, family=e.family, title=e.title)
        if e.fmt == "tiff":  # the demo TIFF must be multi-page: draw until the document runs over a page
            doc = next(d for d in (generate_doc(e.code, e.split, seed, k + 100 * j, family=e.family) for j in range(50))
                       if _pages(d) >= 2)
        fname = f"IMG_{20190512 + k}_{93000 + k * 7:06d}.jpg" if e.fmt == "photo_jpg" else name(_EXT[e.fmt])
        # Clean PNG/TIFF: a noisy scan in a lossless format would blow the 5 MB inbox budget.
        write_doc(doc, out / fname, e.fmt, random.Random(f"{seed}:inbox:{k}"), degraded=False)
        rows.append(label_row(fname, doc, e.fmt))
    # A held-out-style narrative letter and a fielddump, to show the review route.
    for k, (code, fam) in enumerate((("C2-6", "narrative"), ("C6-44", "fielddump"))):
        doc = generate_doc(code, "test", seed, k, family=fam)
        fname = name(".pdf")
        render_pdf(doc, out / fname, rng=random.Random(f"{seed}:inbox:test:{k}"))
        rows.append(label_row(fname, doc, "text_pdf"))
    plain = render_pdf_for_bad_inputs(seed)
    rng = random.Random(f"{seed}:bad")
    bad: list[tuple[str, bytes, str]] = [
        (name(".pdf"), b"", "empty_file"),
        (name(".pdf"), plain[: len(plain) // 3], "corrupt"),
        (name(".pdf"), _encrypted_pdf(plain), "encrypted"),
        (name(".pdf"), _docx_bytes(), "unsupported_type"),
        (name(".jpg"), b"\x00\x17" + bytes(rng.randrange(256) for _ in range(4094)), "corrupt"),
        (name(".png"), _bomb_png(), "too_large"),
        (name(".pdf"), _pdf_bytes_blank(), "no_text"),
        (name(".txt"), "工程名称：滨江花园二期\n这是一个纯文本文件。\n".encode(), "unsupported_type"),
        (name(".dwg"), b"AC1027" + bytes(rng.randrange(256) for _ in range(2042)), "unsupported_type"),
    ]
    for fname, data, code in bad:
        (out / fname).write_bytes(data)
        rows.append(label_row(fname, None, Path(fname).suffix.lstrip("."), expected_error=code))
    write_labels(rows, inbox_labels_path(out))
    return rows


def inbox_labels_path(inbox: Path) -> Path:
    return inbox.with_name(inbox.name + ".labels.csv")


def _pages(doc: SampleDoc) -> int:
    from samplegen.render import render_pdf_bytes

    pdf = pdfium.PdfDocument(render_pdf_bytes(doc))
    try:
        return len(pdf)
    finally:
        pdf.close()


def render_pdf_for_bad_inputs(seed: int) -> bytes:
    """A good text PDF used as raw material for the truncated and encrypted samples."""
    from samplegen.render import render_pdf_bytes

    doc = generate_doc("B1-7", "train", seed, 0, family="letter")
    return render_pdf_bytes(doc, rng=random.Random(f"{seed}:bad-src"))


def inbox_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


__all__ = ["FORMATS", "inbox_size", "write_corpus", "write_demo_inbox", "write_doc"]
