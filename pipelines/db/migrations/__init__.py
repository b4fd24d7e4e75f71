"""Alembic migrations for pipelines.db (run via pipelines.db.engine.upgrade)."""
