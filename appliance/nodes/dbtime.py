"""The database server's clock in UTC milliseconds: the one clock leases are measured on.

Nodes' clocks may drift apart; a lease compared against each node's own clock could be held by
two nodes at once. Reading the time from the server in the transaction that takes or checks a
lease makes every node agree.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

__all__ = ["db_now_ms"]

_NOW = {
    "postgresql": "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    "sqlite": "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
}


def db_now_ms(session: Session) -> int:
    """Now, by the database server (PostgreSQL ``clock_timestamp()``, SQLite ``julianday``)."""
    dialect = session.get_bind().dialect.name
    return int(session.execute(text(_NOW[dialect])).scalar_one())
