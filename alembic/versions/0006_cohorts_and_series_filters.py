"""Cohorts (cohorts, cohort_items, cohort_studies) and the series filter of a retrieval.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIND_COLUMNS = ("series_filter", "selected_series", "selected_instances")


def upgrade() -> None:
    # Plain ALTERs, not batch mode: a batch rebuild on SQLite would break the views.
    op.add_column("studies_find", sa.Column("series_filter", sa.Text(), nullable=True))
    op.add_column("studies_find", sa.Column("selected_series", sa.Integer(), nullable=True))
    op.add_column("studies_find", sa.Column("selected_instances", sa.Integer(), nullable=True))
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("series_filter", sa.Text(), nullable=True),
        sa.Column("last_run_on", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohorts")),
        sa.UniqueConstraint("name", name=op.f("uq_cohorts_name")),
    )
    op.create_table(
        "cohort_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("accession_number", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("study_uid", sa.Text(), nullable=True),
        sa.Column("study_date", sa.Text(), nullable=True),
        sa.Column("modalities", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("studies_found", sa.Integer(), server_default="0", nullable=False),
        sa.Column("studies_retrieved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("queried_on", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_cohort_items_cohort_id_cohorts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_items")),
        sa.UniqueConstraint(
            "cohort_id", "row_number", name=op.f("uq_cohort_items_cohort_id_row_number")
        ),
    )
    op.create_index(op.f("ix_cohort_items_cohort_id"), "cohort_items", ["cohort_id"])
    op.create_table(
        "cohort_studies",
        sa.Column("cohort_item_id", sa.Integer(), nullable=False),
        sa.Column("study_find_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_item_id"],
            ["cohort_items.id"],
            name=op.f("fk_cohort_studies_cohort_item_id_cohort_items"),
        ),
        sa.ForeignKeyConstraint(
            ["study_find_id"],
            ["studies_find.id"],
            name=op.f("fk_cohort_studies_study_find_id_studies_find"),
        ),
        sa.PrimaryKeyConstraint("cohort_item_id", "study_find_id", name=op.f("pk_cohort_studies")),
    )
    op.create_index(op.f("ix_cohort_studies_study_find_id"), "cohort_studies", ["study_find_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cohort_studies_study_find_id"), table_name="cohort_studies")
    op.drop_table("cohort_studies")
    op.drop_index(op.f("ix_cohort_items_cohort_id"), table_name="cohort_items")
    op.drop_table("cohort_items")
    op.drop_table("cohorts")
    # DROP COLUMN exists in PostgreSQL and in SQLite >= 3.35.
    for column in reversed(_FIND_COLUMNS):
        op.execute(f"ALTER TABLE studies_find DROP COLUMN {column}")
