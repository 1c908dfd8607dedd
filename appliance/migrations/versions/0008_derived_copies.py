"""derived copies: retention of export packages and request documents (issue 12)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00

``request_export`` gains the vault's copy of the package key (a column now, no longer a slot
in the handed-over file) and when and by whom the package was destroyed; ``request_document``
gains the same destruction columns, and its ciphertext becomes nullable (NULL once destroyed).
Downgrading puts an empty ciphertext in a destroyed document's row (the older code reads a
missing sealed key as "destroyed").
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _destruction_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("destroyed_ms", sa.BigInteger(), nullable=True),
        sa.Column(
            "destroyed_by",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=False,
            server_default="",
        ),
        sa.Column("destruction_id", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("request_export", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "vault_key_id",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("sealed_key", sa.LargeBinary(), nullable=True))
        for column in _destruction_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("request_document", schema=None) as batch_op:
        batch_op.alter_column("ciphertext", existing_type=sa.LargeBinary(), nullable=True)
        for column in _destruction_columns():
            batch_op.add_column(column)


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE request_document SET ciphertext = :empty WHERE ciphertext IS NULL"
        ).bindparams(sa.bindparam("empty", b"", type_=sa.LargeBinary()))
    )
    with op.batch_alter_table("request_document", schema=None) as batch_op:
        for name in ("destruction_id", "destroyed_by", "destroyed_ms"):
            batch_op.drop_column(name)
        batch_op.alter_column("ciphertext", existing_type=sa.LargeBinary(), nullable=False)
    with op.batch_alter_table("request_export", schema=None) as batch_op:
        for name in (
            "destruction_id",
            "destroyed_by",
            "destroyed_ms",
            "sealed_key",
            "vault_key_id",
        ):
            batch_op.drop_column(name)
