"""nodes: recorder nodes and camera leases

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 00:00:00

Two new tables (issue 19, design/scale.md): ``recorder_node`` (registration and heartbeat) and
``camera_lease`` (holder, epoch, expiry). Nothing existing changes; downgrading drops both (a
single box uses neither).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recorder_node",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
        sa.Column("stopped_ms", sa.BigInteger(), nullable=True),
        sa.Column("free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("floor_bytes", sa.BigInteger(), nullable=False),
        sa.Column("below_floor", sa.Boolean(), nullable=False),
        sa.Column("live_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "camera_lease",
        sa.Column("camera_id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("node_id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("acquired_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    with op.batch_alter_table("camera_lease", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_camera_lease_node_id"), ["node_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("camera_lease", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_camera_lease_node_id"))
    op.drop_table("camera_lease")
    op.drop_table("recorder_node")
