"""policy: the published versions of the operating policy

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 10:00:00

One new table (issue 17, design/policy.md); nothing existing changes, so downgrading drops it
and loses only the publication history (the ledger keeps each publication's hash).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("announced_on", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("effective_on", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("published_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_version_number"), ["number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_version_number"))

    op.drop_table("policy_version")
