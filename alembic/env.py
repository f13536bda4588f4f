"""Alembic environment for pacsflow: one chain for SQLite and PostgreSQL.

Called two ways: by :func:`pacsflow.database.schema.initialize_database`, which hands
over an open connection (or a URL for offline SQL) in ``config.attributes``,
and by the ``alembic`` command from a checkout, which reads the URL from
``PACSFLOW_DB_URL``. Logging is configured only in the second case, and
never below INFO: migrations must not flood a user's logs.
"""

from __future__ import annotations

from logging.config import fileConfig

from sqlalchemy import Connection, pool

from alembic import context
from flows.config import default_db_url
from pacsflow.database.engine import is_sqlite, make_engine
from pacsflow.database.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and not config.attributes.get("programmatic"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("url") or default_db_url()
    return str(url)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER constraints: batch mode rebuilds the table instead.
        render_as_batch=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``echo`` in initialize_database)."""
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_online(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection given, or on a fresh engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_online(connection)
        return
    url = _url()
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        if is_sqlite(url):
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # batch table rebuilds
        _run_online(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
