"""Two processes inserting overlapping patients, studies, series and images at once."""

from __future__ import annotations

import multiprocessing as mp
import random
from multiprocessing.synchronize import Barrier

import pytest
from pydicom.uid import generate_uid
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pacsflow.database.crud import insert_records
from pacsflow.database.engine import make_engine
from pacsflow.database.models import Image, Patient, Series, Study
from pacsflow.database.session import session_scope
from pacsflow.dicom.records import ImageRecord, dcm2records
from tests.factories import make_dataset

N_PATIENTS = 20
STUDIES_PER_PATIENT = 3
SERIES_PER_STUDY = 2
IMAGES_PER_SERIES = 5
BATCH = 40


def _records() -> list[ImageRecord]:
    records = []
    for p in range(N_PATIENTS):
        for _ in range(STUDIES_PER_PATIENT):
            study_uid = generate_uid()
            for _ in range(SERIES_PER_STUDY):
                series_uid = generate_uid()
                for _ in range(IMAGES_PER_SERIES):
                    ds = make_dataset(
                        PatientID=f"P{p:03d}",
                        StudyInstanceUID=study_uid,
                        SeriesInstanceUID=series_uid,
                    )
                    records.append(dcm2records(ds))
    return records


def _writer(url: str, records: list[ImageRecord], reverse: bool, barrier: Barrier) -> None:
    # Both processes write the same new rows at the same time, one in the opposite
    # order: without a common lock order their transactions would deadlock.
    engine = make_engine(url)
    barrier.wait(timeout=60)
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        with session_scope(engine) as session:
            insert_records(session, batch[::-1] if reverse else batch)
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql", "sqlite"], indirect=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_processes_overlapping_batches_store_each_row_once(db_url: str, round_: int) -> None:
    records = _records()
    random.Random(round_).shuffle(records)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    workers = [
        ctx.Process(target=_writer, args=(db_url, records, reverse, barrier))
        for reverse in (False, True)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]

    engine = make_engine(db_url)
    with Session(engine) as session:

        def count(model: type) -> int:
            return session.scalar(select(func.count()).select_from(model)) or 0

        n_studies = N_PATIENTS * STUDIES_PER_PATIENT
        n_series = n_studies * SERIES_PER_STUDY
        assert count(Patient) == N_PATIENTS
        assert count(Study) == n_studies
        assert count(Series) == n_series
        assert count(Image) == n_series * IMAGES_PER_SERIES
        # Every image's series belongs to the study its study_uid names, and so on up.
        mismatched = session.scalar(
            text(
                "SELECT count(*) FROM images i JOIN series se ON se.id = i.series_id "
                "JOIN studies st ON st.id = se.study_id JOIN patients p ON p.id = st.patient_id "
                "WHERE se.series_uid <> i.series_uid OR st.study_uid <> i.study_uid "
                "OR p.patient_id <> i.patient_id"
            )
        )
        assert mismatched == 0
    engine.dispose()
