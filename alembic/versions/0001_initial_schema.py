"""The seed's schema: studies_find, patients, studies, series, images and two views.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every selected column is grouped or aggregated: valid on PostgreSQL and SQLite.
STUDY_METADATA_VIEW = """
CREATE VIEW study_metadata AS
SELECT
    patients.patient_id AS patient_id,
    patients.patient_name AS patient_name,
    patients.patient_birth_date AS patient_birth_date,
    patients.institution AS institution,
    studies.study_uid AS study_uid,
    studies.study_date AS study_date,
    studies.patient_age AS patient_age,
    studies.accession_number AS accession_number,
    MIN(images.manufacturer) AS manufacturer,
    MIN(images.manufacturer_model_name) AS manufacturer_model_name,
    COUNT(DISTINCT images.manufacturer) AS manufacturer_count,
    COUNT(images.id) AS image_count
FROM studies
JOIN patients ON patients.id = studies.patient_id
LEFT JOIN series ON series.study_id = studies.id
LEFT JOIN images ON images.series_id = series.id
GROUP BY
    studies.id, studies.study_uid, studies.study_date, studies.patient_age,
    studies.accession_number, patients.id, patients.patient_id, patients.patient_name,
    patients.patient_birth_date, patients.institution
"""

MANUFACTURERS_VIEW = """
CREATE VIEW manufacturers AS
SELECT images.manufacturer AS manufacturer, COUNT(images.id) AS image_count
FROM images
GROUP BY images.manufacturer
"""


def upgrade() -> None:
    op.create_table(
        "studies_find",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_name", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("accession_number", sa.Text(), nullable=True),
        sa.Column("found_on", sa.DateTime(), nullable=False),
        sa.Column("retrieved_on", sa.DateTime(), nullable=True),
        sa.Column("expected_instances", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies_find")),
        sa.UniqueConstraint("study_uid", name=op.f("uq_studies_find_study_uid")),
    )
    op.create_index(
        op.f("ix_studies_find_retrieved_on"), "studies_find", ["retrieved_on"], unique=False
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("patient_name", sa.Text(), nullable=True),
        sa.Column("patient_birth_date", sa.Date(), nullable=True),
        sa.Column("institution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_patients_patient_id")),
    )
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_find_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("patient_age", sa.Float(), nullable=False),
        sa.Column("accession_number", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_studies_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["study_find_id"],
            ["studies_find.id"],
            name=op.f("fk_studies_study_find_id_studies_find"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("study_uid", name=op.f("uq_studies_study_uid")),
    )
    op.create_index(op.f("ix_studies_patient_id"), "studies", ["patient_id"], unique=False)
    op.create_index(op.f("ix_studies_study_find_id"), "studies", ["study_find_id"], unique=False)
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_series_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("series_uid", name=op.f("uq_series_series_uid")),
    )
    op.create_index(op.f("ix_series_study_id"), "series", ["study_id"], unique=False)
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("patient_name", sa.Text(), nullable=True),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("modality", sa.Text(), nullable=True),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=True),
        sa.Column("image_uid", sa.String(length=64), nullable=False),
        sa.Column("acquisition_time", sa.Time(), nullable=True),
        sa.Column("manufacturer", sa.Text(), nullable=True),
        sa.Column("manufacturer_model_name", sa.Text(), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("filepath", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_images_series_id_series")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("image_uid", name=op.f("uq_images_image_uid")),
    )
    op.create_index("ix_images_patient_id", "images", ["patient_id"], unique=False)
    op.create_index("ix_images_study_uid", "images", ["study_uid"], unique=False)
    op.create_index(op.f("ix_images_series_id"), "images", ["series_id"], unique=False)
    op.execute(STUDY_METADATA_VIEW)
    op.execute(MANUFACTURERS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW manufacturers")
    op.execute("DROP VIEW study_metadata")
    op.drop_index(op.f("ix_images_series_id"), table_name="images")
    op.drop_index("ix_images_study_uid", table_name="images")
    op.drop_index("ix_images_patient_id", table_name="images")
    op.drop_table("images")
    op.drop_index(op.f("ix_series_study_id"), table_name="series")
    op.drop_table("series")
    op.drop_index(op.f("ix_studies_study_find_id"), table_name="studies")
    op.drop_index(op.f("ix_studies_patient_id"), table_name="studies")
    op.drop_table("studies")
    op.drop_table("patients")
    op.drop_index(op.f("ix_studies_find_retrieved_on"), table_name="studies_find")
    op.drop_table("studies_find")
