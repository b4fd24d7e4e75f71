"""Storage: SQLAlchemy 2 models, Alembic migrations and the transactional functions the pipeline calls.

SQLite (WAL) is the embedded default; PostgreSQL is one URL away (``DANGAN_DATABASE_URL``).
Use :func:`engine.make_engine`, then :func:`engine.upgrade`, then the functions in :mod:`.repository`.
"""

from __future__ import annotations

from pipelines.db.engine import default_url, make_engine, session_factory, upgrade

__all__ = ["default_url", "make_engine", "session_factory", "upgrade"]
