"""A cohort's series filter binds it once a study was tried under it, not before.

A first run that fails before its first study (here: the PACS is
unreachable) leaves the filter open: a run with another filter is accepted
and stores its own. Once a study of the cohort has been tried under the
stored filter, another filter is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from sqlalchemy import Engine, select

from flows.cohort import cohort_flow
from flows.options import CohortSelection
from pacsflow.cohorts.bookkeeping import CohortMismatchError, record_cohort, record_item_finds
from pacsflow.cohorts.cohort_file import CohortItemKeys, CohortSource
from pacsflow.cohorts.find import ItemFind
from pacsflow.database.models import Cohort
from pacsflow.database.session import session_scope
from pacsflow.errors import PacsflowError
from pacsflow.net.nodes import LocalAE, PacsNode
from pacsflow.retrieval.attempts import SeriesSelection, record_attempt
from pacsflow.retrieval.series_filter import SeriesFilter
from tests.peers.ports import free_port

pytestmark = pytest.mark.integration

CT, MR = SeriesFilter(modalities=["CT"]), SeriesFilter(modalities=["MR"])
STUDY_UID = "1.2.826.0.1.3680043.10.1341.77"


def _stored_filter(engine: Engine, name: str) -> SeriesFilter:
    with session_scope(engine) as session:
        raw = session.scalar(select(Cohort.series_filter).where(Cohort.name == name))
    return SeriesFilter.from_json(raw)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # pynetdicom, refused connections
@pytest.mark.usefixtures("prefect_api_url")
def test_a_run_failing_before_its_first_study_leaves_the_filter_open(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cohort_file = tmp_path / "unreached.csv"
    cohort_file.write_text("AccessionNumber\nACC-UNREACHED\n")
    unreachable = PacsNode("NOPACS", "127.0.0.1", free_port())  # nothing listens there

    def run(series: SeriesFilter) -> None:
        cohort_flow(
            cohort=CohortSource(file=str(cohort_file)),
            pacs=unreachable,
            local=LocalAE(port=free_port()),
            storage=str(tmp_path / "storage"),
            series=series,
            selection=CohortSelection(),
            db_url=db_url,
        )

    with pytest.raises(PacsflowError) as first:
        run(CT)
    assert not isinstance(first.value, CohortMismatchError)
    assert _stored_filter(engine, "unreached") == CT  # stored, applied by a run by name
    with pytest.raises(PacsflowError) as second:
        run(MR)
    assert not isinstance(second.value, CohortMismatchError), "the filter was bound"
    assert _stored_filter(engine, "unreached") == MR


def test_a_study_tried_under_the_filter_binds_it(db_url: str, engine: Engine) -> None:
    items = [CohortItemKeys(row=1, study_uid=STUDY_UID)]
    with session_scope(engine) as session:
        cohort = record_cohort(session, "tried", items, CT)
    found = Dataset()
    found.StudyInstanceUID, found.StudyDate = STUDY_UID, "20240501"
    found.QueryRetrieveLevel = "STUDY"
    record_item_finds(engine, cohort.cohort_id, [ItemFind(row=1, studies=[found])])
    with session_scope(engine) as session:
        record_attempt(
            session,
            STUDY_UID,
            complete=False,
            received=0,
            expected=None,
            error="cut short",
            selection=SeriesSelection(CT.to_json(), 1, 2),
        )
    with session_scope(engine) as session, pytest.raises(CohortMismatchError, match="CT"):
        record_cohort(session, "tried", items, MR)
    with session_scope(engine) as session:  # without series options: the stored one
        assert record_cohort(session, "tried", items, None).series_filter == CT
