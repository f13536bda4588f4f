"""studies_find: claimed_by and claimed_until, the lease of a study being retrieved.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = ("claimed_until", "claimed_by")


def upgrade() -> None:
    # Plain ALTERs, not batch mode: a batch rebuild on SQLite would break the views.
    op.add_column("studies_find", sa.Column("claimed_by", sa.Text(), nullable=True))
    op.add_column("studies_find", sa.Column("claimed_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN exists in PostgreSQL and in SQLite >= 3.35.
    for column in _DROPPED:
        op.execute(f"ALTER TABLE studies_find DROP COLUMN {column}")
