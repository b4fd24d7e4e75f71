"""The hand-written evaluation set stays usable: valid records, catalogue codes, known splits and styles."""

from __future__ import annotations

import json
from pathlib import Path

from models.catalogue import load_catalogue

DOCUMENTS = Path(__file__).resolve().parents[1] / "data" / "samples" / "handwritten" / "documents.jsonl"


def test_every_record_is_a_labelled_document_of_a_known_split_and_style():
    catalogue = load_catalogue()
    rows = [json.loads(line) for line in DOCUMENTS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(catalogue)  # one per item, as written (six moved to the item that names them)
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["split"] for r in rows} == {"dev", "test"}
    assert {r["style"] for r in rows} == {"form", "approval", "excerpt", "ocr", "localname"}
    assert all(r["item_code"] in catalogue and len(r["text"]) >= 100 for r in rows)
    moved = [r for r in rows if "relabelled" in r]
    assert len(moved) == 6 and all(r["relabelled"].startswith("written as ") for r in moved)
