"""Create and migrate the pacsflow database with the packaged Alembic chain.

The chain lives in ``alembic/`` at the repository root; the wheel carries a
copy as ``pacsflow/_migrations`` so that an installed pacsflow can migrate
without a checkout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, pool, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from alembic import command
from pacsflow.database.engine import make_engine, mask_url
from pacsflow.database.pacsanini_adoption import (
    PACSANINI_REVISION,
    AdoptionReport,
    adopt_pacsanini,
    is_pacsanini_schema,
)
from pacsflow.errors import DatabaseUnreachableError

LOGGER = logging.getLogger(__name__)

_LOCK_KEY = int.from_bytes(b"pacsflow", "big")
"""PostgreSQL advisory lock held while a database is created or its schema migrated."""
# Raised by a CREATE DATABASE that lost a race: duplicate_database, or the unique
# index of pg_database when both creations got past the existence check.
_ALREADY_CREATED = frozenset({"42P04", "23505"})

__all__ = [
    "alembic_config",
    "check_server_reachable",
    "current_revision",
    "database_url",
    "downgrade_database",
    "ensure_database",
    "head_revision",
    "initialize_database",
    "migrations_dir",
]


def migrations_dir() -> Path:
    """Where the Alembic chain is: inside the installed package, or the checkout's ``alembic/``."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_migrations", package.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"pacsflow's migrations are missing: neither {package / '_migrations'} nor "
        f"{package.parent / 'alembic'} holds env.py; reinstall pacsflow"
    )


def alembic_config(url: str | URL, *, output: TextIO | None = None) -> Config:
    """An Alembic configuration for the packaged chain and this database.

    The URL travels in ``attributes`` rather than the ini options, where a
    ``%`` in a password would break interpolation.
    """
    config = Config(output_buffer=output or sys.stdout)
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["programmatic"] = True
    config.attributes["url"] = make_url(url).render_as_string(hide_password=False)
    return config


def head_revision() -> str:
    """The newest revision of the chain."""
    script = ScriptDirectory(str(migrations_dir()))
    head = script.get_current_head()
    assert head is not None, "the migration chain has no revision"
    return head


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _sqlite_for_migration(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would not cover DDL; pacsflow
    # begins the transaction itself (BEGIN EXCLUSIVE, see _locked_schema).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=OFF")  # batch table rebuilds; a no-op inside BEGIN
    finally:
        cursor.close()


def _begin_exclusive(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN EXCLUSIVE")


def _migration_engine(url: str | URL) -> Engine:
    engine = make_engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_for_migration)
        event.listen(engine, "begin", _begin_exclusive)
    return engine


@contextmanager
def _locked_schema(url: str | URL) -> Iterator[Connection]:
    """A connection in a transaction that no other pacsflow process can migrate beside.

    SQLite: the transaction starts with ``BEGIN EXCLUSIVE``, so a second
    migrator waits (busy timeout) until the first commits. PostgreSQL: a
    transaction-level advisory lock. Either way the caller reads the current
    revision *after* taking the lock, so it sees the work of the one before.
    """
    engine = _migration_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn
    finally:
        engine.dispose()


def _connects(url: URL) -> bool:
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def ensure_database(conn_uri: str | URL) -> None:
    """Create the PostgreSQL database when it does not exist; safe for concurrent callers.

    SQLite needs nothing: connecting creates the file. On PostgreSQL the
    check and the ``CREATE DATABASE`` run under an advisory lock on the
    maintenance database, and a creation that loses a race anyway (another
    tool creating it) counts as done.

    Raises:
        sqlalchemy.exc.OperationalError: the server cannot be reached.
    """
    url = make_url(conn_uri)
    if url.get_backend_name() == "sqlite" or _connects(url):
        return
    admin = make_engine(
        url.set(database="postgres"), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                _create_database(conn, url)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
    finally:
        admin.dispose()


def _create_database(conn: Connection, url: URL) -> None:
    exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
    if conn.scalar(exists, {"name": url.database}) is not None:
        return
    LOGGER.info("Creating database %s", mask_url(url))
    name = conn.dialect.identifier_preparer.quote(str(url.database))
    try:
        conn.exec_driver_sql(f"CREATE DATABASE {name} ENCODING 'utf8' TEMPLATE template1")
    except DBAPIError as exc:
        if getattr(exc.orig, "pgcode", None) not in _ALREADY_CREATED:
            raise


def check_server_reachable(conn_uri: str | URL) -> None:
    """Fail fast, with one clear line, when the database server cannot be reached.

    For SQLite, the folder of the database file must exist. For a server, a
    connection to its maintenance database is opened and closed.

    Raises:
        DatabaseUnreachableError: with the masked URL and the driver's reason.
    """
    url = make_url(conn_uri)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or ".").parent
        if url.database and not folder.is_dir():
            raise DatabaseUnreachableError(f"{mask_url(url)}: the folder {folder} does not exist")
        return
    engine = make_engine(url.set(database="postgres"), poolclass=pool.NullPool)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnreachableError(f"cannot reach {mask_url(url)}: {reason}") from exc
    finally:
        engine.dispose()


def database_url(conn_uri: str | URL | Any) -> str | URL:
    """The URL itself, or the ``storage.resources`` of a pacsanini-style configuration object.

    pacsanini's callers pass their ``PacsaniniConfig``; it is read by duck
    typing, so pacsanini need not be installed.

    Raises:
        TypeError: neither a URL nor an object with ``storage.resources``.
    """
    if isinstance(conn_uri, str | URL):
        return conn_uri
    resources = getattr(getattr(conn_uri, "storage", None), "resources", None)
    if isinstance(resources, str | URL):
        return resources
    raise TypeError(
        f"give a database URL, or a configuration with storage.resources, not "
        f"{type(conn_uri).__name__}"
    )


def initialize_database(
    conn_uri: str | URL | Any, echo: bool = False, force_init: bool = False
) -> AdoptionReport | None:
    """Create the database if it does not exist, then upgrade its schema to the newest revision.

    Safe to run on an existing database: only missing revisions are applied. A
    database made by pacsanini 0.2.1 is adopted first, every row kept
    (:mod:`pacsflow.database.pacsanini_adoption`).

    Args:
        conn_uri: the database URL, or a pacsanini-style configuration whose
            ``storage.resources`` is the URL.
        echo: print the DDL of the revisions to apply to standard output first.
        force_init: accepted for compatibility with the seed, where it forced
            initialisation of an existing (e.g. empty SQLite) database. pacsflow
            always upgrades to the newest revision, so this changes nothing.

    Returns:
        What the adoption of a pacsanini database did (counts), or None when
        there was none to adopt.

    Raises:
        AdoptionError: a pacsanini database pacsflow cannot take as it is (nothing changed).
    """
    del force_init  # see docstring: upgrading is always safe
    conn_uri = database_url(conn_uri)
    shown = mask_url(conn_uri)
    ensure_database(conn_uri)
    head = head_revision()
    current = current_revision(conn_uri)
    if current == head:
        LOGGER.info("Database %s is already at revision %s", shown, head)
        return None
    config = alembic_config(conn_uri)
    if echo:
        ours = current is not None and current != PACSANINI_REVISION
        command.upgrade(config, f"{current}:head" if ours else "head", sql=True)
    report = None
    with _locked_schema(conn_uri) as conn:
        # Read again under the lock: a concurrent caller may have migrated meanwhile.
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            LOGGER.info("Database %s was migrated to %s by another process", shown, head)
            return None
        if is_pacsanini_schema(conn):
            report = adopt_pacsanini(conn, config)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    LOGGER.info("Database %s upgraded from %s to %s", shown, current or "empty", head)
    return report


def downgrade_database(conn_uri: str | URL, revision: str = "base") -> None:
    """Downgrade the schema to ``revision`` (``base`` drops every pacsflow table)."""
    config = alembic_config(conn_uri)
    with _locked_schema(conn_uri) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
