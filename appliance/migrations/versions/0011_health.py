"""health: alarm acknowledgements and deliveries, ledger verifications, camera day counters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:56:49

Four new tables (issue 15, design/health.md); nothing existing changes, so downgrading drops
them and loses only acknowledgements, delivery history and verification results.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verified_ms", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("entries_checked", sa.Integer(), nullable=False),
        sa.Column("first_bad_seq", sa.BigInteger(), nullable=True),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ledger_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_verification_verified_ms"), ["verified_ms"], unique=False
        )

    op.create_table(
        "alarm_acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("acknowledged_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarm.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alarm_acknowledgement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alarm_acknowledgement_alarm_id"), ["alarm_id"], unique=False
        )

    op.create_table(
        "alarm_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
        sa.Column("failed_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarm.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_delivery_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(
            "ix_alarm_delivery_pending", ["delivered_ms", "failed_ms"], unique=False
        )

    op.create_table(
        "camera_day_counter",
        sa.Column("camera_id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
        ),
        sa.PrimaryKeyConstraint("camera_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("camera_day_counter")
    with op.batch_alter_table("alarm_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_alarm_delivery_pending")
        batch_op.drop_index(batch_op.f("ix_alarm_delivery_alarm_id"))

    op.drop_table("alarm_delivery")
    with op.batch_alter_table("alarm_acknowledgement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_acknowledgement_alarm_id"))

    op.drop_table("alarm_acknowledgement")
    with op.batch_alter_table("ledger_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_verification_verified_ms"))

    op.drop_table("ledger_verification")
