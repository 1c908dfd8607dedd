"""segment digest: "<algorithm>:<hex>" in place of blake2b_hex (segment format 2 uses SHA-256)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 17:20:00

Rows written before this revision hold the BLAKE2b-256 of a version 1 file: they keep it, with
the "blake2b:" prefix. Downgrading strips the prefix; a SHA-256 row (a version 2 file, which the
older code cannot read anyway) keeps its hex digest and fails the older code's check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment") as batch:
        batch.alter_column(
            "blake2b_hex",
            new_column_name="digest",
            existing_type=sa.String(length=64),
            type_=sa.String(length=80),
            existing_nullable=False,
        )
    op.execute(sa.text("UPDATE segment SET digest = 'blake2b:' || digest"))


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE segment SET digest = substr(digest, strpos(digest, ':') + 1)"
            if op.get_bind().dialect.name == "postgresql"
            else "UPDATE segment SET digest = substr(digest, instr(digest, ':') + 1)"
        )
    )
    with op.batch_alter_table("segment") as batch:
        batch.alter_column(
            "digest",
            new_column_name="blake2b_hex",
            existing_type=sa.String(length=80),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
