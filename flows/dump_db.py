"""The ``dump-db`` flow: write pacsflow tables to CSV files, one per table."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.config import open_database
from flows.run_names import dump_run_name
from tasks.database import dump_db_task

__all__ = ["dump_db"]


@flow(name="dump-db", flow_run_name=dump_run_name)
def dump_db(output: str, db_url: str | None = None, tables: list[str] | None = None) -> list[str]:
    """Dump the tables to ``<output>/<table>.csv``.

    Args:
        output: the folder for the CSV files (created if missing).
        db_url: the database URL without password (the password comes from
            PACSFLOW_DB_PASSWORD); default PACSFLOW_DB_URL, else the SQLite file.
        tables: the tables to dump; default all of them.

    Returns:
        The paths of the CSV files written.
    """
    paths = dump_db_task(open_database(db_url), output, tables)
    get_run_logger().info("Wrote %d CSV files to %s", len(paths), output)
    return paths
