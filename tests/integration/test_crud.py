"""The data-access functions on SQLite and PostgreSQL: upserts, links, seed semantics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pacsflow.database.crud import insert_records
from pacsflow.database.models import Image, IngestConflict, Patient, Series, Study, StudyFind
from pacsflow.db import (
    add_found_studies,
    add_found_study,
    add_image,
    add_images,
    get_studies_to_move,
    get_study_uids_to_move,
    update_retrieved_study,
)
from pacsflow.dicom.records import dcm2records
from tests.factories import make_dataset, make_find_answer, make_study, write_dataset


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_add_image_twice_keeps_one_row(session: Session) -> None:
    ds = make_dataset()
    first = add_image(session, ds, institution="H")
    assert first is not None
    assert first.id is not None
    assert add_image(session, ds, institution="H") is None
    assert [_count(session, m) for m in (Patient, Study, Series, Image)] == [1, 1, 1, 1]


def test_add_image_from_a_path_stores_the_path_and_every_column(
    session: Session, tmp_path: Path
) -> None:
    ds = make_dataset(PatientName="Yamada^Tarou=山田^太郎", SpecificCharacterSet="ISO_IR 192")
    path = write_dataset(ds, tmp_path / "a.dcm")
    image = add_image(session, str(path), institution="H")
    assert image is not None
    session.expunge_all()
    stored = session.scalars(select(Image)).one()
    assert stored.filepath == str(path)
    assert stored.patient_name == "Yamada^Tarou=山田^太郎"
    assert stored.acquisition_time == dt.time(10, 15, 30, 250000)
    assert stored.study_date == dt.date(2024, 1, 15)
    assert stored.meta is not None
    assert stored.meta["00080060"]["Value"] == ["CT"]
    assert "7FE00010" not in stored.meta
    patient = session.scalars(select(Patient)).one()
    assert patient.institution == "H"
    assert patient.patient_birth_date == dt.date(1970, 1, 1)
    study = session.scalars(select(Study)).one()
    assert study.patient_age == 54.0
    assert study.patient_id == patient.id


def test_new_patient_whose_study_exists_keeps_every_row(session: Session) -> None:
    # pacsanini lost the new patient here (rollback on the duplicate study).
    first = make_dataset(PatientID="P1")
    add_image(session, first)
    second = make_dataset(PatientID="P2", StudyInstanceUID=first.StudyInstanceUID)
    assert add_image(session, second) is not None
    assert sorted(session.scalars(select(Patient.patient_id))) == ["P1", "P2"]
    assert _count(session, Study) == 1
    assert _count(session, Image) == 2
    study = session.scalars(select(Study)).one()
    owner = session.get(Patient, study.patient_id)
    assert owner is not None
    assert owner.patient_id == "P1"
    assert _conflicts(session) == [(second.SOPInstanceUID, "studies", "patient_id")]


def test_new_study_whose_series_exists_reuses_the_series(session: Session) -> None:
    first = make_dataset()
    add_image(session, first)
    second = make_dataset(SeriesInstanceUID=first.SeriesInstanceUID)
    assert add_image(session, second) is not None
    assert _count(session, Study) == 2
    assert _count(session, Series) == 1
    series_ids = set(session.scalars(select(Image.series_id)))
    assert series_ids == {session.scalars(select(Series.id)).one()}


def test_duplicate_image_does_not_undo_earlier_work_in_the_session(session: Session) -> None:
    ds = make_dataset()
    add_image(session, ds)
    add_found_studies(session, [make_find_answer("1.2.3.99")])  # pending, not committed
    assert add_image(session, ds) is None
    session.rollback()  # anything not committed by add_image would vanish here
    assert session.scalars(select(StudyFind.study_uid)).all() == ["1.2.3.99"]


def test_add_images_stores_a_batch_and_reports_bad_datasets(session: Session) -> None:
    study = make_study(n_series=2, n_images=3)
    bad = make_dataset(SOPInstanceUID=None)
    result = add_images(
        session, [(ds, f"/d/{i}.dcm") for i, ds in enumerate(study)] + [(bad, "/d/bad.dcm")]
    )
    session.commit()
    counts = result.counts
    assert (counts.patients, counts.studies, counts.series, counts.images) == (1, 1, 2, 6)
    assert len(result.failures) == 1
    path, reason = result.failures[0]
    assert path == "/d/bad.dcm"
    assert "(0008,0018) SOPInstanceUID" in reason
    again = add_images(session, study)
    assert (again.counts.patients, again.counts.images) == (0, 0)
    assert _count(session, Image) == 6


def test_insert_records_dedupes_within_a_batch(session: Session) -> None:
    ds = make_dataset()
    record = dcm2records(ds)
    counts = insert_records(session, [record, record, dcm2records(ds, filepath="/x.dcm")])
    session.commit()
    assert counts.images == 1
    assert _count(session, Image) == 1


def test_header_json_with_nul_characters_is_stored(session: Session) -> None:
    ds = make_dataset(StudyDescription="CHEST\x00\x00", ImageComments="a\\u0000b")
    assert add_image(session, ds) is not None
    session.expunge_all()
    meta = session.scalars(select(Image.meta)).one()
    assert meta is not None
    assert meta["00081030"]["Value"] == ["CHEST"]
    assert meta["00204000"]["Value"] == ["a\\u0000b"]  # an escaped backslash stays as it was


def test_found_study_then_images_links_the_study(session: Session) -> None:
    datasets = make_study(n_images=2)
    found = add_found_study(
        session, make_find_answer(datasets[0].StudyInstanceUID, NumberOfStudyRelatedInstances="2")
    )
    assert found is not None
    assert found.expected_instances == 2
    add_images(session, datasets)
    session.commit()
    study = session.scalars(select(Study)).one()
    assert study.study_find_id == found.id


def test_images_then_found_study_links_the_study(session: Session) -> None:
    datasets = make_study(n_images=1)
    add_images(session, datasets)
    result = add_found_studies(session, [make_find_answer(datasets[0].StudyInstanceUID)])
    session.commit()
    assert result.inserted == 1
    study = session.scalars(select(Study)).one()
    assert study.study_find_id == session.scalars(select(StudyFind.id)).one()


def test_add_found_study_ignores_repeats(session: Session) -> None:
    assert add_found_study(session, make_find_answer("1.2.3")) is not None
    assert add_found_study(session, make_find_answer("1.2.3")) is None
    assert _count(session, StudyFind) == 1


def test_add_found_studies_counts_new_and_invalid_answers(session: Session) -> None:
    no_uid = make_find_answer("1.2.3")
    del no_uid.StudyInstanceUID
    result = add_found_studies(
        session, [make_find_answer("1.2.3"), make_find_answer("1.2.4"), make_find_answer("1.2.3")]
    )
    assert result.inserted == 2
    result = add_found_studies(
        session, [make_find_answer("1.2.4"), make_find_answer("1.2.5"), no_uid]
    )
    session.commit()
    assert result.inserted == 1
    assert len(result.invalid) == 1
    assert "StudyInstanceUID" in result.invalid[0]
    assert _count(session, StudyFind) == 3


def test_studies_to_move_are_unretrieved_oldest_first(session: Session) -> None:
    add_found_studies(
        session,
        [
            make_find_answer("1.3", "20240301"),
            make_find_answer("1.1", "20240101"),
            make_find_answer("1.2", "20240201"),
        ],
    )
    session.commit()
    assert get_study_uids_to_move(session) == ["1.1", "1.2", "1.3"]
    assert get_study_uids_to_move(session, limit=2) == ["1.1", "1.2"]
    update_retrieved_study(session, "1.2")
    assert [s.study_uid for s in get_studies_to_move(session)] == ["1.1", "1.3"]


def test_update_retrieved_study_sets_the_time_once(session: Session) -> None:
    add_found_study(session, make_find_answer("1.2.3"))
    first = update_retrieved_study(session, "1.2.3")
    assert first is not None
    assert first.retrieved_on is not None
    when = first.retrieved_on
    again = update_retrieved_study(session, "1.2.3")
    assert again is not None
    assert again.retrieved_on == when
    assert update_retrieved_study(session, "9.9.9") is None


def _conflicts(session: Session) -> list[tuple[str, str, str]]:
    query = select(IngestConflict.image_uid, IngestConflict.table_name, IngestConflict.column_name)
    return sorted((uid, table, column) for uid, table, column in session.execute(query))


def test_images_without_patient_id_get_one_flagged_patient_per_study(session: Session) -> None:
    first, second = make_study(n_images=2, PatientID=None)
    other = make_dataset(PatientID="")
    for ds in (first, second, other):
        assert add_image(session, ds) is not None
    add_images(session, [first, second, other])  # a re-run adds nothing
    session.commit()
    patients = {p.patient_id: p for p in session.scalars(select(Patient))}
    assert set(patients) == {
        f"no-patient-id:{first.StudyInstanceUID}",
        f"no-patient-id:{other.StudyInstanceUID}",
    }
    assert all(p.patient_id_missing for p in patients.values())
    assert _count(session, Image) == 3
    with_id = make_dataset(PatientID="P9")
    add_image(session, with_id)
    flagged = session.scalars(select(Patient).where(Patient.patient_id == "P9")).one()
    assert flagged.patient_id_missing is False


def test_conflicting_parent_values_are_recorded_once_per_image_and_column(
    session: Session,
) -> None:
    first = make_dataset(PatientID="P1", PatientName="Doe^Jane", AccessionNumber="A1")
    renamed = make_dataset(
        PatientID="P1",
        PatientName="Roe^Jane",
        StudyInstanceUID=first.StudyInstanceUID,
        SeriesInstanceUID=first.SeriesInstanceUID,
        AccessionNumber="A2",
        Modality="MR",
    )
    # In one batch: the first file wins within the batch too.
    counts = insert_records(session, [dcm2records(first), dcm2records(renamed)], flow_run_id="r1")
    session.commit()
    assert counts.conflicts == 3
    assert _conflicts(session) == sorted(
        [
            (renamed.SOPInstanceUID, "patients", "patient_name"),
            (renamed.SOPInstanceUID, "studies", "accession_number"),
            (renamed.SOPInstanceUID, "series", "modality"),
        ]
    )
    rows = session.scalars(select(IngestConflict)).all()
    assert {r.flow_run_id for r in rows} == {"r1"}
    assert "Roe" not in repr([(r.table_name, r.column_name, r.path) for r in rows])
    patient = session.scalars(select(Patient)).one()
    assert patient.patient_name == "Doe^Jane"  # first wins
    # The image keeps its own value; a re-run of the same images records nothing new.
    assert (
        session.scalars(
            select(Image.patient_name).where(Image.image_uid == renamed.SOPInstanceUID)
        ).one()
        == "Roe^Jane"
    )
    again = insert_records(session, [dcm2records(renamed)])
    session.commit()
    assert again.conflicts == 0
    assert len(_conflicts(session)) == 3


def test_a_missing_value_is_no_conflict(session: Session) -> None:
    first = make_dataset(PatientID="P1")
    quiet = make_dataset(PatientID="P1", PatientName=None, PatientBirthDate=None)
    add_images(session, [first, quiet])
    session.commit()
    assert _conflicts(session) == []
