"""Alembic environment. Normally driven by :func:`pipelines.db.engine.upgrade`, which passes an open
connection (inside its transaction) in ``config.attributes["connection"]``; the ``alembic`` command
line works too, given ``-x url=…`` or ``DANGAN_DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context

from pipelines.db.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations use batch mode (copy-and-move) there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():  # joins the caller's transaction
            context.run_migrations()
        return

    from pipelines.db.engine import make_engine

    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DANGAN_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
