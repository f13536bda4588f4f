"""The ``init-db`` flow: create the database if needed, migrate it to the newest schema."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.config import open_database
from flows.run_names import init_db_run_name
from pacsflow.database.engine import mask_url
from tasks.database import DatabaseSummary, init_db_task

__all__ = ["init_db"]


@flow(name="init-db", flow_run_name=init_db_run_name)
def init_db(db_url: str | None = None, echo: bool = False) -> DatabaseSummary:
    """Create the database if missing and bring its schema to the newest revision.

    Safe to run on a database in use: only missing revisions are applied. A
    database made by pacsanini 0.2.1 is adopted, every row kept.

    Args:
        db_url: the database URL without password (the password comes from
            PACSFLOW_DB_PASSWORD); default PACSFLOW_DB_URL, else the SQLite file.
        echo: print the DDL of the revisions applied.

    Returns:
        ``revision``: the schema revision the database is at; ``adopted_pacsanini``:
        for a pacsanini database, the rows kept per table and the values
        converted or left as they were (counts), else None.
    """
    url = open_database(db_url)
    result = init_db_task(url, echo)
    logger = get_run_logger()
    logger.info("%s is at revision %s", mask_url(url), result.revision)
    if result.adopted_pacsanini:
        logger.info("Adopted a pacsanini 0.2.1 database: %s", result.adopted_pacsanini.as_dict())
    return result
