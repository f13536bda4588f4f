"""The linkage table of pseudonymised exports (pseudonyms).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pseudonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=16), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pseudonyms")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_pseudonyms_pseudonym")),
    )
    op.create_index(op.f("ix_pseudonyms_key_fingerprint"), "pseudonyms", ["key_fingerprint"])
    op.create_index(op.f("ix_pseudonyms_kind_original"), "pseudonyms", ["kind", "original"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pseudonyms_kind_original"), table_name="pseudonyms")
    op.drop_index(op.f("ix_pseudonyms_key_fingerprint"), table_name="pseudonyms")
    op.drop_table("pseudonyms")
