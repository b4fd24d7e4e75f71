"""The hand-written sets stay usable: valid records, catalogue codes, known splits, styles and writers."""

from __future__ import annotations

import json
from pathlib import Path

from models.catalogue import load_catalogue

HANDWRITTEN = Path(__file__).resolve().parents[1] / "data" / "samples" / "handwritten"
DOCUMENTS = HANDWRITTEN / "documents.jsonl"


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


def test_training_texts_cover_every_item_four_times_by_four_writers_and_none_is_an_evaluation_text():
    from pipelines.training import handwritten_split

    catalogue = load_catalogue()
    rows = [json.loads(line) for line in (HANDWRITTEN / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    writers_of: dict[str, set[str]] = {}
    for r in rows:
        assert r["item_code"] in catalogue and len(r["text"]) >= 100
        writers_of.setdefault(r["item_code"], set()).add(r["writer"])
    assert set(writers_of) == set(catalogue.codes) and all(len(w) == 4 for w in writers_of.values())
    evaluation = {json.loads(line)["text"] for line in DOCUMENTS.read_text(encoding="utf-8").splitlines()}
    assert not evaluation & {r["text"] for r in rows}
    split = handwritten_split()
    assert len(split.texts) == len(rows) and set(split.groups) == {f"handwritten:t{i}" for i in range(1, 13)}
