"""A ledger under test together with an attacker's direct connection to its database."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg

from appliance.db import Database
from appliance.ledger import Ledger

__all__ = ["Backend"]


@dataclass
class Backend:
    """The ledger under test and an attacker's direct connection to its database."""

    name: str
    db: Database
    ledger: Ledger

    def execute(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL (``?`` placeholders) outside the application, as someone with DB access."""
        if self.name == "sqlite":
            path = self.db.url.removeprefix("sqlite:///")
            conn = sqlite3.connect(path)
            try:
                rows = conn.execute(sql, params).fetchall()
                conn.commit()
            finally:
                conn.close()
            return rows
        dsn = self.db.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as pg:
            cur = pg.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
