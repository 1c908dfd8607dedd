"""head chain: each signed head names the head signed before it (issue 13)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:00:00

``ledger_signed_head`` gains ``prev_hash``: the BLAKE2b-256 of the message the previous head
signed (head format 2). Heads signed before this revision keep NULL (format 1) and still verify.
Downgrading drops the column: the older code then fails to verify format 2 heads (their
signature covers ``prev``), so downgrade only to restore a backup taken before the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_signed_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_signed_head", schema=None) as batch_op:
        batch_op.drop_column("prev_hash")
