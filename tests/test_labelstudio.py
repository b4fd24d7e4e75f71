"""Label Studio interop (pipelines/labelstudio.py) on a temporary SQLite database: the review queue out as
tasks with predictions, annotations back in as ``import`` labels. No model: results are recorded directly."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.catalogue import load_catalogue
from pipelines import labelstudio as ls
from pipelines.db import repository as repo
from pipelines.db.engine import default_url
from pipelines.db.review import QueueFilters, review_queue
from pipelines.results import CandidateOut, ErrorInfo, FileResult, TagsOut
from pipelines.storage import Database

CAT = load_catalogue()


def sha(n: int | str) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def result(n: int, item: str, confidence: float, route: str, *, alt: str = "C5-2", ooc: bool = False) -> FileResult:
    entry = CAT[item]
    return FileResult(
        file=f"/inbox/{n}.pdf", sha256=sha(n), status="ok", pages=1, text_source="text", stage=entry.stage,
        class_code=entry.class_code, class_name=entry.class_name, item_code=item, item_name=entry.name,
        confidence=confidence, class_confidence=0.9, route=route, out_of_catalogue=ooc, model_version="m1",
        candidates=[CandidateOut(item_code=item, item_name=entry.name, confidence=confidence),
                    CandidateOut(item_code=alt, item_name=CAT[alt].name, confidence=round(1 - confidence, 3))],
        tags=TagsOut(project_name="某某大厦"), text=f"文件 {n}：{entry.name}",
    )


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def db(home):  # type: ignore[no-untyped-def]
    """A migrated SQLite database with three queued documents (1-3), one auto-filed (4), one error (5)."""
    Session = Database.open(default_url(home)).session
    results = [
        result(1, "C5-1", 0.41, "review"),
        result(2, "C5-2", 0.72, "class", alt="C5-1"),
        result(3, "A1-1", 0.20, "review", ooc=True),
        result(4, "C1-1", 0.99, "auto"),
        FileResult(file="/inbox/5.pdf", sha256=sha(5), status="error",
                   error=ErrorInfo(code="ocr_failed", message="no text"), model_version="m1"),
    ]
    with Session() as s:
        run_id = repo.start_run(s, inputs=["/inbox"], model_version="m1")
        repo.record_results(s, run_id, results, {r.sha256: r.text for r in results if r.text},
                            sizes={r.sha256: 100 for r in results})
        repo.finish_run(s, run_id)
    return Session


def doc_id(Session, n: int) -> int:  # type: ignore[no-untyped-def]
    with Session() as s:
        found = repo.document_id(s, sha(n))
    assert found is not None
    return found


def annotate(task: dict, value: str | list[str], *, by: str = "anna@example.com", cancelled: bool = False,
             at: str = "2026-01-05T10:00:00.000000Z", ann_id: int = 1) -> dict:
    """Add an annotation to a task the way Label Studio's JSON export writes it."""
    values = [value] if isinstance(value, str) else value
    task.setdefault("annotations", []).append({
        "id": ann_id, "completed_by": {"id": 7, "email": by, "first_name": "", "last_name": ""},
        "result": [{"id": "r1", "from_name": "item", "to_name": "text", "type": "choices", "origin": "manual",
                    "value": {"choices": values}}],
        "was_cancelled": cancelled, "ground_truth": False, "created_at": at, "updated_at": at, "lead_time": 3.2,
        "task": task.get("id"),
    })
    return task


def as_exported(tasks: list[dict]) -> list[dict]:
    """Tasks as Label Studio exports them after import: with ids."""
    out = copy.deepcopy(tasks)
    for i, t in enumerate(out, start=1):
        t["id"] = 100 + i
    return out


def by_doc(tasks: list[dict]) -> dict[int, dict]:
    return {t["data"]["document_id"]: t for t in tasks}


# ---------------------------------------------------------------------------------------------- config


def test_labeling_config_parses_and_offers_every_catalogue_item():
    root = ET.fromstring(ls.labeling_config(CAT))
    choices = root.find("Choices")
    assert choices is not None and choices.get("name") == ls.CONTROL and choices.get("choice") == "single"
    text = root.find("Text")
    assert text is not None and choices.get("toName") == text.get("name") == ls.TEXT_OBJECT
    assert text.get("value") == "$text"
    values = [c.get("value") for c in choices.findall("Choice")]
    assert len(values) == len(set(values)) == len(CAT) + 1
    assert ls.NONE_CHOICE in values
    assert {v.split()[0] for v in values if v != ls.NONE_CHOICE} == set(CAT.codes)
    assert "C5-1 隐蔽工程验收记录" in values
    assert root.find("Image") is None
    with_image = ET.fromstring(ls.labeling_config(CAT, image=True))
    assert with_image.find("Image").get("value") == "$image"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- export


def test_export_has_queued_documents_only_with_predictions(db, tmp_path):
    with db() as s:
        tasks = ls.export_tasks(s, catalogue=CAT, image_url=lambda i: f"http://dangan.local/documents/{i}/page/1.png")
    assert [t["data"]["sha256"] for t in tasks] == [sha(3), sha(1), sha(2)]  # lowest confidence first
    config_values = {c.get("value") for c in ET.fromstring(ls.labeling_config(CAT)).iter("Choice")}
    expected = {sha(1): ("C5-1", 0.41), sha(2): ("C5-2", 0.72), sha(3): ("A1-1", 0.20)}
    for task in tasks:
        data = task["data"]
        assert data["document_id"] == doc_id(db, int(data["path"].split("/")[-1].split(".")[0]))
        assert data["text"].startswith("文件 ") and data["path"].startswith("/inbox/")
        assert data["image"] == f"http://dangan.local/documents/{data['document_id']}/page/1.png"
        assert data["model_version"] == "m1" and data["prediction_id"]
        code, score = expected[data["sha256"]]
        [prediction] = task["predictions"]
        assert prediction["model_version"] == "m1" and prediction["score"] == pytest.approx(score)
        [region] = prediction["result"]
        assert region["from_name"] == "item" and region["to_name"] == "text" and region["type"] == "choices"
        assert region["value"] == {"choices": [ls.choice_value(CAT, code)]}
        assert region["value"]["choices"][0] in config_values
        assert len(task["meta"]["candidates"]) == 2
    assert by_doc(tasks)[doc_id(db, 3)]["meta"]["out_of_catalogue"] is True

    out = tmp_path / "export" / "tasks.json"
    ls.write_tasks(out, tasks)
    assert json.loads(out.read_text(encoding="utf-8")) == tasks
    assert not list(out.parent.glob("*.part"))

    with db() as s:
        only_c5 = ls.export_tasks(s, QueueFilters(class_code="C5"), catalogue=CAT, page_size=1)  # paging too
        assert [t["data"]["sha256"] for t in only_c5] == [sha(1), sha(2)]
        assert ls.export_tasks(s, QueueFilters(model_version="m2"), catalogue=CAT) == []


# ---------------------------------------------------------------------------------------------- import


def test_round_trip_writes_import_labels_with_audit_and_empties_the_queue(db, tmp_path):
    with db() as s:
        tasks = as_exported(ls.export_tasks(s, catalogue=CAT))
    d1, d2, d3 = doc_id(db, 1), doc_id(db, 2), doc_id(db, 3)
    t = by_doc(tasks)
    annotate(t[d1], ls.choice_value(CAT, "C5-1"))  # agrees with the model
    annotate(t[d2], ls.choice_value(CAT, "C5-1"), by="bo@example.com")  # corrects it
    annotate(t[d3], ls.NONE_CHOICE)  # not an archive document
    path = tmp_path / "project-1-at-2026-01-05.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")

    with db() as s:
        outcome = ls.import_annotations(s, path, actor="importer", catalogue=CAT)
    assert (outcome.tasks, outcome.imported, outcome.unchanged, outcome.conflicts) == (3, 3, 0, 0)

    with db() as s:
        labels = {d: repo.current_label(s, d) for d in (d1, d2, d3)}
        assert {d: (lab.item_code, lab.source) for d, lab in labels.items()} == {
            d1: ("C5-1", "import"), d2: ("C5-1", "import"), d3: (None, "import"),
        }
        assert labels[d2].created_by == "importer"
        assert "Label Studio" in labels[d2].reason and "bo@example.com" in labels[d2].reason
        assert labels[d2].prediction_id == t[d2]["data"]["prediction_id"]
        [event] = repo.audit_trail(s, entity_type="document", entity_id=d2)
        assert (event.actor, event.action, event.new["item_code"], event.new["source"]) == (
            "importer", "label.set", "C5-1", "import")
        assert review_queue(s, QueueFilters()) == ([], 0)

    with db() as s:  # the same file again changes nothing
        again = ls.import_annotations(s, path, actor="importer", catalogue=CAT)
    assert (again.imported, again.unchanged) == (0, 3)


def test_cancelled_annotations_are_ignored(db):
    with db() as s:
        tasks = as_exported(ls.export_tasks(s, catalogue=CAT))
    d1, d2 = doc_id(db, 1), doc_id(db, 2)
    t = by_doc(tasks)
    annotate(t[d1], ls.choice_value(CAT, "C5-2"), at="2026-01-05T09:00:00Z", ann_id=1)
    annotate(t[d1], ls.choice_value(CAT, "A1-1"), at="2026-01-05T11:00:00Z", ann_id=2, cancelled=True)  # newer
    annotate(t[d2], ls.choice_value(CAT, "C5-1"), cancelled=True)  # nothing else
    with db() as s:
        outcome = ls.import_annotations(s, tasks, actor="importer", catalogue=CAT)
        assert (outcome.imported, outcome.cancelled, outcome.unannotated) == (1, 1, 1)
        assert repo.current_label(s, d1).item_code == "C5-2"  # type: ignore[union-attr]
        assert repo.current_label(s, d2) is None
        assert d2 in {r.document_id for r in review_queue(s, QueueFilters())[0]}


def test_latest_annotation_wins(db):
    with db() as s:
        tasks = as_exported(ls.export_tasks(s, catalogue=CAT))
    d1 = doc_id(db, 1)
    task = by_doc(tasks)[d1]
    annotate(task, ls.choice_value(CAT, "C5-2"), at="2026-01-05T12:00:00Z", ann_id=2, by="late@example.com")
    annotate(task, ls.choice_value(CAT, "C5-1"), at="2026-01-05T08:00:00Z", ann_id=1, by="early@example.com")
    with db() as s:
        ls.import_annotations(s, [task], actor="importer", catalogue=CAT)
        label = repo.current_label(s, d1)
    assert label is not None and label.item_code == "C5-2" and "late@example.com" in (label.reason or "")


def test_reviewer_labels_are_kept_unless_asked(db):
    d1 = doc_id(db, 1)
    with db() as s:
        tasks = as_exported(ls.export_tasks(s, catalogue=CAT))
        repo.set_label(s, d1, "C5-2", user="rev", reason="checked the original", expected_version=0)
    annotate(by_doc(tasks)[d1], ls.choice_value(CAT, "A1-1"))
    with db() as s:
        outcome = ls.import_annotations(s, tasks, actor="importer", catalogue=CAT)
        assert (outcome.imported, outcome.skipped_reviewer) == (0, 1)
        assert any("rev" in p for p in outcome.problems)
        label = repo.current_label(s, d1)
        assert label is not None and (label.item_code, label.source) == ("C5-2", "reviewer")

        outcome = ls.import_annotations(s, tasks, actor="importer", catalogue=CAT, overwrite_reviewer=True)
        assert (outcome.imported, outcome.skipped_reviewer) == (1, 0)
        history = repo.label_history(s, d1)
        assert [(h.item_code, h.source, h.is_current) for h in history] == [
            ("C5-2", "reviewer", False), ("A1-1", "import", True)]


def test_auto_label_is_superseded_but_the_same_item_is_unchanged(db):
    d4 = doc_id(db, 4)  # auto-filed as C1-1: not exported, but an import may still name it
    task = {"id": 9, "data": {"document_id": d4, "sha256": sha(4)}}
    annotate(task, ls.choice_value(CAT, "C1-1"))
    with db() as s:
        assert ls.import_annotations(s, [task], actor="importer", catalogue=CAT).unchanged == 1
        task["annotations"][0]["result"][0]["value"]["choices"] = [ls.choice_value(CAT, "C1-2")]
        assert ls.import_annotations(s, [task], actor="importer", catalogue=CAT).imported == 1
        label = repo.current_label(s, d4)
    assert label is not None and (label.item_code, label.source, label.version) == ("C1-2", "import", 2)


def test_unknown_choices_and_documents_are_counted(db):
    d1, d2, d3 = doc_id(db, 1), doc_id(db, 2), doc_id(db, 3)
    tasks = [
        annotate({"id": 1, "data": {"document_id": d1, "sha256": sha(1)}}, "Z9-9 不存在的条目"),
        annotate({"id": 2, "data": {"document_id": d2}}, [ls.choice_value(CAT, "C5-1"), ls.choice_value(CAT, "C5-2")]),
        annotate({"id": 3, "data": {"document_id": 999_999, "sha256": sha("nope")}}, ls.choice_value(CAT, "C5-1")),
        annotate({"id": 4, "data": {"text": "no ids at all"}}, ls.choice_value(CAT, "C5-1")),
        # Another database's document id, but a sha256 this one knows: found by its sha256.
        annotate({"id": 5, "data": {"document_id": d1, "sha256": sha(3)}}, "A1-1"),  # bare code is enough
        {"id": 6, "data": {"document_id": d2}, "annotations": []},
    ]
    with db() as s:
        outcome = ls.import_annotations(s, tasks, actor="importer", catalogue=CAT)
        assert (outcome.unknown_choice, outcome.unknown_document, outcome.imported, outcome.unannotated) == (
            2, 2, 1, 1)
        assert repo.current_label(s, d3).item_code == "A1-1"  # type: ignore[union-attr]
        assert repo.current_label(s, d1) is None and repo.current_label(s, d2) is None
    assert any("Z9-9" in p for p in outcome.problems)
    assert "unknown choice 2" in outcome.summary()


def test_json_min_export_is_accepted(db, tmp_path):
    d1 = doc_id(db, 1)
    rows = [{"id": 101, "document_id": d1, "sha256": sha(1), "text": "…", "item": ls.choice_value(CAT, "C5-2"),
             "annotator": "anna@example.com", "annotation_id": 5, "created_at": "2026-01-05T10:00:00Z",
             "updated_at": "2026-01-05T10:00:00Z", "lead_time": 2.0}]
    path = tmp_path / "min.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with db() as s:
        outcome = ls.import_annotations(s, path, actor="importer", catalogue=CAT)
        label = repo.current_label(s, d1)
    assert outcome.imported == 1
    assert label is not None and label.item_code == "C5-2" and "anna@example.com" in (label.reason or "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"data": {"document_id": 1}, ', "not valid JSON (line 1"),
        ("42", "expected a JSON array"),
        ('["task"]', "record 1 is str"),
        ('[{"id": 3, "data": {}, "annotations": {"result": []}}]', "task 3: \"annotations\" must be a list"),
        ('[{"id": 4, "data": {}, "annotations": [{"result": "C5-1"}]}]', "task 4: annotation result is str"),
    ],
)
def test_malformed_files_get_a_clear_error(db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with db() as s, pytest.raises(ls.LabelStudioFormatError, match=message.replace("(", r"\(")) as info:
        ls.import_annotations(s, path, actor="importer", catalogue=CAT)
    assert isinstance(info.value, ValueError)


def test_missing_and_binary_files_get_a_clear_error(db, tmp_path):
    with db() as s:
        with pytest.raises(ls.LabelStudioFormatError, match="cannot read"):
            ls.import_annotations(s, tmp_path / "missing.json", actor="importer", catalogue=CAT)
        (tmp_path / "x.json").write_bytes(b"\xff\xfe\x00garbage")
        with pytest.raises(ls.LabelStudioFormatError, match="not UTF-8"):
            ls.import_annotations(s, tmp_path / "x.json", actor="importer", catalogue=CAT)


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def clean_env() -> Iterator[None]:
    """The CLI sets Prefect and Dask variables in os.environ: put them back afterwards."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_cli_export_then_import(db, home, tmp_path, capsys, clean_env):
    from pipelines.cli import main

    out, config = tmp_path / "ls" / "tasks.json", tmp_path / "ls" / "config.xml"
    assert main(["labelstudio", "export", str(out), "--config", str(config), "--class-code", "C5",
                 "--home", str(home)]) == 0
    assert "2 Label Studio tasks" in capsys.readouterr().out
    tasks = as_exported(json.loads(out.read_text(encoding="utf-8")))
    assert ET.fromstring(config.read_text(encoding="utf-8")).find("Choices") is not None
    for task in tasks:
        annotate(task, ls.choice_value(CAT, "C5-1"))
    annotated = tmp_path / "annotated.json"
    annotated.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")

    assert main(["labelstudio", "import", str(annotated), "--user", "ops", "--home", str(home)]) == 0
    assert "imported 2" in capsys.readouterr().out
    with db() as s:
        label = repo.current_label(s, doc_id(db, 2))
    assert label is not None and (label.item_code, label.source, label.created_by) == ("C5-1", "import", "ops")

    broken = tmp_path / "broken.json"
    broken.write_text("{oops", encoding="utf-8")
    assert main(["labelstudio", "import", str(broken), "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
