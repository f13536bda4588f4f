"""The ``find-studies`` flow: C-FIND a date range on a PACS and record the studies found."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.dates import DateRange, resolve_range
from flows.run_names import find_run_name
from pacsflow.net.nodes import LocalAE, PacsNode
from tasks.database import init_db_task
from tasks.pacs import find_studies_task
from tasks.settings import resolve_local, resolve_pacs

__all__ = ["find_studies_flow"]


@flow(name="find-studies", flow_run_name=find_run_name)
def find_studies_flow(
    dates: DateRange | None = None,
    pacs: PacsNode | None = None,
    local: LocalAE | None = None,
    modalities: list[str] | None = None,
    result_cap: int = 1000,
    db_url: str | None = None,
) -> dict[str, Any]:
    """Find the studies of a date range on the PACS and record them in studies_find.

    Args:
        dates: the study dates (``start_date``/``end_date``, or ``days_back``
            for schedules that keep their parameters).
        pacs: the PACS and its ``transport`` (``c-move``, ``c-get``, or ``dicomweb``
            with ``dicomweb_url``); default $PACSFLOW_PACS_AET, $PACSFLOW_PACS_HOST,
            $PACSFLOW_PACS_PORT, $PACSFLOW_TRANSPORT, $PACSFLOW_PACS_DICOMWEB_URL.
        local: pacsflow's AE; its AE title is the calling AE, which the PACS
            must list (default $PACSFLOW_LOCAL_AET, else PACSFLOW).
        modalities: only studies holding one of these modalities.
        result_cap: the number of answers at which the PACS stops; reaching it
            splits the date window.
        db_url: the database URL without password (default PACSFLOW_DB_URL, else SQLite).

    Returns:
        Counts: studies found, new in studies_find, queries sent; windows and days
        where studies may be missing.
    """
    pacs = pacs or resolve_pacs(None, None, None)
    local = local or resolve_local(None, None, None)
    first, last = resolve_range(dates)
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
