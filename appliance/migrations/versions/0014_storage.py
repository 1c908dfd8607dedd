"""storage: where each segment lives (local file, object-store key, or both)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 23:00:00

Three columns on ``segment`` (issue 19, design/storage.md "Object store"): ``local_copy`` (the
recording node's file exists; true for every row recorded so far), ``object_key`` (set once the
segment is uploaded) and ``uploaded_ms``, with an index on ``object_key`` (the uploader's
``IS NULL`` scan and fsck's merge in key order). Downgrading drops them: rows whose local copy
was dropped then point at files that are gone (fsck reports them), so downgrade only a node
that kept its local copies.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both databases (batch mode would copy ``segment``,
    # which the purge journal's rows reference).
    op.add_column(
        "segment", sa.Column("local_copy", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column(
        "segment",
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=440), nullable=True),
    )
    op.add_column("segment", sa.Column("uploaded_ms", sa.BigInteger(), nullable=True))
    op.create_index("ix_segment_object_key", "segment", ["object_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_segment_object_key", table_name="segment")
    op.drop_column("segment", "uploaded_ms")
    op.drop_column("segment", "object_key")
    op.drop_column("segment", "local_copy")
