"""The schema, as typed SQLAlchemy 2 models. Alembic migrations (``migrations/versions``) create it;
``tests/test_storage.py`` checks the two never drift apart.

Portable by construction: only types SQLite and PostgreSQL both have (``sqlalchemy.JSON``, JSONB on PG),
every datetime timezone-aware and stored as UTC, every constraint named (so later migrations can
alter it, SQLite batch mode included).

Tables
  runs          one row per pipeline invocation
  documents     one row per distinct file content (sha256), with its extracted text
  run_files     one row per (run, input path): where a document was seen, and files never hashed
  predictions   one row per (document, model version): the classifier's answer or the error
  labels        the filing decision per document; never deleted, only superseded (``version`` chain)
  audit_events  who changed what, when, from what to what, and why
  users         review workbench accounts (argon2 password hashes, a role each)
  review_sessions  workbench logins (the sha256 of each cookie's token), revoked at logout
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
PREDICTION_STATUSES = ("ok", "error")
ROUTES = ("auto", "class", "review")
LABEL_SOURCES = ("auto", "reviewer", "import")
ROLES = ("admin", "reviewer", "viewer")
FILE_OUTCOMES = ("ok", "error", "skipped")


# JSON everywhere; JSONB on PostgreSQL (indexable, queryable by the review app).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; naive datetimes are refused rather than guessed.

    PostgreSQL keeps ``timestamptz``; SQLite keeps the UTC wall time, and UTC is re-attached on reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    inputs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    model_version: Mapped[str | None] = mapped_column(String(128))
    hostname: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(Text)
    # Filled by finish_run from run_files; a running (or killed) run is counted live instead.
    files_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    files_ok: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    files_error: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    files_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    first_path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    pages: Mapped[int | None] = mapped_column(Integer)
    text_source: Mapped[str | None] = mapped_column(String(32))
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())

    predictions: Mapped[list[Prediction]] = relationship(back_populates="document", viewonly=True)
    labels: Mapped[list[Label]] = relationship(
        back_populates="document", viewonly=True, order_by="Label.version"
    )


class RunFile(Base):
    """One input path of one run: ties a document to every path and run it was seen under, and keeps
    files that could not even be hashed (no document) from vanishing."""

    __tablename__ = "run_files"
    __table_args__ = (
        UniqueConstraint("run_id", "path"),
        CheckConstraint(_in("outcome", FILE_OUTCOMES), name="outcome"),
        Index(None, "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("document_id", "model_version"),
        CheckConstraint(_in("status", PREDICTION_STATUSES), name="status"),
        CheckConstraint(f"route IS NULL OR {_in('route', ROUTES)}", name="route"),
        Index(None, "run_id"),
        Index(None, "model_version", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    model_version: Mapped[str] = mapped_column(String(128))  # "" when no model was involved
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(String(64))
    class_code: Mapped[str | None] = mapped_column(String(32))
    class_name: Mapped[str | None] = mapped_column(Text)
    item_code: Mapped[str | None] = mapped_column(String(32))
    item_name: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    class_confidence: Mapped[float | None] = mapped_column(Float)
    route: Mapped[str | None] = mapped_column(String(16))
    out_of_catalogue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # multi-document files
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())

    document: Mapped[Document] = relationship(back_populates="predictions", viewonly=True)


class Label(Base):
    """A filing decision. Rows are never deleted or edited except to clear ``is_current`` when a newer
    label supersedes them; ``version`` numbers a document's chain 1, 2, 3… and doubles as the optimistic
    concurrency token (``set_label(expected_version=…)``). ``item_code`` NULL means "no catalogue item
    applies" (a reviewer's out-of-catalogue decision)."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        CheckConstraint(_in("source", LABEL_SOURCES), name="source"),
        CheckConstraint("version >= 1", name="version_positive"),
        # At most one current label per document, enforced by the database (partial unique index).
        Index(
            "uq_labels_current_document_id", "document_id", unique=True,
            sqlite_where=text("is_current"), postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    item_code: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id"))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    created_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    # Tags as the reviewer corrected them (TagsOut fields); NULL: the prediction's tags stand.
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    document: Mapped[Document] = relationship(back_populates="labels", viewonly=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "entity_type", "entity_id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    old: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """A review workbench account. Never deleted: deactivated (``is_active``), so audit actors stay named."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    password_changed_at: Mapped[datetime | None]


class ReviewSession(Base):
    """A workbench login. The signed cookie carries a random token and this table only its sha256;
    logging out revokes the row, so a copied cookie stops working then, not only when it expires."""

    __tablename__ = "review_sessions"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
