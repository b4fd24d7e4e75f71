"""The CLI end to end on real files: the demo inbox (text PDFs, scans, photos, TIFF, bad inputs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import dangan as _dangan

REPO = Path(__file__).resolve().parents[1]
INBOX = REPO / "data" / "samples" / "inbox"
REQUIRED = {
    "file", "sha256", "status", "error", "pages", "text_source", "ocr_confidence", "stage", "class_code",
    "item_code", "item_name", "confidence", "class_confidence", "route", "candidates", "model_version", "tags",
}

pytestmark = pytest.mark.slow




def _expected() -> dict[str, dict[str, str]]:
    with INBOX.with_name("inbox.labels.csv").open(encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def test_every_file_has_one_record_in_input_order(demo_run):
    out, proc, rows = demo_run
    files = sorted(p.relative_to(INBOX).as_posix() for p in INBOX.rglob("*")
                   if p.is_file() and not p.name.startswith("."))
    got = [r["file"] for r in rows]
    assert got == files
    for r in rows:
        assert REQUIRED <= set(r)
    assert "results:" in proc.stdout and "auto" in proc.stdout


def test_bad_inputs_get_their_error_codes(demo_run):
    _, _, rows = demo_run
    by_file = {r["file"]: r for r in rows}
    for name, row in _expected().items():
        if row.get("expected_error"):
            r = by_file[name]
            assert r["status"] == "error", name
            assert r["error"]["code"] == row["expected_error"], (name, r["error"])
            assert r["error"]["message"]


def test_good_inputs_are_classified(demo_run):
    _, _, rows = demo_run
    by_file = {r["file"]: r for r in rows}
    from models.catalogue import load_catalogue

    cat = load_catalogue()
    good = {n: row for n, row in _expected().items() if row.get("item_code")}
    correct = 0
    for name, row in good.items():
        r = by_file[name]
        assert r["status"] == "ok", (name, r["error"])
        assert r["route"] in ("auto", "class", "review")
        assert not r["out_of_catalogue"], name  # every demo document is an archive document
        assert 0.0 <= r["confidence"] <= 1.0 and len(r["candidates"]) == 5
        assert r["text_source"] in ("text_layer", "ocr", "mixed")
        correct += cat.equivalent(r["item_code"], row["item_code"])
    assert correct / len(good) >= 0.8


def test_csv_parquet_and_volume_catalogue_match_jsonl(demo_run):
    out, _, rows = demo_run
    with (out / "results.csv").open(encoding="utf-8-sig") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["file"] for r in csv_rows] == [r["file"] for r in rows]
    import openpyxl
    import pandas as pd

    assert list(pd.read_parquet(out / "results.parquet")["file"]) == [r["file"] for r in rows]
    wb = openpyxl.load_workbook(out / "volume_catalogue.xlsx", read_only=True)
    header = next(r for r in wb[wb.sheetnames[0]].iter_rows(values_only=True) if r and r[0] == "序号")
    assert list(header[:7]) == ["序号", "文件编号", "责任者", "文件题名", "日期", "页次", "备注"]
    assert "待处理" in wb.sheetnames  # the demo inbox's bad inputs are listed for follow-up
    assert (out / "report.md").read_text(encoding="utf-8").strip()
    assert not list(out.glob("*.part"))


def test_rerun_resumes_without_duplicates(demo_run, test_settings):
    out, _, rows = demo_run
    proc = _dangan(["run", str(INBOX), "--out", str(out), "-q"], test_settings)
    assert proc.returncode == 0
    again = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["file"] for r in again] == [r["file"] for r in rows]
    assert f"resumed {sum(1 for r in rows if r['sha256'] and (r['error'] or {}).get('code') not in ('unreadable', 'ocr_failed', 'internal'))}" in proc.stdout


@pytest.mark.parametrize("argv", [
    ["models", "--home", "H", "list"], ["models", "list", "--home", "H"], ["models", "-v", "--home", "H", "promote", "v1"],
])
def test_common_options_hold_on_either_side_of_an_action(argv):
    from pipelines.cli import build_parser

    args = build_parser().parse_args(argv)
    assert args.home == Path("H")
    assert args.verbose == ("-v" in argv)


def test_usage_errors_exit_non_zero(trained, test_settings, tmp_path):
    proc = _dangan(["run", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], test_settings)
    assert proc.returncode == 2
    assert "not found" in proc.stderr
    proc = _dangan(["run"], test_settings)
    assert proc.returncode == 2


def test_no_model_is_explained(tmp_path):
    from pipelines.settings import Settings

    proc = _dangan(["run", str(INBOX), "--out", str(tmp_path / "o")], Settings(home=tmp_path / "empty-home"))
    assert proc.returncode == 3
    assert "dangan train" in proc.stderr


def test_status_shows_the_recorded_runs(demo_run, test_settings):
    proc = _dangan(["status"], test_settings)
    assert proc.returncode == 0, proc.stderr
    assert "documents" in proc.stdout and "finished" in proc.stdout
    review = sum(1 for r in demo_run[2] if r["status"] == "ok" and r["route"] != "auto")
    assert f"review queue: {review} document(s)" in proc.stdout


def test_auto_filed_originals_are_in_the_archive_store(demo_run, test_settings):
    _, _, rows = demo_run
    archive = Path(test_settings.home) / "archive"
    auto = {r["sha256"] for r in rows if r["route"] == "auto"}
    stored = {p.name.split(".")[0] for p in (archive / "objects").rglob("*") if p.is_file()}
    assert auto and auto <= stored
    links = [p for p in (archive / "view").rglob("*") if p.is_symlink()]
    assert links and all(p.resolve().is_file() for p in links)
    assert all((INBOX / r["file"]).exists() for r in rows)  # the inbox is never modified


def test_documents_record_the_size_of_the_original(demo_run, test_settings):
    from sqlalchemy import select

    from pipelines.db.models import Document
    from pipelines.storage import Database

    _, _, rows = demo_run
    expected = {r["sha256"]: (INBOX / r["file"]).stat().st_size for r in rows if r["sha256"]}
    db = Database.open(test_settings.db_url)
    with db.session() as s:
        recorded = {sha: size for sha, size in s.execute(select(Document.sha256, Document.size_bytes)).all()}
    assert expected and {sha: recorded.get(sha) for sha in expected} == expected
