"""Build the pacsanini 0.2.1 databases that tests/integration/test_pacsanini_adoption.py adopts.

Run with pacsanini itself, in a venv of its own (never pacsflow's):

    python3 -m venv /tmp/pacsanini-venv
    /tmp/pacsanini-venv/bin/pip install pacsanini==0.2.1 "numpy<2" "Werkzeug<2.1" \
        "alembic==1.7.4" psycopg2-binary
    /tmp/pacsanini-venv/bin/python tests/data/pacsanini/make_fixtures.py \
        [--pg-url postgresql://postgres@127.0.0.1:PORT/pacsanini_fixture]

It writes DICOM files (pydicom 2, as pacsanini's users had them) to
``files/``, then, through pacsanini's public API only (initialize_database,
parse_dir2sql, add_found_study, update_retrieved_study), fills
``pacsanini-0.2.1.sqlite`` and, with --pg-url, a PostgreSQL database dumped
to ``pacsanini-0.2.1-postgresql.sql`` (pg_dump --no-owner). The data carries
what pacsanini stored wrongly: times as floats (-1 when absent), a patient
name NULL, ages -1, a StudyInstanceUID that is not a UID ("study1"), and
dates as datetimes. The files stay next to the databases, so a test can
re-ingest the folder pacsanini ingested.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

HERE = Path(__file__).resolve().parent
CT = "1.2.840.10008.5.1.4.1.1.2"
ROOT = "1.2.826.0.1.3680043.10.1341.77"

# (patient, name, birth, age, study, date, accession, [(series, modality, [(sop, time)])])
PATIENTS = [
    (
        "PSN001",
        "Alpha^Ann",
        "19600102",
        "064Y",
        [
            (
                "1",
                "20210301",
                "PA1",
                [
                    ("1.1", "CT", [("1.1.1", "101530.250"), ("1.1.2", "101531")]),
                    ("1.2", "CT", [("1.2.1", None)]),
                ],
            ),
            ("2", "20210915", "PA2", [("2.1", "MR", [("2.1.1", "093000")])]),
        ],
    ),
    (
        "PSN002",
        None,
        "19751212",
        None,
        [
            (
                "3",
                "20211120",
                "PA3",
                [("3.1", "CR", [("3.1.1", "235959.999999"), ("3.1.2", "12")])],
            ),
        ],
    ),
]


def _dataset(patient, name, birth, age, study, date, accession, series, modality, sop, time):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.{sop}"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = f"{ROOT}.{sop}"
    ds.StudyInstanceUID = f"{ROOT}.{study}"
    ds.SeriesInstanceUID = f"{ROOT}.{series}"
    ds.StudyDate = date
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.Manufacturer = "ACME" if modality != "MR" else "Other Corp"
    ds.ManufacturerModelName = "Model 1"
    ds.PatientID = patient
    if name is not None:
        ds.PatientName = name
    ds.PatientBirthDate = birth
    if age is not None:
        ds.PatientAge = age
    if time is not None:
        ds.AcquisitionTime = time
    ds.SeriesNumber = series.split(".")[-1]
    ds.InstanceNumber = sop.split(".")[-1]
    return ds


def write_files(folder: Path) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    paths = []
    for patient, name, birth, age, studies in PATIENTS:
        for study, date, accession, series_list in studies:
            for series, modality, images in series_list:
                for sop, time in images:
                    ds = _dataset(
                        patient,
                        name,
                        birth,
                        age,
                        study,
                        date,
                        accession,
                        series,
                        modality,
                        sop,
                        time,
                    )
                    path = folder / study / series / f"{sop}.dcm"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    ds.save_as(path, write_like_original=False)
                    paths.append(path)
    return paths


def find_answer(study_uid: str, date: str, patient: str, name: str, accession: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = date
    ds.PatientID = patient
    ds.PatientName = name
    ds.AccessionNumber = accession
    return ds


def create_schema(url: str) -> None:
    """pacsanini's schema as its users could get it on each database.

    SQLite: ``initialize_database`` (Alembic revision eef30b8456eb, tables and
    views). PostgreSQL: ``initialize_database`` fails there (its migration
    creates ``alembic_version`` a second time) and so does ``create_all`` with
    the views (study_metadata's GROUP BY is invalid on PostgreSQL), so
    pacsanini's users had its five model tables alone (``Table.create``, which
    fires no view DDL): no views, no ``alembic_version``.
    """
    from pacsanini.config import PacsaniniConfig, StorageConfig
    from pacsanini.db import models
    from pacsanini.db.utils import initialize_database
    from sqlalchemy import create_engine

    if url.startswith("sqlite"):
        config = PacsaniniConfig(storage=StorageConfig(resources=url, directory="./"))
        initialize_database(config, echo=False)
        return
    engine = create_engine(url)
    for model in (models.StudyFind, models.Patient, models.Study, models.Series, models.Image):
        model.__table__.create(engine)
    engine.dispose()


def fill(url: str, files: Path) -> None:
    from pacsanini.db.crud import DBWrapper, add_found_study, update_retrieved_study
    from pacsanini.db.parser import parse_dir2sql

    create_schema(url)
    # DBWrapper, not get_db_session: the latter fails on PostgreSQL (connect_args=None).
    with DBWrapper(url) as wrapper:
        session = wrapper.conn()
        for answer in [
            find_answer(f"{ROOT}.1", "20210301", "PSN001", "Alpha^Ann", "PA1"),
            find_answer(f"{ROOT}.2", "20210915", "PSN001", "Alpha^Ann", "PA2"),
            find_answer(f"{ROOT}.9", "20220101", "PSN009", "Nine^Nina", "PA9"),  # never moved
            find_answer("study1", "20220202", "PSN010", "Ten^Tom", "PA10"),  # not a UID
        ]:
            add_found_study(session, answer)
        update_retrieved_study(session, f"{ROOT}.1")
        update_retrieved_study(session, f"{ROOT}.2")
    parse_dir2sql(str(files), url, institution_name="PACSANINI")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", help="an empty PostgreSQL database to fill and dump")
    args = parser.parse_args()
    files = HERE / "files"
    write_files(files)
    sqlite = HERE / "pacsanini-0.2.1.sqlite"
    sqlite.unlink(missing_ok=True)
    fill(f"sqlite:///{sqlite}", files)
    print(f"wrote {sqlite}")
    if args.pg_url:
        fill(args.pg_url, files)
        dump = HERE / "pacsanini-0.2.1-postgresql.sql"
        text = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", args.pg_url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # \restrict lines (pg_dump >= 17.6, 15.14) would tie the file to recent psql versions.
        lines = [
            line
            for line in text.splitlines()
            if not line.startswith(("\\restrict", "\\unrestrict"))
        ]
        dump.write_text("\n".join(lines) + "\n")
        print(f"wrote {dump}")


if __name__ == "__main__":
    main()
