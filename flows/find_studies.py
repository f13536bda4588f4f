"""The ``find-studies`` flow: C-FIND a date range on a PACS and record the studies found."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.config import SiteParameter, open_site
from flows.dates import DateRange, is_subflow, resolve_range
from flows.options import Retrieval
from flows.run_names import find_run_name
from pacsflow.site import Site
from tasks.database import init_db_task
from tasks.pacs import FindSummary, find_studies_task

__all__ = ["find_studies_flow"]


@flow(name="find-studies", flow_run_name=find_run_name)
def find_studies_flow(
    dates: DateRange | None = None,
    modalities: list[str] | None = None,
    retrieval: Retrieval | None = None,
    site: SiteParameter = None,
) -> FindSummary:
    """Find the studies of a date range on the PACS and record them in studies_find.

    Args:
        dates: the study dates (``start_date``/``end_date``, or ``days_back``
            for schedules that keep their parameters).
        modalities: only studies holding one of these modalities.
        retrieval: ``result_cap``, the number of answers at which the PACS stops;
            reaching it splits the date window.
        site: ``pacs`` (AE title, host, port, transport, DICOMweb URL), ``local``
            (pacsflow's AE title, port, bind address), ``storage`` (the folder of
            received files) and ``db_url`` (without password); what is not given
            comes from the worker's environment (``PACSFLOW_*``).

    Returns:
        Counts: studies found, new in studies_find, queries sent; windows and days
        where studies may be missing.
    """
    opened_by_parent = isinstance(site, Site) and is_subflow()
    site = open_site(site, retrieval)
    first, last = resolve_range(dates)
    if not opened_by_parent:  # else the parent initialised the database
        init_db_task(site.db_url)
    result = find_studies_task(
        site.db_url,
        site.local,
        site.pacs,
        first,
        last,
        list(modalities or []),
        site.retrieval.result_cap,
    )
    create_table_artifact(
        [{"metric": k, "value": str(v)} for k, v in result.as_dict().items()],
        key="find-studies-summary",
        description=f"find-studies {first}..{last} on {site.pacs}",
    )
    get_run_logger().info(
        "%d studies found on %s (%d new) in %d queries",
        result.studies_found,
        site.pacs,
        result.studies_new,
        result.queries,
    )
    return result
