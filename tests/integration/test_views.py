"""The study_metadata and manufacturers views give the same answers on both databases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pacsflow.database.models import manufacturers_view, study_metadata_view
from pacsflow.db import add_images
from tests.factories import make_study


def test_views_aggregate_per_study_and_per_manufacturer(session: Session) -> None:
    first = make_study(n_series=2, n_images=2, PatientID="P1", Manufacturer="ACME")
    second = make_study(n_images=3, PatientID="P2", Manufacturer="Zeta")
    second[0].Manufacturer = "ACME"
    add_images(session, first + second)
    session.commit()

    rows = {row.study_uid: row for row in session.execute(select(study_metadata_view)).all()}
    one = rows[first[0].StudyInstanceUID]
    assert (one.patient_id, one.image_count, one.manufacturer, one.manufacturer_count) == (
        "P1",
        4,
        "ACME",
        1,
    )
    two = rows[second[0].StudyInstanceUID]
    assert (two.image_count, two.manufacturer, two.manufacturer_count) == (3, "ACME", 2)

    makers = {m: n for m, n in session.execute(select(manufacturers_view))}
    assert makers == {"ACME": 5, "Zeta": 2}
