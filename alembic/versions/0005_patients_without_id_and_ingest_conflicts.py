"""patients.patient_id_missing; ingest_conflicts, the parent values a file could not set.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER, not batch mode: a batch rebuild on SQLite would break the views.
    op.add_column(
        "patients",
        sa.Column("patient_id_missing", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "ingest_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_uid", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("column_name", sa.String(length=64), nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_on", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_conflicts")),
    )
    op.create_index(
        op.f("ix_ingest_conflicts_image_uid"), "ingest_conflicts", ["image_uid"], unique=False
    )
    op.create_index(
        op.f("ix_ingest_conflicts_flow_run_id"), "ingest_conflicts", ["flow_run_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_conflicts_flow_run_id"), table_name="ingest_conflicts")
    op.drop_index(op.f("ix_ingest_conflicts_image_uid"), table_name="ingest_conflicts")
    op.drop_table("ingest_conflicts")
    # DROP COLUMN exists in PostgreSQL and in SQLite >= 3.35.
    op.execute("ALTER TABLE patients DROP COLUMN patient_id_missing")
