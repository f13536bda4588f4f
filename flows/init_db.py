"""The ``init-db`` flow: create the database if needed, migrate it to the newest schema."""

from __future__ import annotations

from prefect import flow, get_run_logger

from pacsflow.database.engine import mask_url
from tasks.database import init_db_task
from tasks.settings import resolve_db_url

__all__ = ["init_db"]


@flow(name="init-db")
def init_db(db_url: str | None = None, echo: bool = False) -> str:
    """Create the database if missing and bring its schema to the newest revision.

    Safe to run on a database in use: only missing revisions are applied.

    Args:
        db_url: the database URL without password (the password comes from
            PACSFLOW_DB_PASSWORD); default PACSFLOW_DB_URL, else the SQLite file.
        echo: print the DDL of the revisions applied.

    Returns:
        The schema revision the database is at.
    """
    revision = init_db_task(db_url, echo)
    get_run_logger().info("%s is at revision %s", mask_url(resolve_db_url(db_url)), revision)
    return revision
