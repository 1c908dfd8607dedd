"""Shared model conventions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Integer
from sqlmodel import Field

__all__ = ["BIG_ID", "NAMING_CONVENTION", "ms_column"]

# 64-bit ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

# Named constraints let Alembic's batch mode alter SQLite tables and drop constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def ms_column(*, index: bool = False, nullable: bool = False) -> Any:
    """A UTC-milliseconds column: 64-bit, since epoch milliseconds overflow a 32-bit INTEGER."""
    return Field(
        default=None if nullable else ...,
        sa_type=BigInteger,
        index=index,
        nullable=nullable,
    )
