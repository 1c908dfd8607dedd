"""recovery codes: one-time codes that stand in for a TOTP code (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00

``account_recovery_code`` keeps the SHA-256 digest of each code shown at TOTP enrolment and
when it was spent. Downgrading drops the table: accounts keep their TOTP, without recovery.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("used_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account.id"],
            name=op.f("fk_account_recovery_code_user_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_recovery_code")),
    )
    with op.batch_alter_table("account_recovery_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_recovery_code_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_recovery_code_user_id"))
    op.drop_table("account_recovery_code")
