"""Engines, sessions and migrations.

* :func:`make_engine` — SQLite gets WAL, ``foreign_keys=ON`` and a busy timeout on every connection, and
  transactions that write start with ``BEGIN IMMEDIATE`` (see :data:`WRITE`), so concurrent writers queue
  on the busy timeout instead of failing with "database is locked". ``postgresql://`` URLs use psycopg 3.
* :func:`upgrade` — ``alembic upgrade head`` from Python, with the migrations found next to this file
  (works from an installed package, whatever the working directory). Safe to call on every start and
  from several processes at once: it serialises on a lock and does nothing when already at head.
* :func:`session_factory` — a ``sessionmaker`` for the repository functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DB_FILENAME = "dangan.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option: this transaction will write. On SQLite it starts with BEGIN IMMEDIATE (takes the
# write lock up front, waiting on busy_timeout) instead of a deferred BEGIN, which cannot wait when a
# read later turns into a write and another writer has committed meanwhile (SQLITE_BUSY_SNAPSHOT).
WRITE = "dangan_write"
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent migrations.
_PG_MIGRATION_LOCK = 0x64616E67


def default_url(home: Path) -> str:
    """The embedded database inside ``DANGAN_HOME``: ``sqlite:///<home>/dangan.db``."""
    return f"sqlite:///{Path(home).expanduser().resolve() / DB_FILENAME}"


def _normalise(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    url = _normalise(url)
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, echo=echo, **kwargs)

    if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, echo=echo, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Driver-level autocommit: SQLAlchemy emits BEGIN itself (below), which the sqlite3 module
        # otherwise does lazily and only before DML — wrong for DDL, SAVEPOINT and BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _ensure_wal(cur)
            cur.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across process crashes
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _ensure_wal(cur: Any) -> None:
    """Switch the database to WAL (a setting stored in the file) unless it is already.

    Switching needs the database to itself, and SQLite does not wait on ``busy_timeout`` for that:
    with another connection mid-transaction (a migration, at first start) it fails at once with
    "database is locked". So: only switch when needed, and retry until the busy timeout.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects read in a finished transaction stay usable (the web app renders them).
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return cfg


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest) in one transaction."""
    _migrate("upgrade", url, revision)


def downgrade(url: str | Engine, revision: str) -> None:
    _migrate("downgrade", url, revision)


def _migrate(direction: str, url: str | Engine, revision: str) -> None:
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                getattr(command, direction)(cfg, revision)
    finally:
        if engine is not url:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()

