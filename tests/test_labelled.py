"""Training from an archive's own catalogued files, promoting versions, and `dangan evaluate`."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from models.catalogue import load_catalogue
from pipelines.labelled import LabelledDataError, LabelledText, load_labelled, stratified_split

ITEMS = {"C5-1": "C5-1 隐蔽工程验收记录", "C2-7": "C2-7", "A1-2": "A1-2 可研批复", "E1-8": "E1-8"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A small catalogued archive: text PDFs in folders named by item code, in several families."""
    from samplegen import generate_doc
    from samplegen.render import render_pdf

    root = tmp_path_factory.mktemp("archive")
    rng = random.Random(5)
    for code, folder in ITEMS.items():
        d = root / "项目甲" / folder
        d.mkdir(parents=True)
        for k in range(6):
            doc = generate_doc(code, "test", seed=77, k=k)
            render_pdf(doc, d / f"{code}_{k}.pdf", rng=rng)
    (root / "项目甲" / "说明.txt").write_text("not under an item folder: ignored", encoding="utf-8")
    return root


def test_folder_tree_and_csv_give_the_same_labels(archive, tmp_path):
    cat = load_catalogue()
    tree = load_labelled(archive, cat)
    assert len(tree) == 24 and {f.item_code for f in tree} == set(ITEMS)
    table = tmp_path / "labels.csv"
    with table.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "item_code", "note"])
        for f in tree:
            w.writerow([os.path.relpath(f.path, tmp_path), f.item_code.lower(), "x"])
    assert sorted((f.path, f.item_code) for f in load_labelled(table, cat)) == sorted((f.path, f.item_code) for f in tree)
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text("\n".join(json.dumps({"file": str(f.path), "item_code": f.item_code}) for f in tree), encoding="utf-8")
    assert len(load_labelled(jsonl, cat)) == 24


def test_unknown_codes_and_empty_sets_are_usage_errors(tmp_path):
    cat = load_catalogue()
    bad = tmp_path / "bad.csv"
    bad.write_text("file,item_code\na.pdf,Z9-9\n", encoding="utf-8")
    with pytest.raises(LabelledDataError, match="not in the catalogue"):
        load_labelled(bad, cat)
    (tmp_path / "misc").mkdir()
    with pytest.raises(LabelledDataError):
        load_labelled(tmp_path / "misc", cat)


def test_split_keeps_copies_together_and_holds_out_every_item():
    docs = [LabelledText(f"{c}-{k}", c, "t", f"{c}{k % 5}") for c in ("C5-1", "A1-2") for k in range(10)]
    docs.append(LabelledText("one", "E1-8", "t", "solo"))
    parts = stratified_split(docs, seed=1)
    where = {}
    for split, items in parts.items():
        for d in items:
            assert where.setdefault(d.sha256, split) == split  # a duplicate never crosses splits
    assert {d.item_code for d in parts["test"]} == {"C5-1", "A1-2"}
    assert [d.display for d in parts["train"] if d.item_code == "E1-8"] == ["one"]


def _dangan(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DANGAN_HOME=str(home), DANGAN_WORKERS="2")
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_train_promote_evaluate(archive, tmp_path):
    home = tmp_path / "home"
    proc = _dangan(["train", str(archive), "--no-seed", "--no-activate"], home)
    assert proc.returncode == 0, proc.stderr
    assert "held-out" in proc.stdout and "not activated" in proc.stdout
    listing = _dangan(["models"], home)
    assert "v0001" in listing.stdout and "* v0001" not in listing.stdout
    assert _dangan(["evaluate", str(archive), "--out", str(tmp_path / "r")], home).returncode == 3  # nothing active
    assert _dangan(["models", "promote", "v0099"], home).returncode == 2
    assert _dangan(["models", "promote", "v0001"], home).returncode == 0
    assert "* v0001" in _dangan(["models", "list"], home).stdout

    report = tmp_path / "report"
    proc = _dangan(["evaluate", str(archive), "--out", str(report)], home)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["summary"]["n"] == 24 and metrics["summary"]["item_accuracy"] > 0.5
    for name in ("per_class.csv", "confusion_matrix.csv", "risk_coverage.png", "reliability.png"):
        assert (report / name).stat().st_size > 0, name


def test_item_labels_as_people_write_them():
    """Registers and folder names write codes in full width, with other dashes, followed by the
    name, or give only the item's name: all of them mean the catalogue item."""
    from models.catalogue import load_catalogue

    cat = load_catalogue()
    for label in ("C5-1", "c5-1", "Ｃ５－１", "C5—1", "C5_1", "C5-1 隐蔽工程验收记录", "C5-1隐蔽工程验收记录",
                  "隐蔽工程验收记录", " 隐蔽工程验收记录 "):
        assert cat.resolve(label) == "C5-1", label
    assert cat.resolve("d－10") == "D-10" and cat.resolve("C5-12") == "C5-12"
    assert cat.equivalent(cat.resolve("工程开工报审表"), "C3-1")  # a shared name: either of its items
    for label in ("C", "C5", "施工文件", "X1-1", "C5-999", "隐蔽工程"):
        assert cat.resolve(label) is None, label


def test_a_register_with_names_and_full_width_codes_is_read(tmp_path):
    from models.catalogue import load_catalogue
    from pipelines.labelled import load_labelled

    for name in ("a.pdf", "b.pdf", "c.pdf"):
        (tmp_path / name).write_bytes(b"%PDF-1.4")
    (tmp_path / "register.csv").write_text(
        "file,item_code\na.pdf,Ｃ５－１\nb.pdf,隐蔽工程验收记录\nc.pdf,C5-14 混凝土浇灌申请书\n", encoding="utf-8")
    got = {f.display: f.item_code for f in load_labelled(tmp_path / "register.csv", load_catalogue())}
    assert got == {"a.pdf": "C5-1", "b.pdf": "C5-1", "c.pdf": "C5-14"}
