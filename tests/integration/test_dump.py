"""dump_database: one CSV per table, streamed, JSON as JSON, unknown tables refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from pacsflow.database.models import TABLES
from pacsflow.db import add_found_study, add_images, dump_database
from tests.factories import make_find_answer, make_study


def test_dump_writes_every_table(session: Session, tmp_path: Path) -> None:
    add_images(session, make_study(n_series=1, n_images=3))
    session.commit()
    written = dump_database(session, tmp_path / "out")
    assert [p.name for p in written] == [f"{name}.csv" for name in TABLES]
    with (tmp_path / "out" / "images.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert json.loads(rows[0]["meta"])["00080060"]["Value"] == ["CT"]
    assert rows[0]["acquisition_time"] == "10:15:30.250000"
    with (tmp_path / "out" / "studies.csv").open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == [
        "id",
        "study_find_id",
        "patient_id",
        "study_uid",
        "study_date",
        "patient_age",
        "accession_number",
    ]


def test_dump_selected_tables_only(session: Session, tmp_path: Path) -> None:
    add_found_study(session, make_find_answer("1.2.3"))
    written = dump_database(session, tmp_path, tables=["studies_find"])
    assert [p.name for p in written] == ["studies_find.csv"]
    assert not (tmp_path / "images.csv").exists()


def test_dump_refuses_an_unknown_table_before_writing(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'imgs': not a pacsflow table"):
        dump_database(session, tmp_path / "out", tables=["patients", "imgs"])
    assert not (tmp_path / "out").exists()
