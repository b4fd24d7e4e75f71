"""The functions the pipeline and the review app call. Each is one transaction.

Pass a ``Session`` with no transaction open (``session_factory(engine)()``): the function begins,
commits, or rolls back everything it did and re-raises. If the session already has a transaction
open, the function joins it instead and the caller commits or rolls back (on SQLite, begin such a
transaction with ``session.connection(execution_options={WRITE: True})`` so it takes the write lock
up front).

Idempotence and crash safety: documents are keyed by sha256, predictions by (document, model
version), run files by (run, path); every insert is dialect-aware ``INSERT … ON CONFLICT``, so
recording a batch twice leaves one row each, and a batch killed half-way (kill -9) leaves nothing,
because it is one transaction. A prediction that ended in an error may be replaced by a later attempt;
a successful one never is.

Labels are never deleted or overwritten: a new label supersedes the current one (``is_current``
moves, ``version`` increases by one) and an audit event records who, when, from what, to what, why.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Table, and_, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipelines.db.engine import WRITE
from pipelines.db.models import AuditEvent, Document, Label, Prediction, Run, RunFile, utcnow
from pipelines.results import RETRY_CODES, CandidateOut, ErrorInfo, FileResult, PartOut, TagsOut

RunStatus = Literal["running", "finished", "failed", "interrupted"]
LabelSource = Literal["auto", "reviewer", "import"]
PIPELINE_ACTOR = "pipeline"
_CHUNK = 500  # rows per statement (executemany: SQLAlchemy batches them within the bound-parameter limits)


# ---------------------------------------------------------------------------------------------- types


class ConflictError(Exception):
    """The label changed since the caller read it (optimistic concurrency check failed)."""

    def __init__(self, document_id: int, expected_version: int, actual_version: int | None) -> None:
        self.document_id = document_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"document {document_id}: label is at version {actual_version or 0}, "
            f"not {expected_version} — reload and try again"
        )


class NotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class RecordOutcome:
    files: int  # results in the batch
    documents: int  # distinct sha256s in the batch
    predictions_written: int  # inserted, or replaced an earlier error
    predictions_kept: int  # already recorded (successfully): left as they were
    labels_written: int  # auto labels


@dataclass(frozen=True)
class RunSummary:
    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    model_version: str | None
    inputs: list[str]
    files_total: int
    files_ok: int
    files_error: int
    files_skipped: int
    message: str | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class StatusCounts:
    documents: int
    predictions: int
    by_status: dict[str, int] = field(default_factory=dict)  # ok / error
    by_route: dict[str, int] = field(default_factory=dict)  # auto / class / review (ok predictions)
    by_error_code: dict[str, int] = field(default_factory=dict)
    out_of_catalogue: int = 0
    current_labels_by_source: dict[str, int] = field(default_factory=dict)  # auto / reviewer / import


@dataclass(frozen=True)
class LabelView:
    id: int
    document_id: int
    item_code: str | None  # None: a reviewer decided no catalogue item applies
    source: str
    version: int
    is_current: bool
    supersedes_id: int | None
    prediction_id: int | None
    created_by: str
    created_at: datetime
    reason: str | None
    tags: dict[str, Any] | None = None  # reviewer-corrected tags; None: the prediction's tags stand


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None


# ---------------------------------------------------------------------------------------------- helpers


@contextmanager
def transaction(session: Session, *, write: bool) -> Iterator[None]:
    if session.in_transaction():  # the caller's transaction: join it
        yield
        session.flush()
        return
    with session.begin():
        if write:
            session.connection(execution_options={WRITE: True})
        yield


def _insert(session: Session, table: Table):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only the two supported back ends
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    return dialect_insert(table)


def _clean(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL characters, which PDF text layers sometimes contain."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _size(r: FileResult, sizes: Mapping[str, int] | None) -> int | None:
    if sizes is not None and r.sha256 in sizes:
        return sizes[r.sha256]
    try:
        return Path(r.file).stat().st_size
    except OSError:
        return None


def label_view(row: Any) -> LabelView:
    return LabelView(
        id=row.id, document_id=row.document_id, item_code=row.item_code, source=row.source,
        version=row.version, is_current=bool(row.is_current), supersedes_id=row.supersedes_id,
        prediction_id=row.prediction_id, created_by=row.created_by, created_at=row.created_at,
        reason=row.reason, tags=row.tags,
    )


def _label_json(label: LabelView | None) -> dict[str, Any] | None:
    if label is None:
        return None
    out = {"label_id": label.id, "item_code": label.item_code, "source": label.source, "version": label.version}
    if label.tags is not None:
        out["tags"] = label.tags
    return out


def _audit(
    session: Session, *, actor: str, action: str, entity_type: str, entity_id: int | None,
    old: dict[str, Any] | None, new: dict[str, Any] | None, reason: str | None,
) -> None:
    session.execute(
        insert(AuditEvent.__table__).values(
            at=utcnow(), actor=_clean(actor), action=action, entity_type=entity_type, entity_id=entity_id,
            old=_clean(old), new=_clean(new), reason=_clean(reason),
        )
    )


def current_labels(session: Session, document_ids: Iterable[int]) -> dict[int, LabelView]:
    t = Label.__table__
    out: dict[int, LabelView] = {}
    for chunk in _chunks(sorted(set(document_ids))):
        for row in session.execute(select(t).where(t.c.document_id.in_(chunk), t.c.is_current == true())):
            out[row.document_id] = label_view(row)
    return out


def _write_label(
    session: Session, *, document_id: int, current: LabelView | None, item_code: str | None,
    source: LabelSource, actor: str, reason: str | None, prediction_id: int | None, action: str,
    tags: dict[str, Any] | None = None,
) -> LabelView:
    """Supersede ``current`` (None: the document has no label yet) with a new label, plus its audit event.
    Raises ConflictError when someone else superseded ``current`` first."""
    t = Label.__table__
    if current is not None:
        # Guarded by is_current: of two concurrent writers only one can flip it (PostgreSQL re-checks the
        # condition after waiting for the other's row lock; SQLite writers are serialised).
        res = session.execute(
            update(t).where(t.c.id == current.id, t.c.is_current == true()).values(is_current=False)
        )
        if res.rowcount != 1:
            latest = current_labels(session, [document_id]).get(document_id)
            raise ConflictError(document_id, current.version, latest.version if latest else None)
    version = (current.version if current else 0) + 1
    try:
        row = session.execute(
            insert(t).values(
                document_id=document_id, item_code=item_code, source=source, version=version,
                is_current=True, supersedes_id=current.id if current else None, prediction_id=prediction_id,
                created_by=_clean(actor), reason=_clean(reason), created_at=utcnow(), tags=_clean(tags),
            ).returning(*t.c)
        ).one()
    except IntegrityError as exc:  # another writer created the same version first
        raise ConflictError(document_id, version - 1, None) from exc
    label = label_view(row)
    _audit(
        session, actor=actor, action=action, entity_type="document", entity_id=document_id,
        old=_label_json(current), new=_label_json(label), reason=reason,
    )
    return label


def _upsert_documents(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new documents; fill in fields an earlier, failed attempt left empty. Returns sha256 → id."""
    t = Document.__table__
    fill = ("size_bytes", "pages", "text_source", "ocr_confidence", "text")
    ins = _insert(session, t)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.sha256],
        set_={c: func.coalesce(t.c[c], ins.excluded[c]) for c in fill},
        where=or_(*[and_(t.c[c].is_(None), ins.excluded[c].is_not(None)) for c in fill]),
    )
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))  # executemany: the statement is compiled once, then cached
    ids: dict[str, int] = {}
    for chunk in _chunks([r["sha256"] for r in rows]):
        ids.update((k, v) for k, v in session.execute(select(t.c.sha256, t.c.id).where(t.c.sha256.in_(chunk))))
    return ids


# ---------------------------------------------------------------------------------------------- runs


def _reap(session: Session) -> list[int]:
    dead = [
        run_id
        for run_id, pid in session.execute(
            select(Run.id, Run.pid).where(Run.status == "running", Run.hostname == socket.gethostname())
        )
        if pid is not None and pid != os.getpid() and not _alive(pid)
    ]
    for run_id in dead:
        _close_run(session, run_id, "interrupted", "the process ended without finishing the run")
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_run(
    session: Session, *, inputs: Sequence[str | os.PathLike[str]], model_version: str | None,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Open a run (status ``running``); returns its id. Runs of this host left ``running`` by a killed
    process are marked ``interrupted`` first."""
    with transaction(session, write=True):
        _reap(session)
        run = Run(
            started_at=utcnow(), status="running", inputs=[_clean(os.fspath(p)) for p in inputs],
            model_version=model_version, hostname=socket.gethostname(), pid=os.getpid(),
            options=_clean(dict(options)) if options is not None else None,
        )
        session.add(run)
        session.flush()
        return run.id


def _file_counts(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    t = RunFile.__table__
    out: dict[int, dict[str, int]] = {}
    for chunk in _chunks(list(run_ids)):
        q = select(t.c.run_id, t.c.outcome, func.count()).where(t.c.run_id.in_(chunk))
        for run_id, outcome, n in session.execute(q.group_by(t.c.run_id, t.c.outcome)):
            out.setdefault(run_id, {})[outcome] = n
    return out


def _close_run(session: Session, run_id: int, status: str, message: str | None) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id}")
    counts = _file_counts(session, [run_id]).get(run_id, {})
    run.status = status
    run.finished_at = utcnow()
    run.message = _clean(message)
    run.files_ok = counts.get("ok", 0)
    run.files_error = counts.get("error", 0)
    run.files_skipped = counts.get("skipped", 0)
    run.files_total = sum(counts.values())
    session.flush()
    return run


def _summary(run: Run, counts: Mapping[str, int] | None = None) -> RunSummary:
    if counts is None:
        ok, err, skipped, total = run.files_ok, run.files_error, run.files_skipped, run.files_total
    else:
        ok, err, skipped = counts.get("ok", 0), counts.get("error", 0), counts.get("skipped", 0)
        total = sum(counts.values())
    return RunSummary(
        id=run.id, status=run.status, started_at=run.started_at, finished_at=run.finished_at,
        model_version=run.model_version, inputs=list(run.inputs or []), files_total=total, files_ok=ok,
        files_error=err, files_skipped=skipped, message=run.message,
    )


def finish_run(
    session: Session, run_id: int, *, status: RunStatus = "finished", message: str | None = None
) -> RunSummary:
    """Close a run; its counts are taken from the files recorded for it."""
    if status == "running":
        raise ValueError("finish_run needs a final status")
    with transaction(session, write=True):
        return _summary(_close_run(session, run_id, status, message))


def run_summaries(session: Session, *, limit: int = 20) -> list[RunSummary]:
    """Newest runs first; counts are live for runs still running (or killed)."""
    with transaction(session, write=False):
        runs = list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))
        live = _file_counts(session, [r.id for r in runs if r.finished_at is None])
        return [_summary(r, live.get(r.id, {}) if r.finished_at is None else None) for r in runs]


# ---------------------------------------------------------------------------------------------- results


def done_keys(session: Session, sha256s: Iterable[str], model_version: str) -> set[str]:
    """The sha256s among ``sha256s`` already recorded for ``model_version``: successfully, or with an
    error a retry will not fix (the same rule as ``results.Journal``). The pipeline skips these."""
    p, d = Prediction.__table__, Document.__table__
    wanted = sorted({s for s in sha256s if s})
    done: set[str] = set()
    with transaction(session, write=False):
        for chunk in _chunks(wanted):
            q = (
                select(d.c.sha256)
                .join(p, p.c.document_id == d.c.id)
                .where(
                    d.c.sha256.in_(chunk), p.c.model_version == model_version,
                    or_(p.c.status == "ok", p.c.error_code.is_(None), p.c.error_code.not_in(sorted(RETRY_CODES))),
                )
            )
            done.update(session.scalars(q))
    return done


def load_results(session: Session, sha256s: Iterable[str], model_version: str) -> dict[str, FileResult]:
    """Rebuild the recorded ``FileResult`` of each sha256 for ``model_version`` (``file`` is the path the
    document was first seen under: replace it with the current one)."""
    p, d = Prediction.__table__, Document.__table__
    wanted = sorted({s for s in sha256s if s})
    out: dict[str, FileResult] = {}
    with transaction(session, write=False):
        for chunk in _chunks(wanted):
            q = (
                select(p, d.c.sha256, d.c.first_path, d.c.pages, d.c.text_source, d.c.ocr_confidence)
                .join(d, p.c.document_id == d.c.id)
                .where(d.c.sha256.in_(chunk), p.c.model_version == model_version)
            )
            for row in session.execute(q):
                out[row.sha256] = FileResult(
                    file=row.first_path, sha256=row.sha256, status=row.status,
                    error=ErrorInfo(code=row.error_code, message=row.error_message or "")
                    if row.error_code else None,
                    pages=row.pages, text_source=row.text_source, ocr_confidence=row.ocr_confidence,
                    stage=row.stage, class_code=row.class_code, class_name=row.class_name,
                    item_code=row.item_code, item_name=row.item_name, confidence=row.confidence,
                    class_confidence=row.class_confidence, route=row.route,
                    out_of_catalogue=bool(row.out_of_catalogue),
                    candidates=[CandidateOut.model_validate(c) for c in row.candidates or []],
                    parts=[PartOut.model_validate(x) for x in row.parts or []],
                    model_version=row.model_version or None, tags=TagsOut.model_validate(row.tags or {}),
                    warnings=list(row.warnings or []), seconds=row.seconds,
                )
    return out


def record_results(
    session: Session, run_id: int, results: Sequence[FileResult], texts: Mapping[str, str] | None = None,
    *, sizes: Mapping[str, int] | None = None,
) -> RecordOutcome:
    """Record one batch, all or nothing: documents (upserted by sha256; ``texts`` maps sha256 → extracted
    text), one prediction per (document, model version), the run's file rows, and an ``auto`` label for
    each newly recorded ``route == "auto"`` result. Recording the same batch again adds no rows (only an
    error prediction is re-attempted, in place).

    ``sizes`` maps sha256 → file size in bytes; without it the size is read from ``result.file``.
    A result without a sha256 (the file could not be read at all) gets a run-file row only.
    """
    texts = texts or {}
    with transaction(session, write=True):
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id}")
        now = utcnow()

        docs: dict[str, dict[str, Any]] = {}
        for r in results:
            if r.sha256 and r.sha256 not in docs:
                docs[r.sha256] = {
                    "sha256": r.sha256, "first_path": _clean(r.file), "size_bytes": _size(r, sizes),
                    "pages": r.pages, "text_source": r.text_source, "ocr_confidence": r.ocr_confidence,
                    "text": _clean(texts.get(r.sha256)), "created_at": now,
                }
        # Rows go in sorted key order throughout, so concurrent batches sharing documents lock them in the
        # same order and cannot deadlock on PostgreSQL.
        doc_ids = _upsert_documents(session, [docs[k] for k in sorted(docs)]) if docs else {}

        # Predictions: the first result per (document, model version) in the batch counts.
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for r in results:
            if not r.sha256:
                continue
            mv = r.model_version or run.model_version or ""
            key = (doc_ids[r.sha256], mv)
            if key in rows:
                continue
            rows[key] = _clean({
                "document_id": key[0], "model_version": mv, "run_id": run_id, "status": r.status,
                "error_code": r.error.code if r.error else None,
                "error_message": r.error.message if r.error else None,
                "stage": r.stage, "class_code": r.class_code, "class_name": r.class_name,
                "item_code": r.item_code, "item_name": r.item_name, "confidence": r.confidence,
                "class_confidence": r.class_confidence, "route": r.route,
                "out_of_catalogue": r.out_of_catalogue,
                "candidates": [c.model_dump(mode="json") for c in r.candidates],
                "parts": [x.model_dump(mode="json") for x in r.parts],
                "tags": r.tags.model_dump(mode="json"), "warnings": list(r.warnings), "seconds": r.seconds,
                "attempts": 1, "created_at": now, "updated_at": now,
            })
        p = Prediction.__table__
        written: list[Any] = []
        for chunk in _chunks([rows[k] for k in sorted(rows)]):
            ins = _insert(session, p)
            replace = [c for c in chunk[0] if c not in ("document_id", "model_version", "created_at", "attempts")]
            stmt = ins.on_conflict_do_update(
                index_elements=[p.c.document_id, p.c.model_version],
                set_={**{c: ins.excluded[c] for c in replace}, "attempts": p.c.attempts + 1},
                where=p.c.status == "error",  # a successful prediction is never overwritten
            ).returning(p.c.id, p.c.document_id, p.c.model_version, p.c.status, p.c.route, p.c.item_code,
                        p.c.out_of_catalogue)
            written.extend(session.execute(stmt, list(chunk)))

        # Run files: every input path of this run, hashed or not.
        files: dict[str, dict[str, Any]] = {}
        for r in results:
            path = _clean(r.file)
            if path not in files:
                files[path] = {
                    "run_id": run_id, "path": path, "sha256": r.sha256,
                    "document_id": doc_ids.get(r.sha256) if r.sha256 else None,
                    "outcome": "ok" if r.status == "ok" else "error",
                    "error_code": r.error.code if r.error else None,
                    "error_message": _clean(r.error.message) if r.error else None, "recorded_at": now,
                }
        _insert_run_files(session, [files[k] for k in sorted(files)])

        # Auto labels for newly recorded auto-filed predictions. Reviewer and import labels are never
        # replaced by the model; an older model's auto label is superseded when the item differs.
        auto = {
            w.document_id: w for w in written
            if w.status == "ok" and w.route == "auto" and w.item_code and not w.out_of_catalogue
        }
        labels_written = 0
        if auto:
            current = current_labels(session, auto)
            first: list[dict[str, Any]] = []
            for doc_id, w in sorted(auto.items()):
                cur = current.get(doc_id)
                reason = f"auto-filed by model {w.model_version}"
                if cur is None:
                    first.append({
                        "document_id": doc_id, "item_code": w.item_code, "source": "auto", "version": 1,
                        "is_current": True, "supersedes_id": None, "prediction_id": w.id,
                        "created_by": PIPELINE_ACTOR, "reason": reason, "created_at": now,
                    })
                elif cur.source == "auto" and cur.item_code != w.item_code:
                    _write_label(
                        session, document_id=doc_id, current=cur, item_code=w.item_code, source="auto",
                        actor=PIPELINE_ACTOR, reason=reason, prediction_id=w.id, action="label.auto",
                    )
                    labels_written += 1
            labels_written += _insert_first_labels(session, first, now)

        return RecordOutcome(
            files=len(results), documents=len(docs), predictions_written=len(written),
            predictions_kept=len(rows) - len(written), labels_written=labels_written,
        )


def _insert_first_labels(session: Session, rows: list[dict[str, Any]], now: datetime) -> int:
    """Bulk-insert version-1 auto labels with their audit events. A document a reviewer labelled in the
    meantime (a concurrent transaction) keeps the reviewer's label: the conflict skips the row."""
    t = Label.__table__
    written = 0
    stmt = _insert(session, t).on_conflict_do_nothing().returning(*t.c)
    for chunk in _chunks(rows):
        labels = sorted((label_view(r) for r in session.execute(stmt, list(chunk))), key=lambda lab: lab.document_id)
        if labels:
            session.execute(insert(AuditEvent.__table__), [
                {
                    "at": now, "actor": PIPELINE_ACTOR, "action": "label.auto", "entity_type": "document",
                    "entity_id": lab.document_id, "old": None, "new": _label_json(lab), "reason": lab.reason,
                }
                for lab in labels
            ])
        written += len(labels)
    return written


def _insert_run_files(session: Session, rows: list[dict[str, Any]]) -> None:
    t = RunFile.__table__
    stmt = _insert(session, t).on_conflict_do_nothing(index_elements=[t.c.run_id, t.c.path])
    for chunk in _chunks(rows):
        session.execute(stmt, list(chunk))


def record_skipped(session: Session, run_id: int, files: Iterable[tuple[str, str]]) -> int:
    """Note in ``run_id`` the (path, sha256) files skipped because ``done_keys`` found them recorded."""
    files = list(files)
    with transaction(session, write=True):
        d = Document.__table__
        ids: dict[str, int] = {}
        for chunk in _chunks(sorted({sha for _, sha in files})):
            ids.update((k, v) for k, v in session.execute(select(d.c.sha256, d.c.id).where(d.c.sha256.in_(chunk))))
        now = utcnow()
        rows: dict[str, dict[str, Any]] = {}
        for path, sha in files:
            path = _clean(os.fspath(path))
            rows.setdefault(path, {
                "run_id": run_id, "path": path, "sha256": sha, "document_id": ids.get(sha),
                "outcome": "skipped", "error_code": None, "error_message": None, "recorded_at": now,
            })
        _insert_run_files(session, [rows[k] for k in sorted(rows)])
        return len(rows)


def status_counts(session: Session, *, model_version: str | None = None) -> StatusCounts:
    """Totals over all predictions, or those of one model version."""
    p, lab = Prediction.__table__, Label.__table__
    with transaction(session, write=False):
        where = [p.c.model_version == model_version] if model_version is not None else []

        def grouped(col: Any, *extra: Any) -> dict[str, int]:
            q = select(col, func.count()).where(*where, *extra).group_by(col)
            return {k: n for k, n in session.execute(q) if k is not None}

        by_status = grouped(p.c.status)
        return StatusCounts(
            documents=session.scalar(select(func.count()).select_from(Document.__table__)) or 0,
            predictions=sum(by_status.values()),
            by_status=by_status,
            by_route=grouped(p.c.route, p.c.status == "ok"),
            by_error_code=grouped(p.c.error_code, p.c.status == "error"),
            out_of_catalogue=session.scalar(
                select(func.count()).select_from(p).where(*where, p.c.out_of_catalogue == true())
            ) or 0,
            current_labels_by_source={
                k: n for k, n in session.execute(
                    select(lab.c.source, func.count()).where(lab.c.is_current == true()).group_by(lab.c.source)
                )
            },
        )


# ---------------------------------------------------------------------------------------------- labels


def document_id(session: Session, sha256: str) -> int | None:
    with transaction(session, write=False):
        return session.scalar(select(Document.id).where(Document.sha256 == sha256))


def current_label(session: Session, document_id: int) -> LabelView | None:
    with transaction(session, write=False):
        return current_labels(session, [document_id]).get(document_id)


def label_history(session: Session, document_id: int) -> list[LabelView]:
    """Every label the document ever had, oldest first."""
    t = Label.__table__
    with transaction(session, write=False):
        rows = session.execute(select(t).where(t.c.document_id == document_id).order_by(t.c.version))
        return [label_view(r) for r in rows]


def set_label(
    session: Session, document_id: int, item_code: str | None, *, user: str, reason: str | None,
    expected_version: int, source: LabelSource = "reviewer", tags: dict[str, Any] | None = None,
    prediction_id: int | None = None,
) -> LabelView:
    """File ``document_id`` under ``item_code`` (None: no catalogue item applies) as ``user``.

    ``expected_version`` is the version of the current label the user saw (0: there was none). If the
    label has changed since, nothing is written and ConflictError is raised. The previous label is
    kept, marked superseded; an audit event records the change. ``tags`` are the reviewer's corrected
    tags (None: keep the prediction's); ``prediction_id`` the prediction the reviewer was shown."""
    if not user:
        raise ValueError("set_label needs the acting user")
    with transaction(session, write=True):
        if session.get(Document, document_id) is None:
            raise NotFoundError(f"no document {document_id}")
        cur = current_labels(session, [document_id]).get(document_id)
        actual = cur.version if cur else 0
        if actual != expected_version:
            raise ConflictError(document_id, expected_version, actual)
        return _write_label(
            session, document_id=document_id, current=cur, item_code=item_code, source=source, actor=user,
            reason=reason, prediction_id=prediction_id, action="label.set", tags=tags,
        )


def audit_trail(session: Session, *, entity_type: str, entity_id: int) -> list[AuditView]:
    t = AuditEvent.__table__
    with transaction(session, write=False):
        rows = session.execute(
            select(t).where(t.c.entity_type == entity_type, t.c.entity_id == entity_id).order_by(t.c.id)
        )
        return [
            AuditView(
                id=r.id, at=r.at, actor=r.actor, action=r.action, entity_type=r.entity_type,
                entity_id=r.entity_id, old=r.old, new=r.new, reason=r.reason,
            )
            for r in rows
        ]


def log_event(
    session: Session, *, actor: str, action: str, entity_type: str, entity_id: int | None = None,
    new: dict[str, Any] | None = None, reason: str | None = None,
) -> None:
    """Record an event that changes no label (an upload, a retrain decision) in the audit log."""
    with transaction(session, write=True):
        _audit(session, actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, old=None,
               new=new, reason=reason)
