"""Label Studio interop: the review queue out as Label Studio tasks, annotators' decisions back as labels.

* :func:`labeling_config` — the labeling interface: the document text (and optionally a page image),
  a filter box and one single-choice ``Choices`` control named ``item``. Each catalogue item is one
  ``Choice`` whose value is ``"<code> <name>"`` (e.g. ``"C5-1 隐蔽工程验收记录"``): names repeat across
  classes (工程开工报审表 is B2-1 and C3-1) but codes never do, so the leading code maps an answer back
  unambiguously, and annotators can filter by code or by name. :data:`NONE_CHOICE` says "none of the
  catalogue" (imported as a label with no item, as a reviewer's out-of-catalogue decision is).
* :func:`export_tasks` / :func:`write_tasks` — every queued document as a task: ``data`` (text,
  document_id, sha256, path…), ``meta``, and one prediction (top-1 item, ``score`` = its confidence,
  ``model_version``), in Label Studio's documented pre-annotation format, so the Data Manager can sort by
  model confidence and annotators start from the model's guess.
* :func:`import_annotations` — a Label Studio JSON export (or JSON-MIN) back in: the latest annotation
  that was not cancelled decides, written with ``set_label(source="import")`` so it supersedes (never
  overwrites) what was there and is audited. A reviewer's label is left alone unless asked; each document
  is its own transaction, so an interrupted import can simply be run again (done documents are
  ``unchanged``).
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.catalogue import Catalogue, load_catalogue
from pipelines.db.models import Document, Prediction
from pipelines.db.repository import (
    ConflictError,
    NotFoundError,
    _chunks,
    current_label,
    set_label,
    transaction,
)
from pipelines.db.review import QueueFilters, QueueRow, review_queue
from pipelines.results import write_text

__all__ = [
    "CONTROL",
    "NONE_CHOICE",
    "TEXT_OBJECT",
    "ImportOutcome",
    "LabelStudioFormatError",
    "choice_value",
    "export_tasks",
    "import_annotations",
    "labeling_config",
    "write_config",
    "write_tasks",
]

CONTROL = "item"  # the Choices control: from_name of every result
TEXT_OBJECT = "text"  # the Text object: to_name of every result
IMAGE_OBJECT = "page"
NONE_CHOICE = "无对应条目 (none of the catalogue)"
PAGE_SIZE = 500  # queue rows read per query while exporting
MAX_PROBLEMS = 50  # problems listed in an ImportOutcome; the counts hold them all
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LabelStudioFormatError(ValueError):
    """The input is not a Label Studio JSON export this module can read (said plainly, for the CLI)."""


# ---------------------------------------------------------------------------------------------- config


def choice_value(catalogue: Catalogue, code: str) -> str:
    """The Choice value of a catalogue item: its code, a space, its name."""
    return f"{code} {catalogue[code].name}"


def _choice_codes(catalogue: Catalogue) -> dict[str, str | None]:
    """Choice value → item code (None for :data:`NONE_CHOICE`)."""
    out: dict[str, str | None] = {choice_value(catalogue, i.code): i.code for i in catalogue.items}
    out[NONE_CHOICE] = None
    return out


def labeling_config(catalogue: Catalogue, *, image: bool = False) -> str:
    """The labeling interface XML. ``image=True`` adds an ``Image`` of ``$image`` (tasks exported with an
    ``image_url``) above the text."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$path")
    ET.SubElement(view, "Header", value="$suggestion", size="6")
    if image:
        ET.SubElement(view, "Image", name=IMAGE_OBJECT, value="$image", zoom="true")
    ET.SubElement(view, "Text", name=TEXT_OBJECT, value="$text")
    ET.SubElement(view, "Filter", name="filter", toName=CONTROL, minlength="1", hotkey="shift+f",
                  placeholder="筛选：代码或名称 (filter by code or name)")
    choices = ET.SubElement(view, "Choices", name=CONTROL, toName=TEXT_OBJECT, choice="single",
                            showInline="false", required="true")
    for item in catalogue.items:
        ET.SubElement(choices, "Choice", value=choice_value(catalogue, item.code),
                      hint=f"{item.class_code} {item.class_name}")
    ET.SubElement(choices, "Choice", value=NONE_CHOICE, hint="不属于 GB/T 50328 附录A 的任何条目")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


# ---------------------------------------------------------------------------------------------- export


def _top1(row: QueueRow) -> tuple[str | None, float | None]:
    """The model's first choice: the prediction's item, else its best candidate."""
    if row.item_code:
        return row.item_code, row.confidence if row.confidence is not None else _candidate_confidence(row)
    if row.candidates:
        best = row.candidates[0]
        return best.get("item_code"), best.get("confidence")
    return None, None


def _candidate_confidence(row: QueueRow) -> float | None:
    return next((c.get("confidence") for c in row.candidates if c.get("item_code") == row.item_code), None)


def _suggestion(row: QueueRow) -> str:
    """One line for the annotator: the model's candidates with their confidences."""
    parts = []
    for c in row.candidates:
        conf = c.get("confidence")
        parts.append(f"{c.get('item_code')} {c.get('item_name') or ''}"
                     + (f" ({conf:.2f})" if isinstance(conf, int | float) else ""))
    head = "模型建议 (model)" + (" · 疑似目录外 (out of catalogue?)" if row.out_of_catalogue else "")
    return f"{head}: " + ("; ".join(parts) if parts else "—")


def _task(
    row: QueueRow, text: str, catalogue: Catalogue, image_url: Callable[[int], str] | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "text": text, "document_id": row.document_id, "sha256": row.sha256, "path": row.path,
        "pages": row.pages, "project": row.project, "prediction_id": row.prediction_id,
        "model_version": row.model_version, "route": row.route, "suggestion": _suggestion(row),
    }
    if image_url is not None:
        data["image"] = image_url(row.document_id)
    task: dict[str, Any] = {
        "data": data,
        "meta": {
            "source": "dangan review queue", "run_id": row.run_id, "class_code": row.class_code,
            "class_name": row.class_name, "out_of_catalogue": row.out_of_catalogue,
            "candidates": row.candidates,
        },
    }
    code, score = _top1(row)
    if code and code in catalogue:  # an item the current catalogue no longer has cannot be pre-selected
        prediction: dict[str, Any] = {
            "model_version": row.model_version,
            "result": [{
                "id": f"p{row.prediction_id}", "from_name": CONTROL, "to_name": TEXT_OBJECT,
                "type": "choices",
                "value": {"choices": [choice_value(catalogue, code)]},
            }],
        }
        if score is not None:
            prediction["score"] = float(score)
        task["predictions"] = [prediction]
    return task


def _texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    d = Document.__table__
    out: dict[int, str] = {}
    with transaction(session, write=False):
        for chunk in _chunks(list(ids)):
            out.update((i, t or "") for i, t in session.execute(select(d.c.id, d.c.text).where(d.c.id.in_(chunk))))
    return out


def export_tasks(
    session: Session, filters: QueueFilters | None = None, *, catalogue: Catalogue | None = None,
    image_url: Callable[[int], str] | None = None, page_size: int = PAGE_SIZE,
) -> list[dict[str, Any]]:
    """Every document in the review queue (matching ``filters``), lowest confidence first, as Label Studio
    tasks with the model's top-1 item as a prediction. ``image_url(document_id)`` adds ``data.image``."""
    catalogue = catalogue or load_catalogue()
    filters = filters or QueueFilters()
    tasks: dict[int, dict[str, Any]] = {}
    offset = 0
    while True:
        rows, total = review_queue(session, filters, limit=page_size, offset=offset)
        if not rows:
            break
        texts = _texts(session, [r.document_id for r in rows])
        for r in rows:  # a document labelled meanwhile shifts the pages: never list one twice
            tasks.setdefault(r.document_id, _task(r, texts.get(r.document_id, ""), catalogue, image_url))
        offset += len(rows)
        if offset >= total:
            break
    return list(tasks.values())


def write_tasks(path: Path, tasks: Iterable[dict[str, Any]]) -> None:
    """Tasks as one JSON array (Label Studio's import format), written whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(list(tasks), ensure_ascii=False, indent=1) + "\n")


def write_config(path: Path, xml: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, xml)


# ---------------------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportOutcome:
    tasks: int  # records read (tasks; JSON-MIN: annotations)
    imported: int = 0  # labels written
    unchanged: int = 0  # the current label already has that item
    skipped_reviewer: int = 0  # a reviewer's label, left alone (overwrite_reviewer=False)
    unknown_document: int = 0  # no document_id / sha256 this database knows
    unknown_choice: int = 0  # no choice, several, or one that is not in the catalogue
    cancelled: int = 0  # every annotation of the task was cancelled (skipped)
    unannotated: int = 0  # the task has no annotation yet
    duplicates: int = 0  # older annotations of a document annotated again in another task
    conflicts: int = 0  # the label changed while importing: re-run to retry
    problems: tuple[str, ...] = ()  # the first few skipped records, for the operator

    def summary(self) -> str:
        return (
            f"{self.tasks} tasks: imported {self.imported} · unchanged {self.unchanged} · "
            f"reviewer's label kept {self.skipped_reviewer} · unknown document {self.unknown_document} · "
            f"unknown choice {self.unknown_choice} · cancelled {self.cancelled} · "
            f"unannotated {self.unannotated} · duplicates {self.duplicates} · conflicts {self.conflicts}"
        )


@dataclass(frozen=True)
class _Annotation:
    """One task's deciding annotation, reduced to what the import needs."""

    index: int  # position in the file, for messages and a stable order
    task_id: Any
    annotation_id: Any
    document_id: int | None
    sha256: str | None
    prediction_id: int | None
    values: tuple[str, ...] | None  # the chosen values; None: the result has no choice for CONTROL
    annotator: str
    at: datetime | None

    @property
    def where(self) -> str:
        return f"task {self.task_id}" if self.task_id is not None else f"record {self.index + 1}"

    def sort_key(self) -> tuple[datetime, int]:
        return (self.at or datetime.min.replace(tzinfo=UTC), self.index)


def _load(source: Path | str | os.PathLike[str] | list[Any] | dict[str, Any]) -> list[Any]:
    if isinstance(source, (list, dict)):
        payload: Any = source
        name = "input"
    else:
        path = Path(source)
        name = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LabelStudioFormatError(f"cannot read {name}: {exc.strerror or exc}") from None
        try:
            payload = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise LabelStudioFormatError(
                f"{name} is not UTF-8 text (expected a Label Studio JSON export)"
            ) from None
        except json.JSONDecodeError as exc:
            raise LabelStudioFormatError(
                f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                "export the project from Label Studio as JSON or JSON-MIN"
            ) from None
    if isinstance(payload, dict):  # one task on its own
        payload = [payload]
    if not isinstance(payload, list):
        raise LabelStudioFormatError(
            f"{name}: expected a JSON array of tasks, found {type(payload).__name__}"
        )
    for i, task in enumerate(payload):
        if not isinstance(task, dict):
            raise LabelStudioFormatError(
                f"{name}: record {i + 1} is {type(task).__name__}, not an object (a Label Studio export is a "
                "list of tasks)"
            )
    return payload


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _sha(value: Any) -> str | None:
    if isinstance(value, str) and _SHA256.match(value.strip().lower()):
        return value.strip().lower()
    return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _person(value: Any) -> str | None:
    """Label Studio names the annotator as a user id, an e-mail, or a user object."""
    if isinstance(value, dict):
        parts = (value.get("first_name"), value.get("last_name"))
        name = " ".join(x for x in parts if isinstance(x, str) and x)
        return value.get("email") or name or (f"user {value['id']}" if value.get("id") is not None else None)
    if isinstance(value, bool) or value is None or value == "":
        return None
    return f"user {value}" if isinstance(value, int) else str(value)


def _values(value: Any) -> tuple[str, ...] | None:
    """A choice as JSON (``{"choices": [...]}``) or JSON-MIN (a string, or that object) writes it."""
    if isinstance(value, dict):
        value = value.get("choices")
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _result_values(result: Any, where: str) -> tuple[str, ...] | None:
    if not isinstance(result, list):
        raise LabelStudioFormatError(f"{where}: annotation result is {type(result).__name__}, not a list")
    regions = [r for r in result if isinstance(r, dict) and r.get("type") == "choices"]
    mine = [r for r in regions if r.get("from_name") == CONTROL] or (regions if len(regions) == 1 else [])
    values = [v for r in mine for v in (_values(r.get("value")) or ())]
    return tuple(values) if mine else None


def _read_task(index: int, task: dict[str, Any]) -> _Annotation | str:
    """The task's deciding annotation, or why there is none (``"cancelled"`` / ``"unannotated"``)."""
    task_id = task.get("id")
    where = f"task {task_id}" if task_id is not None else f"record {index + 1}"
    if "annotations" in task or isinstance(task.get("data"), dict):  # Label Studio JSON
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        anns = task.get("annotations") or []
        if not isinstance(anns, list) or not all(isinstance(a, dict) for a in anns):
            raise LabelStudioFormatError(f"{where}: \"annotations\" must be a list of objects")
        live = [(i, a) for i, a in enumerate(anns) if not a.get("was_cancelled")]
        if not live:
            return "cancelled" if anns else "unannotated"
        _, ann = max(live, key=lambda ia: (_when(ia[1].get("updated_at") or ia[1].get("created_at"))
                                           or datetime.min.replace(tzinfo=UTC), ia[0]))
        return _Annotation(
            index=index, task_id=task_id, annotation_id=ann.get("id"),
            document_id=_int(data.get("document_id")),
            sha256=_sha(data.get("sha256")), prediction_id=_int(data.get("prediction_id")),
            values=_result_values(ann.get("result", []), where),
            annotator=_person(ann.get("completed_by")) or _person(ann.get("created_username"))
            or "unknown annotator",
            at=_when(ann.get("updated_at") or ann.get("created_at")),
        )
    # JSON-MIN: the task's data fields at the top level, each control's answer under its name.
    if CONTROL not in task:
        return "unannotated"
    return _Annotation(
        index=index, task_id=task_id, annotation_id=task.get("annotation_id"),
        document_id=_int(task.get("document_id")), sha256=_sha(task.get("sha256")),
        prediction_id=_int(task.get("prediction_id")), values=_values(task.get(CONTROL)),
        annotator=_person(task.get("annotator")) or "unknown annotator",
        at=_when(task.get("updated_at") or task.get("created_at")),
    )


def _resolve(
    session: Session, anns: Sequence[_Annotation],
) -> tuple[dict[int, str], dict[str, int], dict[int, int]]:
    """(document id → sha256, sha256 → document id, prediction id → its document id) for the ids named."""
    d, p = Document.__table__, Prediction.__table__
    ids = sorted({a.document_id for a in anns if a.document_id is not None})
    shas = sorted({a.sha256 for a in anns if a.sha256})
    preds = sorted({a.prediction_id for a in anns if a.prediction_id is not None})
    by_id: dict[int, str] = {}
    by_sha: dict[str, int] = {}
    pred_doc: dict[int, int] = {}
    with transaction(session, write=False):
        for chunk in _chunks(ids):
            by_id.update((k, v) for k, v in session.execute(select(d.c.id, d.c.sha256).where(d.c.id.in_(chunk))))
        for chunk in _chunks(shas):
            by_sha.update((k, v) for k, v in session.execute(select(d.c.sha256, d.c.id).where(d.c.sha256.in_(chunk))))
        for chunk in _chunks(preds):
            q = select(p.c.id, p.c.document_id).where(p.c.id.in_(chunk))
            pred_doc.update((k, v) for k, v in session.execute(q))
    return by_id, by_sha, pred_doc


def _document(a: _Annotation, by_id: dict[int, str], by_sha: dict[str, int]) -> int | None:
    """The task's document: its document_id when that is this database's document (the sha256 agrees, if
    given), else the document with its sha256 (an export from another database, or one restored since)."""
    if a.document_id in by_id and (a.sha256 is None or by_id[a.document_id] == a.sha256):
        return a.document_id
    return by_sha.get(a.sha256) if a.sha256 else None


def _code(
    values: tuple[str, ...] | None, catalogue: Catalogue, codes: dict[str, str | None],
) -> tuple[bool, str | None]:
    """(known, item code) of a single choice. Besides the exact value, a leading catalogue code is enough
    (the value of an item whose name was corrected since the export)."""
    if not values or len(values) != 1:
        return False, None
    value = values[0].strip()
    if value in codes:
        return True, codes[value]
    head = value.split(maxsplit=1)[0] if value else ""
    return (True, head) if head in catalogue else (False, None)


def import_annotations(
    session: Session, source: Path | str | list[Any], *, actor: str, catalogue: Catalogue | None = None,
    overwrite_reviewer: bool = False,
) -> ImportOutcome:
    """File each annotated document as its latest non-cancelled Label Studio annotation says, as ``actor``
    with ``source="import"``. A document whose current label came from a reviewer keeps it unless
    ``overwrite_reviewer``. Raises :class:`LabelStudioFormatError` for input that is no Label Studio
    export."""
    if not actor:
        raise ValueError("import_annotations needs the acting user")
    catalogue = catalogue or load_catalogue()
    codes = _choice_codes(catalogue)
    tasks = _load(source)
    counts: Counter[str] = Counter()
    problems: list[str] = []

    def skip(kind: str, message: str | None = None) -> None:
        counts[kind] += 1
        if message and len(problems) < MAX_PROBLEMS:
            problems.append(message)

    anns: list[_Annotation] = []
    for i, task in enumerate(tasks):
        read = _read_task(i, task)
        if isinstance(read, str):
            skip(read)
        else:
            anns.append(read)
    by_id, by_sha, pred_doc = _resolve(session, anns)

    latest: dict[int, _Annotation] = {}
    for a in anns:
        doc = _document(a, by_id, by_sha)
        if doc is None:
            skip("unknown_document",
                 f"{a.where}: no document with document_id {a.document_id} / sha256 {a.sha256}")
            continue
        if doc in latest:
            counts["duplicates"] += 1
            if a.sort_key() <= latest[doc].sort_key():
                continue
        latest[doc] = a

    for doc, a in sorted(latest.items()):
        known, code = _code(a.values, catalogue, codes)
        if not known:
            shown = "no choice" if not a.values else " + ".join(repr(v) for v in a.values)
            skip("unknown_choice", f"{a.where} (document {doc}): {shown} is not one catalogue item")
            continue
        cur = current_label(session, doc)
        if cur is not None and cur.item_code == code:
            counts["unchanged"] += 1
            continue
        if cur is not None and cur.source == "reviewer" and not overwrite_reviewer:
            skip("skipped_reviewer",
                 f"{a.where} (document {doc}): kept {cur.created_by}'s label {cur.item_code or '—'}")
            continue
        refs = (("task", a.task_id), ("annotation", a.annotation_id))
        ids = ", ".join(f"{k} {v}" for k, v in refs if v is not None)
        reason = f"Label Studio annotation by {a.annotator}" + (f" ({ids})" if ids else "")
        # The prediction the annotator was shown, when it is this document's (not another database's).
        prediction_id = a.prediction_id if a.prediction_id is not None and pred_doc.get(a.prediction_id) == doc else None
        try:
            set_label(
                session, doc, code, user=actor, reason=reason, expected_version=cur.version if cur else 0,
                source="import", prediction_id=prediction_id,
            )
        except ConflictError as exc:
            skip("conflicts", f"{a.where}: {exc}")
        except NotFoundError:
            skip("unknown_document", f"{a.where}: document {doc} is gone")
        else:
            counts["imported"] += 1
    return ImportOutcome(tasks=len(tasks), problems=tuple(problems), **counts)
