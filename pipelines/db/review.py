"""What the review workbench and retraining read and write beyond the pipeline's own records: the review
queue, one document with everything a reviewer needs, the approved labels retraining learns from, and
user accounts. Each function is one transaction, as in :mod:`pipelines.db.repository`.

The queue is every document whose newest successful prediction has no current label: the pipeline
labels only ``route == "auto"`` results, so it holds the ``class`` and ``review`` routes and the
out-of-catalogue files, until a reviewer (or an import) labels them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from pipelines.db.models import ROLES, Document, Label, Prediction, ReviewSession, Run, RunFile, User, utcnow
from pipelines.db.repository import (
    AuditView,
    LabelView,
    NotFoundError,
    _audit,
    _clean,
    audit_trail,
    current_labels,
    label_history,
    transaction,
)

QUEUE_LIMIT = 5000  # positions tracked for next/previous; a reviewer never pages further in one sitting
APPROVED_SOURCES = ("reviewer", "import")


@dataclass(frozen=True)
class QueueFilters:
    project: str | None = None
    class_code: str | None = None
    run_id: int | None = None
    model_version: str | None = None

    def as_query(self) -> dict[str, str]:
        """The non-empty filters, for links that keep them."""
        raw = {"project": self.project, "class_code": self.class_code, "run_id": self.run_id,
               "model_version": self.model_version}
        return {k: str(v) for k, v in raw.items() if v not in (None, "")}


@dataclass(frozen=True)
class QueueRow:
    document_id: int
    sha256: str
    path: str
    pages: int | None
    prediction_id: int
    model_version: str
    run_id: int | None
    item_code: str | None
    item_name: str | None
    class_code: str | None
    class_name: str | None
    confidence: float | None
    route: str | None
    out_of_catalogue: bool
    project: str | None
    candidates: list[dict[str, Any]]


@dataclass(frozen=True)
class QueueFacets:
    projects: list[str]
    class_codes: list[str]
    run_ids: list[int]
    model_versions: list[str]


@dataclass(frozen=True)
class DocumentDetail:
    id: int
    sha256: str
    first_path: str
    paths: list[str]
    pages: int | None
    text_source: str | None
    ocr_confidence: float | None
    text: str
    prediction: QueueRow | None
    prediction_tags: dict[str, Any]
    parts: list[dict[str, Any]]
    warnings: list[str]
    label: LabelView | None
    history: list[LabelView]
    audit: list[AuditView]

    @property
    def label_version(self) -> int:
        return self.label.version if self.label else 0

    @property
    def tags(self) -> dict[str, Any]:
        """The tags in force: the reviewer's correction if there is one, else the prediction's."""
        if self.label is not None and self.label.tags is not None:
            return self.label.tags
        return self.prediction_tags


@dataclass(frozen=True)
class ApprovedLabel:
    document_id: int
    sha256: str
    item_code: str
    text: str
    source: str
    created_at: datetime


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    is_active: bool
    password_hash: str = field(repr=False)
    created_by: str = ""
    created_at: datetime | None = None


# ---------------------------------------------------------------------------------------------- queue


def _latest_ok_predictions() -> Any:
    p = Prediction.__table__
    return (
        select(p.c.document_id, func.max(p.c.id).label("prediction_id"))
        .where(p.c.status == "ok")
        .group_by(p.c.document_id)
        .subquery("latest")
    )


def _project_column() -> Any:
    return Prediction.__table__.c.tags["project_name"].as_string()


def _queue_select(filters: QueueFilters) -> Select[Any]:
    p, d, lab = Prediction.__table__, Document.__table__, Label.__table__
    latest = _latest_ok_predictions()
    q = (
        select(
            d.c.id.label("document_id"), d.c.sha256, d.c.first_path, d.c.pages,
            p.c.id.label("prediction_id"), p.c.model_version, p.c.run_id, p.c.item_code, p.c.item_name,
            p.c.class_code, p.c.class_name, p.c.confidence, p.c.route, p.c.out_of_catalogue,
            _project_column().label("project"), p.c.candidates,
        )
        .select_from(latest)
        .join(p, p.c.id == latest.c.prediction_id)
        .join(d, d.c.id == latest.c.document_id)
        .outerjoin(lab, and_(lab.c.document_id == d.c.id, lab.c.is_current == true()))
        .where(lab.c.id.is_(None))
    )
    if filters.project:
        q = q.where(_project_column() == filters.project)
    if filters.class_code:
        q = q.where(p.c.class_code == filters.class_code)
    if filters.model_version:
        q = q.where(p.c.model_version == filters.model_version)
    if filters.run_id is not None:
        seen = select(RunFile.__table__.c.document_id).where(RunFile.__table__.c.run_id == filters.run_id)
        q = q.where(d.c.id.in_(seen))
    return q


def _row(r: Any) -> QueueRow:
    return QueueRow(
        document_id=r.document_id, sha256=r.sha256, path=r.first_path, pages=r.pages,
        prediction_id=r.prediction_id, model_version=r.model_version, run_id=r.run_id, item_code=r.item_code,
        item_name=r.item_name, class_code=r.class_code, class_name=r.class_name, confidence=r.confidence,
        route=r.route, out_of_catalogue=bool(r.out_of_catalogue), project=r.project,
        candidates=list(r.candidates or [])[:5],
    )


def review_queue(
    session: Session, filters: QueueFilters = QueueFilters(), *, limit: int = 50, offset: int = 0,
) -> tuple[list[QueueRow], int]:
    """One page of the queue, lowest confidence first (no confidence at all comes first), and its length."""
    p = Prediction.__table__
    with transaction(session, write=False):
        base = _queue_select(filters)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = session.execute(
            base.order_by(p.c.confidence.is_not(None), p.c.confidence, p.c.document_id).limit(limit).offset(offset)
        )
        return [_row(r) for r in rows], total


def queue_ids(session: Session, filters: QueueFilters = QueueFilters()) -> list[int]:
    """Document ids in queue order (for next / previous)."""
    p = Prediction.__table__
    with transaction(session, write=False):
        q = _queue_select(filters).order_by(p.c.confidence.is_not(None), p.c.confidence, p.c.document_id)
        return [r.document_id for r in session.execute(q.limit(QUEUE_LIMIT))]


def queue_facets(session: Session) -> QueueFacets:
    """The values the queue's filters can take (over the whole queue)."""
    with transaction(session, write=False):
        sub = _queue_select(QueueFilters()).subquery()
        runs = select(RunFile.__table__.c.run_id).where(
            RunFile.__table__.c.document_id.in_(select(sub.c.document_id))
        ).distinct()
        return QueueFacets(
            projects=sorted(x for x in session.scalars(select(sub.c.project).distinct()) if x),
            class_codes=sorted(x for x in session.scalars(select(sub.c.class_code).distinct()) if x),
            run_ids=sorted(session.scalars(runs), reverse=True),
            model_versions=sorted(x for x in session.scalars(select(sub.c.model_version).distinct()) if x),
        )


def document_detail(session: Session, document_id: int) -> DocumentDetail:
    """One document as a reviewer sees it: text, newest successful prediction, label, history, audit."""
    p, d, rf = Prediction.__table__, Document.__table__, RunFile.__table__
    with transaction(session, write=False):
        doc = session.execute(select(d).where(d.c.id == document_id)).one_or_none()
        if doc is None:
            raise NotFoundError(f"no document {document_id}")
        pred = session.execute(
            select(p).where(p.c.document_id == document_id, p.c.status == "ok").order_by(p.c.id.desc()).limit(1)
        ).one_or_none()
        paths = list(dict.fromkeys(session.scalars(
            select(rf.c.path).where(rf.c.document_id == document_id).order_by(rf.c.id)
        )))
        row = None
        if pred is not None:
            row = QueueRow(
                document_id=doc.id, sha256=doc.sha256, path=doc.first_path, pages=doc.pages, prediction_id=pred.id,
                model_version=pred.model_version, run_id=pred.run_id, item_code=pred.item_code,
                item_name=pred.item_name, class_code=pred.class_code, class_name=pred.class_name,
                confidence=pred.confidence, route=pred.route, out_of_catalogue=bool(pred.out_of_catalogue),
                project=(pred.tags or {}).get("project_name"), candidates=list(pred.candidates or [])[:5],
            )
        return DocumentDetail(
            id=doc.id, sha256=doc.sha256, first_path=doc.first_path, paths=paths or [doc.first_path],
            pages=doc.pages, text_source=doc.text_source, ocr_confidence=doc.ocr_confidence, text=doc.text or "",
            prediction=row, prediction_tags=dict(pred.tags or {}) if pred is not None else {},
            parts=list(pred.parts or []) if pred is not None else [],
            warnings=list(pred.warnings or []) if pred is not None else [],
            label=current_labels(session, [document_id]).get(document_id),
            history=label_history(session, document_id),
            audit=audit_trail(session, entity_type="document", entity_id=document_id),
        )


def filing_facts(session: Session, document_id: int) -> tuple[str, dict[str, Any]]:
    """(first path, the newest successful prediction's tags): what filing a labelled original needs
    besides its locations — without the text, history and audit trail of ``document_detail``."""
    p, d = Prediction.__table__, Document.__table__
    with transaction(session, write=False):
        first_path = session.scalar(select(d.c.first_path).where(d.c.id == document_id))
        if first_path is None:
            raise NotFoundError(f"no document {document_id}")
        tags = session.scalar(
            select(p.c.tags).where(p.c.document_id == document_id, p.c.status == "ok").order_by(p.c.id.desc()).limit(1)
        )
        return first_path, dict(tags or {})


def document_locations(session: Session, document_id: int) -> tuple[str, list[Path]]:
    """(sha256, where the original may be on disk): every path it was seen under, resolved against the
    inputs of the run that saw it (a folder input records paths relative to the folder), newest first.
    The paths come from the database only; the caller still checks the file's hash before serving it."""
    d, rf, r = Document.__table__, RunFile.__table__, Run.__table__
    with transaction(session, write=False):
        doc = session.execute(select(d.c.sha256, d.c.first_path).where(d.c.id == document_id)).one_or_none()
        if doc is None:
            raise NotFoundError(f"no document {document_id}")
        seen = session.execute(
            select(rf.c.path, r.c.inputs).join(r, r.c.id == rf.c.run_id)
            .where(rf.c.document_id == document_id).order_by(rf.c.id.desc())
        )
        out: list[Path] = []
        for path, inputs in [*seen, (doc.first_path, [])]:
            p = Path(path)
            if p.is_absolute():
                out.append(p)
                continue
            for root in inputs or []:
                base = Path(root)
                out.append(base if base.name == path and not base.is_dir() else base / p)
        return doc.sha256, list(dict.fromkeys(out))


def approved_labels(session: Session, *, sources: Sequence[str] = APPROVED_SOURCES) -> list[ApprovedLabel]:
    """Current labels people made (reviewers, imports) on documents with text: what retraining learns.
    A label of "no catalogue item" (item_code NULL) is not a training example."""
    lab, d = Label.__table__, Document.__table__
    with transaction(session, write=False):
        rows = session.execute(
            select(lab.c.document_id, d.c.sha256, lab.c.item_code, d.c.text, lab.c.source, lab.c.created_at)
            .join(d, d.c.id == lab.c.document_id)
            .where(lab.c.is_current == true(), lab.c.source.in_(list(sources)), lab.c.item_code.is_not(None),
                   d.c.text.is_not(None), d.c.text != "")
            .order_by(lab.c.document_id)
        )
        return [
            ApprovedLabel(document_id=r.document_id, sha256=r.sha256, item_code=r.item_code, text=r.text,
                          source=r.source, created_at=r.created_at)
            for r in rows
        ]


# ---------------------------------------------------------------------------------------------- users


def _user_view(r: Any) -> UserView:
    return UserView(id=r.id, username=r.username, role=r.role, is_active=bool(r.is_active),
                    password_hash=r.password_hash, created_by=r.created_by, created_at=r.created_at)


def get_user(session: Session, *, username: str | None = None, user_id: int | None = None) -> UserView | None:
    t = User.__table__
    with transaction(session, write=False):
        cond = t.c.username == username if username is not None else t.c.id == user_id
        r = session.execute(select(t).where(cond)).one_or_none()
        return _user_view(r) if r is not None else None


def list_users(session: Session) -> list[UserView]:
    t = User.__table__
    with transaction(session, write=False):
        return [_user_view(r) for r in session.execute(select(t).order_by(t.c.username))]


def create_user(session: Session, *, username: str, password_hash: str, role: str, actor: str) -> UserView:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    t = User.__table__
    with transaction(session, write=True):
        if session.execute(select(t.c.id).where(t.c.username == username)).first() is not None:
            raise ValueError(f"user {username!r} exists")
        r = session.execute(
            t.insert().values(username=_clean(username), password_hash=password_hash, role=role, is_active=True,
                              created_by=_clean(actor), created_at=utcnow(), password_changed_at=utcnow())
            .returning(*t.c)
        ).one()
        _audit(session, actor=actor, action="user.create", entity_type="user", entity_id=r.id, old=None,
               new={"username": username, "role": role}, reason=None)
        return _user_view(r)


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user_id: int, hours: float) -> str:
    """A new workbench login for ``user_id``, valid ``hours``: returns the token for its cookie (only
    its sha256 is stored). Expired and revoked logins are cleared out on the way."""
    t = ReviewSession.__table__
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with transaction(session, write=True):
        session.execute(delete(t).where(or_(t.c.expires_at < now, t.c.revoked_at.is_not(None))))
        session.execute(t.insert().values(token_sha256=_token_sha256(token), user_id=user_id, created_at=now,
                                          expires_at=now + timedelta(hours=hours)))
    return token


def session_user(session: Session, token: str) -> UserView | None:
    """The user of a live login (not revoked, not expired), or None."""
    s, u = ReviewSession.__table__, User.__table__
    with transaction(session, write=False):
        r = session.execute(
            select(u).join(s, s.c.user_id == u.c.id)
            .where(s.c.token_sha256 == _token_sha256(token), s.c.revoked_at.is_(None), s.c.expires_at > utcnow())
        ).one_or_none()
    return _user_view(r) if r is not None else None


def revoke_sessions(session: Session, *, token: str | None = None, user_id: int | None = None) -> int:
    """End one login (logout) or every login of a user (password changed, account deactivated)."""
    t = ReviewSession.__table__
    cond = t.c.token_sha256 == _token_sha256(token) if token is not None else t.c.user_id == user_id
    with transaction(session, write=True):
        return session.execute(update(t).where(cond, t.c.revoked_at.is_(None)).values(revoked_at=utcnow())).rowcount


def update_user(
    session: Session, username: str, *, actor: str, role: str | None = None, is_active: bool | None = None,
    password_hash: str | None = None,
) -> UserView:
    """Change a user's role, activity or password (recorded in the audit log; the hash never is)."""
    t = User.__table__
    with transaction(session, write=True):
        cur = session.execute(select(t).where(t.c.username == username)).one_or_none()
        if cur is None:
            raise NotFoundError(f"no user {username!r}")
        values: dict[str, Any] = {}
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        if role is not None and role != cur.role:
            if role not in ROLES:
                raise ValueError(f"role must be one of {', '.join(ROLES)}")
            values["role"], old["role"], new["role"] = role, cur.role, role
        if is_active is not None and is_active != bool(cur.is_active):
            values["is_active"], old["is_active"], new["is_active"] = is_active, bool(cur.is_active), is_active
        if password_hash is not None:
            values["password_hash"], values["password_changed_at"] = password_hash, utcnow()
            new["password"] = "changed"
        if values:
            session.execute(update(t).where(t.c.id == cur.id).values(**values))
            if "password_hash" in values or values.get("is_active") is False:
                revoke_sessions(session, user_id=cur.id)  # a new password or a deactivation ends every login
            _audit(session, actor=actor, action="user.update", entity_type="user", entity_id=cur.id, old=old,
                   new=new, reason=None)
        return _user_view(session.execute(select(t).where(t.c.id == cur.id)).one())
