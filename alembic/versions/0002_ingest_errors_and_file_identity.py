"""ingest_errors table; images.file_size, file_mtime and an index on filepath.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_on", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_errors")),
    )
    op.create_index(
        op.f("ix_ingest_errors_error_type"), "ingest_errors", ["error_type"], unique=False
    )
    op.create_index(
        op.f("ix_ingest_errors_flow_run_id"), "ingest_errors", ["flow_run_id"], unique=False
    )
    # Plain ALTERs, not batch mode: a batch rebuild of images on SQLite would
    # break the views that select from it.
    op.add_column("images", sa.Column("file_size", sa.BigInteger(), nullable=True))
    op.add_column("images", sa.Column("file_mtime", sa.Float(), nullable=True))
    op.create_index("ix_images_filepath", "images", ["filepath"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_images_filepath", table_name="images")
    # DROP COLUMN exists in PostgreSQL and in SQLite >= 3.35.
    op.execute("ALTER TABLE images DROP COLUMN file_mtime")
    op.execute("ALTER TABLE images DROP COLUMN file_size")
    op.drop_index(op.f("ix_ingest_errors_flow_run_id"), table_name="ingest_errors")
    op.drop_index(op.f("ix_ingest_errors_error_type"), table_name="ingest_errors")
    op.drop_table("ingest_errors")
