"""The seed's API as pacsanini 0.2.1 documented it: names, parameters, defaults, return types.

Each documented call is made as a pacsanini user wrote it (keyword arguments
by their documented names), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

import pacsflow.db as db
from pacsflow.demo.synthetic import make_dataset, make_find_answer, make_study, write_dataset

# The seed's documented signatures (pacsanini 0.2.1 API reference): name -> (parameter, default).
REQUIRED = inspect.Parameter.empty
SEED_SIGNATURES: dict[str, list[tuple[str, Any]]] = {
    "DBWrapper": [("conn_uri", REQUIRED), ("create_tables", False), ("debug", False)],
    "add_found_study": [("session", REQUIRED), ("dcm", REQUIRED)],
    "add_image": [("session", REQUIRED), ("dcm", REQUIRED), ("institution", None),
                  ("filepath", None)],
    "get_studies_to_move": [("session", REQUIRED)],
    "get_study_uids_to_move": [("session", REQUIRED)],
    "update_retrieved_study": [("session", REQUIRED), ("study_uid", REQUIRED)],
    "dcm2dbmodels": [("dcm", REQUIRED), ("institution", None), ("filepath", None)],
    "dcm2image": [("dcm", REQUIRED), ("institution", None), ("filepath", None)],
    "dcm2patient": [("dcm", REQUIRED), ("institution", None)],
    "dcm2series": [("dcm", REQUIRED)],
    "dcm2study": [("dcm", REQUIRED)],
    "dcm2study_finding": [("dcm", REQUIRED)],
    "parse_dir2sql": [("src", REQUIRED), ("conn_uri", REQUIRED), ("institution_name", None),
                      ("nb_threads", 1), ("create_tables", False)],
    "dump_database": [("session", REQUIRED), ("output", None), ("tables", None)],
    "get_db_session": [("db_uri", REQUIRED)],
    # echo: True in the seed, which printed the DDL by default; pacsflow is quiet unless
    # asked (a listed divergence, README's compatibility table).
    "initialize_database": [("config", REQUIRED), ("echo", False), ("force_init", False)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SEED_SIGNATURES))
def test_each_seed_function_keeps_its_documented_parameters(name: str) -> None:
    signature = inspect.signature(getattr(db, name))
    # Leading parameters as documented; pacsflow only adds keyword-only ones after them.
    documented = SEED_SIGNATURES[name]
    params = list(signature.parameters.values())
    assert [(p.name, p.default) for p in params[: len(documented)]] == documented
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[len(documented) :])


def test_the_seed_exports_models_and_view_classes() -> None:
    for name in ("Base", "Patient", "Study", "Series", "Image", "StudyFind",
                 "StudyMetaView", "ManufacturerView"):  # fmt: skip
        assert hasattr(db, name), name
    assert db.StudyMetaView.__tablename__ == "study_metadata"
    assert db.ManufacturerView.__tablename__ == "manufacturers"
    assert "study_metadata" not in db.Base.metadata.tables  # a view, not a table


def test_documented_calls_return_documented_types(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db.initialize_database(config=db_url, echo=True, force_init=False)
    assert capsys.readouterr().out == ""  # nothing to print: the fixture migrated it
    ds: Dataset = make_dataset()
    patient, study, series, image = db.dcm2dbmodels(dcm=ds, institution="H", filepath="x.dcm")
    assert (type(patient), type(study), type(series), type(image)) == (
        db.Patient,
        db.Study,
        db.Series,
        db.Image,
    )
    assert isinstance(db.dcm2patient(dcm=ds, institution="H"), db.Patient)
    assert isinstance(db.dcm2study(dcm=ds), db.Study)
    assert isinstance(db.dcm2series(dcm=ds), db.Series)
    assert isinstance(db.dcm2image(dcm=ds, institution="H", filepath=None), db.Image)
    answer = make_find_answer(ds.StudyInstanceUID)
    assert isinstance(db.dcm2study_finding(dcm=answer), db.StudyFind)

    with db.DBWrapper(conn_uri=db_url, create_tables=True, debug=False) as wrapper:
        session = wrapper.conn()
        found = db.add_found_study(session=session, dcm=answer)
        assert isinstance(found, db.StudyFind)
        assert db.add_found_study(session=session, dcm=answer) is None  # a repeat
        assert [s.study_uid for s in db.get_studies_to_move(session=session)] == [
            ds.StudyInstanceUID
        ]
        assert db.get_study_uids_to_move(session=session) == [ds.StudyInstanceUID]
        stored = db.add_image(session=session, dcm=ds, institution="H", filepath=None)
        assert isinstance(stored, db.Image)
        assert db.add_image(session=session, dcm=ds) is None  # already there
        marked = db.update_retrieved_study(session=session, study_uid=ds.StudyInstanceUID)
        assert isinstance(marked, db.StudyFind)
        assert marked.retrieved_on is not None
        assert db.update_retrieved_study(session=session, study_uid="1.2.3.4") is None
        assert db.get_study_uids_to_move(session=session) == []
        written = db.dump_database(session=session, output=str(tmp_path / "csv"), tables=None)
        assert {p.name for p in written} >= {"studies_find.csv", "images.csv"}
        with pytest.raises(ValueError, match="not a pacsflow table"):
            db.dump_database(session=session, output=str(tmp_path), tables=["nope"])

    for sample in make_study(n_images=2):
        write_dataset(sample, tmp_path / "folder" / f"{sample.SOPInstanceUID}.dcm")
    result = db.parse_dir2sql(
        src=str(tmp_path / "folder"),
        conn_uri=db_url,
        institution_name="H",
        nb_threads=1,
        create_tables=False,
    )
    assert result.images_added == 2
    with db.get_db_session(db_uri=db_url) as session:
        assert session.query(db.Image).count() == 3
        assert [r.image_count for r in session.query(db.ManufacturerView)] == [3]
