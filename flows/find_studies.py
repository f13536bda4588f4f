"""The ``find-studies`` flow: C-FIND a date range on a PACS and record the studies found."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.dates import resolve_range
from tasks.db import init_db_task
from tasks.pacs import find_studies_task
from tasks.settings import resolve_local, resolve_pacs

__all__ = ["find_studies_flow"]


@flow(name="find-studies")
def find_studies_flow(
    pacs_ae_title: str | None = None,
    pacs_host: str | None = None,
    pacs_port: int | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    days_back: int | None = None,
    modalities: list[str] | None = None,
    local_ae_title: str | None = None,
    result_cap: int = 1000,
    db_url: str | None = None,
) -> dict[str, Any]:
    """Find the studies dated ``start_date`` to ``end_date`` and record them in studies_find.

    Args:
        pacs_ae_title: the PACS's AE title, the called AE (default $PACSFLOW_PACS_AET).
        pacs_host: the PACS's host name or address (default $PACSFLOW_PACS_HOST).
        pacs_port: the PACS's DICOM port (default $PACSFLOW_PACS_PORT).
        start_date: the first study date (or give ``days_back``).
        end_date: the last study date (default: ``start_date``, or yesterday with
            ``days_back``).
        days_back: find the studies of the N days before the run's scheduled date
            (1: yesterday), for schedules that keep their parameters.
        modalities: only studies holding one of these modalities.
        local_ae_title: pacsflow's AE title, the calling AE; the PACS must list it
            (default $PACSFLOW_LOCAL_AET, else PACSFLOW).
        result_cap: the number of answers at which the PACS stops; reaching it splits
            the date window.
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).

    Returns:
        Counts: studies found, new in studies_find, queries sent; windows and days
        where studies may be missing.
    """
    pacs = resolve_pacs(pacs_ae_title, pacs_host, pacs_port)
    local = resolve_local(local_ae_title, None, None)
    first, last = resolve_range(start_date, end_date, days_back)
    init_db_task(db_url)
    result = find_studies_task(db_url, local, pacs, first, last, list(modalities or []), result_cap)
    create_table_artifact(
        [{"metric": k, "value": str(v)} for k, v in result.items()],
        key="find-studies-summary",
        description=f"find-studies {first}..{last} on {pacs}",
    )
    get_run_logger().info(
        "%d studies found on %s (%d new) in %d queries",
        result["studies_found"],
        pacs,
        result["studies_new"],
        result["queries"],
    )
    return result
