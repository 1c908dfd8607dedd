"""requests: the requester's language, which the notices are printed in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00

One column on ``footage_request`` (issue 14): ``ko`` for every existing request (their notices
were Korean); downgrading drops it, and notices are Korean again.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("footage_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "requester_language",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default="ko",
            )
        )


def downgrade() -> None:
    # A plain ALTER TABLE (SQLite >= 3.35 drops a column in place): batch mode would copy and
    # drop footage_request, which the rows of its child tables forbid while they exist.
    op.drop_column("footage_request", "requester_language")
