"""studies_find: modalities, and attempts, last error and received count of retrievals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = ("received_instances", "last_error", "last_attempt_on", "attempts", "modalities")


def upgrade() -> None:
    # Plain ALTERs, not batch mode: a batch rebuild on SQLite would break the views.
    op.add_column("studies_find", sa.Column("modalities", sa.Text(), nullable=True))
    op.add_column(
        "studies_find",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("studies_find", sa.Column("last_attempt_on", sa.DateTime(), nullable=True))
    op.add_column("studies_find", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("studies_find", sa.Column("received_instances", sa.Integer(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN exists in PostgreSQL and in SQLite >= 3.35.
    for column in _DROPPED:
        op.execute(f"ALTER TABLE studies_find DROP COLUMN {column}")
