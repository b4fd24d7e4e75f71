"""The sample generator: deterministic, complete, leak-free between splits, and its renderings real."""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from models.catalogue import load_catalogue
from samplegen import FAMILIES, HELDOUT_FAMILIES, TRAIN_FAMILIES, generate_corpus, generate_doc, ocr_noise
from samplegen.profile import train_only_wordings
from samplegen.render import render_pdf, render_photo, render_scan


def _pdf_text(path: Path) -> str:
    doc = pdfium.PdfDocument(str(path))
    try:
        return "".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def _squash(text: str) -> str:
    return "".join(text.split())


def test_same_seed_same_text_other_seed_other_text():
    a = generate_corpus("train", seed=5, per_item=1)
    b = generate_corpus("train", seed=5, per_item=1)
    c = generate_corpus("train", seed=6, per_item=1)
    assert [d.text for d in a] == [d.text for d in b]
    assert sum(x.text != y.text for x, y in zip(a, c)) > len(a) * 0.9


def test_document_does_not_depend_on_the_item_filter():
    full = {d.item_code: d.text for d in generate_corpus("test", seed=2, per_item=1)}
    some = generate_corpus("test", seed=2, per_item=1, items=["C5-1", "A1-1"])
    assert [d.text for d in some] == [full["C5-1"], full["A1-1"]]


@pytest.mark.parametrize("split", ["train", "calib", "test"])
def test_every_item_gets_per_item_docs(split):
    docs = generate_corpus(split, seed=1, per_item=2)
    codes = load_catalogue().codes
    assert [d.item_code for d in docs] == [c for c in codes for _ in range(2)]
    assert all(d.text.strip() and d.split == split for d in docs)
    allowed = set(HELDOUT_FAMILIES if split == "test" else TRAIN_FAMILIES)
    assert {d.family for d in docs} <= allowed


def test_families_split_into_train_and_heldout():
    assert len(TRAIN_FAMILIES) >= 8 and len(HELDOUT_FAMILIES) >= 3
    assert not set(TRAIN_FAMILIES) & set(HELDOUT_FAMILIES)
    with pytest.raises(ValueError):
        generate_doc("C5-1", "test", 1, 0, family="form")
    assert set(FAMILIES) == set(TRAIN_FAMILIES) | set(HELDOUT_FAMILIES)


def test_heldout_split_prints_no_train_only_wording():
    docs = generate_corpus("test", seed=4, per_item=3)
    leaks = []
    for d in docs:
        phrases, names = train_only_wordings(d.item_code)
        leaks += [(d.item_code, p) for p in phrases if p in d.text]
        assert d.title == "" or d.title not in names, (d.item_code, d.title)
    assert not leaks, leaks[:5]


def test_tags_are_what_is_printed():
    for d in generate_corpus("calib", seed=3, per_item=1):
        for value in (d.project_name, d.doc_number, d.title, *d.units.values()):
            assert value in d.text
        if d.doc_date:
            assert d.doc_date[:4] in d.text or "〇" in d.text or "二" in d.text


def test_ten_thousand_texts_are_fast():
    started = time.perf_counter()
    n = len(generate_corpus("train", seed=9, per_item=31))
    assert n >= 10_000
    assert time.perf_counter() - started < 30


def test_ocr_noise_damages_text_reproducibly():
    text = generate_doc("C5-1", "train", 1, 0).text
    assert ocr_noise(text, random.Random(1), 0) == text
    noisy = ocr_noise(text, random.Random(1), 2)
    assert noisy != text and noisy == ocr_noise(text, random.Random(1), 2)


def test_text_pdf_has_text_layer_with_title_and_is_reproducible(tmp_path):
    doc = generate_doc("A5-2", "train", 3, 0, family="permit", title="建设工程施工许可证")
    a = render_pdf(doc, tmp_path / "a.pdf", rng=random.Random(1))
    b = render_pdf(doc, tmp_path / "b.pdf", rng=random.Random(1))
    assert a.read_bytes() == b.read_bytes()
    assert "建设工程施工许可证" in _squash(_pdf_text(a))


def test_scan_pdf_has_no_text_layer(tmp_path):
    doc = generate_doc("C5-1", "train", 3, 0, family="form")
    path = render_scan(doc, tmp_path / "s.pdf", degraded=True, fmt="pdf", rng=random.Random(2))
    assert path.read_bytes().startswith(b"%PDF")
    assert _squash(_pdf_text(path)) == ""


def test_phone_photo_carries_exif_orientation(tmp_path):
    doc = generate_doc("A1-2", "train", 3, 0, family="redhead")
    path = render_photo(doc, tmp_path / "p.jpg", rng=random.Random(3), orientation=6)
    with Image.open(path) as img:
        assert img.getexif().get(0x0112) == 6
        assert img.width > img.height  # stored sideways; upright only after honouring EXIF


def test_corpus_cli_writes_files_and_labels(tmp_path):
    from samplegen.__main__ import main

    out = tmp_path / "corpus"
    assert main(["corpus", "--out", str(out), "--split", "test", "--seed", "3", "--per-item", "1",
                 "--items", "C5-1,A1-1,D-2", "--formats", "text_pdf,txt,tiff"]) == 0
    rows = list(csv.DictReader((out / "labels.csv").open(encoding="utf-8")))
    assert len(rows) == 3 and {r["item_code"] for r in rows} == {"C5-1", "A1-1", "D-2"}
    for r in rows:
        assert (out / r["file"]).stat().st_size > 0
        assert r["item_code"] not in r["file"] and r["family"] not in r["file"]


def test_demo_inbox_has_good_and_bad_files(tmp_path):
    from samplegen.output import inbox_size, write_demo_inbox

    rows = write_demo_inbox(tmp_path / "inbox")
    by_error = {r["expected_error"] for r in rows if r["expected_error"]}
    assert {"empty_file", "corrupt", "encrypted", "unsupported_type", "too_large"} <= by_error
    assert 20 <= len(rows) <= 32 and inbox_size(tmp_path / "inbox") < 5 * 2**20
    assert (tmp_path / "inbox.labels.csv").exists() and not (tmp_path / "inbox" / "labels.csv").exists()
    zero = [r["file"] for r in rows if r["expected_error"] == "empty_file"]
    assert (tmp_path / "inbox" / zero[0]).stat().st_size == 0
    tif = next(r["file"] for r in rows if r["format"] == "tiff")
    with Image.open(tmp_path / "inbox" / tif) as img:
        assert img.n_frames >= 2


def test_a_corpus_can_be_spread_over_a_few_projects():
    items = load_catalogue().codes[:40]
    docs = generate_corpus("test", seed=5, per_item=2, items=items, projects=3)
    named = {d.project_name for d in docs if d.project_name}
    assert 1 < len(named) <= 3
    alone = generate_corpus("test", seed=5, per_item=2, items=items)
    assert len({d.project_name for d in alone if d.project_name}) > 10
    assert [d.item_code for d in docs] == [d.item_code for d in alone]  # same items, same order
