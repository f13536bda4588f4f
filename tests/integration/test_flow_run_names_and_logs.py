"""What a flow run shows in the Prefect UI: a name that says what it does, and its logs.

The flows run under the session's Prefect server; names and logs are read
back from its API, as the UI reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import Log, State
from prefect.logging.handlers import APILogHandler

from flows.cohort import cohort_flow
from flows.config import SiteOptions
from flows.dates import DateRange
from flows.export import export_flow
from flows.ingest_dir import ingest_dir
from flows.init_db import init_db
from flows.move_studies import move_studies_flow
from flows.pipeline import pipeline
from pacsflow.cohorts.cohort_file import CohortSource
from pacsflow.demo.synthetic import write_synthetic_folder
from pacsflow.retrieval.attempts import StudyPick

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_api_url")]

JANUARY = DateRange(start_date=dt.date(2024, 1, 1), end_date=dt.date(2024, 1, 31))


def _run_id(state: State[Any]) -> uuid.UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return run_id


def _run_name(state: State[Any]) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(_run_id(state)).name


def _logs(state: State[Any]) -> list[Log]:
    APILogHandler().flush()  # the logs are sent in batches
    with get_client(sync_client=True) as client:
        return client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[_run_id(state)]))
        )


def test_runs_without_a_pacs_are_named_by_what_they_do(db_url: str, tmp_path: Path) -> None:
    """Named when they start: these fail at once (no PACS is configured), named all the same."""
    cohort_file = tmp_path / "big-lung.csv"
    cohort_file.write_text("PatientID\nPID0001\n")
    runs: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
        (cohort_flow, {"cohort": CohortSource(file=str(cohort_file))}, "cohort big-lung"),
        (
            cohort_flow,
            {"cohort": CohortSource(file=str(cohort_file), name="lungs 2024")},
            "cohort lungs 2024",
        ),
        (pipeline, {"dates": JANUARY}, "pipeline 2024-01-01..2024-01-31"),
        (
            move_studies_flow,
            {"pick": StudyPick(start_date=JANUARY.start_date, end_date=JANUARY.end_date)},
            "move 2024-01-01..2024-01-31",
        ),
        (
            move_studies_flow,
            {"pick": StudyPick(end_date=JANUARY.end_date)},  # what `run` picks: older ones too
            "move up to 2024-01-31",
        ),
        (move_studies_flow, {"pick": StudyPick(cohort="big-lung")}, "move cohort big-lung"),
    ]
    for flow, parameters, name in runs:
        state = flow(**parameters, site=SiteOptions(db_url=db_url), return_state=True)
        assert _run_name(state) == name
        assert "PID0001" not in _run_name(state)


def test_ingest_and_export_runs_are_named_by_their_folders_and_log_their_lines(
    db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "ward-7"
    write_synthetic_folder(folder, n_studies=1, series_per_study=1, images_per_series=2)
    pacsflow_logger = logging.getLogger("pacsflow")
    level = pacsflow_logger.level
    pacsflow_logger.setLevel(logging.INFO)  # as `pacsflow --verbose` does
    try:
        ingest = ingest_dir(str(folder), db_url=db_url, return_state=True)
        export = export_flow(str(tmp_path / "for-study-x"), db_url=db_url, return_state=True)
    finally:
        pacsflow_logger.setLevel(level)
    assert ingest.is_completed()
    assert export.is_completed()
    assert _run_name(ingest) == "ingest ward-7"
    assert _run_name(export) == "export for-study-x"
    for state in (ingest, export):
        logs = _logs(state)
        assert any(log.name.startswith("prefect.flow_runs") for log in logs), logs
        assert any(log.name.startswith("pacsflow.") for log in logs), [log.name for log in logs]


def test_init_db_run_is_named_by_its_database(empty_db_url: str) -> None:
    state = init_db(db_url=empty_db_url, return_state=True)
    assert state.is_completed()
    assert _run_name(state).startswith("init-db ")
