"""Evaluation metrics on hand-made cases, the report folder, and the evaluation notebook end to end."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.catalogue import load_catalogue
from models.classifier import Candidate, Prediction
from models.evaluation import (
    ABSTAINED,
    correctness,
    evaluate,
    evaluate_predictions,
    expected_calibration_error,
    reliability_diagram,
    risk_coverage_curve,
    score,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "evaluation.ipynb"


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def pred(cat, code: str, conf: float, class_conf: float | None = None, stage_conf: float | None = None) -> Prediction:
    item = cat[code]
    return Prediction(
        item_code=code, item_name=item.name, class_code=item.class_code, class_name=item.class_name,
        stage=item.stage, confidence=conf, class_confidence=conf if class_conf is None else class_conf,
        stage_confidence=(conf if class_conf is None else class_conf) if stage_conf is None else stage_conf,
        candidates=(Candidate(code, item.name, conf),),
    )


# --------------------------------------------------------------------------- risk–coverage
def test_risk_coverage_keeps_ties_together():
    conf = np.array([0.7, 0.9, 0.8, 0.9, 0.7, 0.7])
    ok = np.array([1, 1, 1, 0, 1, 0], dtype=bool)
    c = risk_coverage_curve(conf, ok)
    assert c.threshold.tolist() == [0.9, 0.8, 0.7]  # one point per distinct confidence, descending
    assert c.n_auto.tolist() == [2, 3, 6]
    assert c.n_correct.tolist() == [1, 2, 4]
    np.testing.assert_allclose(c.precision, [1 / 2, 2 / 3, 4 / 6])
    np.testing.assert_allclose(c.coverage, [2 / 6, 3 / 6, 1.0])
    np.testing.assert_allclose(c.risk, 1 - c.precision)
    # The input order of tied documents does not matter.
    flipped = risk_coverage_curve(conf[::-1], ok[::-1])
    np.testing.assert_allclose(flipped.precision, c.precision)


def test_operating_points_on_the_curve():
    conf = np.array([0.99, 0.95, 0.95, 0.9, 0.6, 0.5])
    ok = np.array([1, 1, 1, 1, 0, 1], dtype=bool)
    c = risk_coverage_curve(conf, ok)
    best = c.coverage_at_precision(0.99)
    assert best.threshold == 0.9 and best.n_auto == 4 and best.coverage == pytest.approx(4 / 6) and best.met
    at = c.at(0.93)  # between points: auto-files the 0.99 and both 0.95
    assert at.n_auto == 3 and at.precision == 1.0 and at.threshold == 0.93
    assert c.at(0.995).n_auto == 0 and c.at(0.995).precision is None
    assert c.at(0.0).n_auto == 6 and c.at(0.0).precision == pytest.approx(5 / 6)
    never = c.coverage_at_precision(1.01)
    assert never.threshold is None and never.coverage == 0.0 and never.met is False
    assert 0.0 <= c.aurc <= 1.0


def test_empty_and_all_abstained_curves():
    c = risk_coverage_curve(np.array([0.9, 0.8]), np.array([True, True]), answered=np.array([False, False]))
    assert len(c) == 0 and c.n == 2 and c.aurc == 0.0
    assert c.coverage_at_precision(0.9).threshold is None
    assert c.at(0.5).coverage == 0.0


# ----------------------------------------------------------------------------- calibration
def test_ece_of_a_perfectly_calibrated_toy_is_zero():
    conf = np.array([0.8] * 10 + [0.3] * 10)
    ok = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 7, dtype=bool)
    assert expected_calibration_error(conf, ok) == pytest.approx(0.0, abs=1e-12)
    r = reliability_diagram(conf, ok)
    assert r.ece == pytest.approx(0.0, abs=1e-12) and r.mce == pytest.approx(0.0, abs=1e-12)
    assert sum(r.count) == 20 and len(r.edges) == len(r.count) + 1 == 16
    full = [i for i, k in enumerate(r.count) if k]
    assert [r.accuracy[i] for i in full] == pytest.approx([0.3, 0.8])
    assert all(r.accuracy[i] is None for i in range(len(r.count)) if i not in full)


def test_ece_of_an_overconfident_toy():
    conf = np.full(10, 0.9)
    ok = np.array([1] * 5 + [0] * 5, dtype=bool)
    r = reliability_diagram(conf, ok)
    assert r.ece == pytest.approx(0.4) and r.mce == pytest.approx(0.4)
    assert expected_calibration_error(conf, ok) == pytest.approx(0.4)


# ---------------------------------------------------------------- equivalence, abstentions
def test_same_named_items_are_one_answer_at_every_level(cat):
    assert cat.equivalent("B2-1", "C3-1") and cat["B2-1"].class_code != cat["C3-1"].class_code
    ev = evaluate_predictions(cat, ["B2-1", "C3-1"], [pred(cat, "C3-1", 0.9), pred(cat, "B2-1", 0.9)], item_threshold=0.5)
    for level in ("item", "class", "stage"):
        assert ev.levels[level].accuracy == 1.0
    rows = {r.class_code: r for r in ev.per_class}
    assert rows["B2"].support == rows["B2"].predicted == 1 and rows["B2"].precision == rows["B2"].recall == 1.0
    assert rows["C3"].support == rows["C3"].predicted == 1 and rows["C3"].recall == 1.0
    assert ev.confusion.correct == 2  # both on the diagonal


def test_abstentions_are_neither_right_nor_auto(cat):
    truth = ["C5-1", "C5-1", "C5-2", "A1-1"]
    preds = [pred(cat, "C5-1", 0.99), replace(pred(cat, "C5-1", 0.99), item_code=""),
             replace(pred(cat, "C5-2", 0.98), item_code=None), pred(cat, "A1-2", 0.2)]
    ev = evaluate_predictions(cat, truth, preds, item_threshold=0.9, class_threshold=0.9)
    assert ev.n == 4 and ev.abstained == 2
    assert ev.levels["item"].accuracy == 0.25  # abstentions stay in the denominator
    assert ev.levels["class"].accuracy == 0.5  # A1-2 for A1-1: right class
    assert ev.levels["item"].answered == 2 and ev.levels["item"].answered_accuracy == 0.5
    item_at = ev.at_threshold["item"]
    assert item_at.n_auto == 1 and item_at.coverage == 0.25 and item_at.precision == 1.0
    # Calibration only over answered documents: (0.99 right) and (0.2 wrong).
    assert ev.levels["item"].ece == pytest.approx(expected_calibration_error(np.array([0.99, 0.2]), np.array([1, 0])))
    cm = ev.confusion
    assert cm.columns[-1] == ABSTAINED
    c5 = cm.classes.index("C5")
    assert cm.counts[c5, -1] == 2 and cm.counts[c5, c5] == 1 and cm.counts.sum() == 4
    rows = {r.class_code: r for r in ev.per_class}
    assert rows["C5"].abstained == 2 and rows["C5"].support == 3 and rows["C5"].auto_share == pytest.approx(1 / 3)
    assert rows["A1"].auto_share == 0.0 and rows["A1"].auto_precision is None
    # The compat scorer agrees, abstentions included.
    m = score(cat, [p.item_code for p in preds], [p.confidence for p in preds], truth, 0.9)
    assert m == ev.metrics() and m.abstained == 2 and m.auto_coverage == 0.25


def test_levels_use_their_own_confidence(cat):
    truth = ["C5-1", "C5-1", "C6-1"]
    preds = [pred(cat, "C5-2", 0.4, class_conf=0.95), pred(cat, "C5-1", 0.9, class_conf=0.97), pred(cat, "C6-1", 0.8)]
    ev = evaluate_predictions(cat, truth, preds, item_threshold=0.85, class_threshold=0.9)
    assert ev.levels["item"].accuracy == pytest.approx(2 / 3) and ev.levels["class"].accuracy == 1.0
    assert ev.at_threshold["class"].n_auto == 2 and ev.at_threshold["class"].precision == 1.0
    assert ev.curves["class"].threshold.tolist() == [0.97, 0.95, 0.8]
    assert ev.levels["class"].mean_confidence == pytest.approx((0.95 + 0.97 + 0.8) / 3)


def test_per_class_table_and_confusion(cat):
    truth = ["C5-1", "C5-2", "C5-3", "C6-1", "C6-1"]
    codes = ["C5-1", "C6-1", "C5-1", "C6-1", "C6-2"]
    ev = evaluate(cat, truth, codes, [0.95, 0.6, 0.7, 0.99, 0.5], item_threshold=0.9)
    rows = {r.class_code: r for r in ev.per_class}
    assert [r.class_code for r in ev.per_class] == cat.class_codes  # all 26, catalogue order
    c5, c6 = rows["C5"], rows["C6"]
    assert (c5.support, c5.predicted, c6.support, c6.predicted) == (3, 2, 2, 3)
    assert c5.item_accuracy == pytest.approx(1 / 3) and c5.recall == pytest.approx(2 / 3) and c5.precision == 1.0
    assert c6.item_accuracy == 0.5 and c6.recall == 1.0 and c6.precision == pytest.approx(2 / 3)
    assert c5.auto_share == pytest.approx(1 / 3) and c5.mean_confidence == pytest.approx((0.95 + 0.6 + 0.7) / 3)
    assert rows["A1"].support == 0 and rows["A1"].recall is None and rows["A1"].precision is None
    cm = ev.confusion
    i5, i6 = cm.classes.index("C5"), cm.classes.index("C6")
    assert cm.counts[i5, i5] == 2 and cm.counts[i5, i6] == 1 and cm.counts[i6, i6] == 2
    assert cm.counts.shape == (26, 27) and cm.correct == 4
    assert ev.levels["class"].accuracy == pytest.approx(cm.correct / ev.n)
    json.dumps(ev.as_dict())  # serialisable as it is


def test_unknown_codes_are_refused(cat):
    with pytest.raises(ValueError, match="not in the catalogue"):
        correctness(cat, ["C5-1"], ["Z9-9"])
    with pytest.raises(ValueError, match="not in the catalogue"):
        correctness(cat, ["Z9-9"], ["C5-1"])
    with pytest.raises(ValueError):
        correctness(cat, ["C5-1"], ["C5-1", "C5-2"])


# ----------------------------------------------------------------------------------- report
def _toy_predictions(cat, n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    codes = cat.codes
    truth = [codes[i] for i in rng.integers(0, len(codes), n)]
    preds = []
    for i, t in enumerate(truth):
        conf = float(rng.uniform(0.3, 1.0))
        code = t if rng.uniform() < conf else codes[int(rng.integers(0, len(codes)))]
        p = pred(cat, code, conf, class_conf=min(1.0, conf + 0.05), stage_conf=min(1.0, conf + 0.1))
        preds.append(replace(p, item_code="") if i % 17 == 0 else p)
    base = ([codes[int(j)] for j in rng.integers(0, len(codes), n)], rng.uniform(0, 1, n).tolist())
    return truth, preds, base


@pytest.mark.parametrize("with_font", [True, False])
def test_write_evaluation_report_writes_every_file(cat, tmp_path, monkeypatch, with_font):
    from PIL import Image

    from models import reports

    if not with_font:
        monkeypatch.setattr(reports, "cjk_font", lambda: None)
    truth, preds, base = _toy_predictions(cat)
    out = tmp_path / "report"
    rep = reports.write_evaluation_report(
        out, cat, truth, preds, item_threshold=0.9, class_threshold=0.85, target_precision=0.95,
        baseline={"paperless-ngx style": base}, title="测试 toy",
    )
    files = rep.files
    assert {p.name for p in files.values()} == set(reports.FILES.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(reports.FILES.values())  # no temporary leftovers
    for key in ("confusion_png", "risk_coverage", "reliability"):
        with Image.open(files[key]) as im:
            im.verify()
        with Image.open(files[key]) as im:
            assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 300
    raw = files["per_class"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [r["class_code"] for r in rows] == cat.class_codes and rows[0]["class_name"] == cat.class_name("A1")
    assert sum(int(r["support"]) for r in rows) == len(truth)
    cm_rows = list(csv.reader(files["confusion_csv"].read_text(encoding="utf-8-sig").splitlines()))
    assert cm_rows[0][-1] == "abstained" and len(cm_rows) == 27 and len(cm_rows[1]) == 2 + 27
    assert sum(int(v) for r in cm_rows[1:] for v in r[2:]) == len(truth)
    metrics = json.loads(files["metrics"].read_text(encoding="utf-8"))
    assert metrics["summary"]["n"] == len(truth) and metrics["summary"]["abstained"] == rep.evaluation.abstained > 0
    assert set(metrics["evaluation"]["levels"]) == {"item", "class", "stage"}
    assert "paperless-ngx style" in metrics["baselines"]
    assert metrics["evaluation"]["at_target"]["item"]["target_precision"] == 0.95
    md = files["report"].read_text(encoding="utf-8")
    for name in reports.FILES.values():
        if name != "report.md":
            assert f"({name})" in md
    assert "测试 toy" in md and "paperless-ngx style" in md
    assert rep.metrics == rep.evaluation.metrics() and rep.summary.count("\n") >= 3
    if not with_font:
        assert rep.cjk_font is None and "No CJK font" in md


def test_report_refuses_an_empty_set(cat, tmp_path):
    from models.reports import write_evaluation_report

    with pytest.raises(ValueError):
        write_evaluation_report(tmp_path, cat, [], [], item_threshold=0.9)


def test_a_cjk_font_is_found_when_one_is_installed():
    import shutil
    import subprocess

    from models.reports import cjk_font

    if shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout.strip():
        assert cjk_font() is not None
    else:  # no CJK font on this machine: the report falls back to class codes
        assert cjk_font() is None


# --------------------------------------------------------------------------------- notebook
@pytest.mark.slow
def test_evaluation_notebook_runs_clean(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "nb-report"
    monkeypatch.setenv("DANGAN_NB_PER_ITEM", "4")
    monkeypatch.setenv("DANGAN_NB_MODEL", "train")
    monkeypatch.setenv("DANGAN_NB_OUT", str(out))
    monkeypatch.setenv("DANGAN_HOME", str(tmp_path / "home"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 3  # risk–coverage, reliability, confusion
    assert any("text/html" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))  # per-class table
    for name in ("metrics.json", "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png",
                 "risk_coverage.png", "reliability.png", "report.md"):
        assert (out / name).is_file(), name
    assert seconds < 300, f"the notebook took {seconds:.0f} s"
