"""Fail closed (invariant 5): when the ledger cannot be written, append raises LedgerUnavailable
and the caller's guarded change does not happen. The failures are real ones, not mocks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import psycopg
import pytest
from sqlmodel import select

from appliance.errors import LedgerUnavailable
from appliance.ledger import EventType
from appliance.models import Camera
from tests.support.ledger import Backend

# Runs in a child process: cap its file size (RLIMIT_FSIZE), like a full disk, then append.
_DISK_FULL = textwrap.dedent(
    """
    import os, resource, signal, sys
    from appliance.clock import SystemClock
    from appliance.db import Database
    from appliance.errors import LedgerUnavailable
    from appliance.ledger import EventType, Ledger

    path = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    sizes = [os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)]
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes) + 8192, resource.RLIM_INFINITY))
    ledger = Ledger(Database("sqlite:///" + path), SystemClock())
    try:
        ledger.append(EventType.export_created, actor="kim", data={"blob": "x" * 2_000_000})
    except LedgerUnavailable as exc:
        print("refused:", exc)
        sys.exit(0)
    sys.exit(1)
    """
)


def test_dropped_table_refuses_appends_and_the_guarded_change(backend: Backend) -> None:
    backend.ledger.append(EventType.system_start, actor="system")
    backend.execute("ALTER TABLE ledger_entry RENAME TO ledger_entry_gone")
    with pytest.raises(LedgerUnavailable, match="ledger_entry"):
        backend.ledger.append(EventType.view_live_start, actor="kim", data={"purpose": "x"})
    with pytest.raises(LedgerUnavailable, match="ledger_entry"), backend.db.session() as session:
        session.add(
            Camera(
                id="camx",
                name="x",
                location="x",
                location_type="lobby",
                group_name="general",
                created_ms=1,
                updated_ms=1,
            )
        )
        session.flush()
        backend.ledger.append(EventType.config_changed, actor="admin", session=session)
    with backend.db.session() as session:
        assert session.exec(select(Camera).where(Camera.id == "camx")).first() is None
    backend.execute("ALTER TABLE ledger_entry_gone RENAME TO ledger_entry")
    assert backend.ledger.append(EventType.logout, actor="kim") == 2  # writable again


def test_every_waiting_thread_is_refused(backend: Backend) -> None:
    backend.execute("DROP TABLE ledger_tip")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            backend.ledger.append(EventType.logout, actor="kim")
        except BaseException as exc:  # collected and checked below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 6 and all(isinstance(e, LedgerUnavailable) for e in errors)


def test_missing_tip_row_refuses_appends(backend: Backend) -> None:
    backend.execute("DELETE FROM ledger_tip")
    with pytest.raises(LedgerUnavailable, match="tip row is missing"):
        backend.ledger.append(EventType.logout, actor="kim")


def test_full_disk_refuses_appends_on_sqlite(sqlite_backend: Backend) -> None:
    backend = sqlite_backend
    backend.ledger.append(EventType.system_start, actor="system")
    path = backend.db.url.removeprefix("sqlite:///")
    done = subprocess.run(
        [sys.executable, "-c", _DISK_FULL, path], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused" in done.stdout
    assert backend.ledger.tip().seq == 1 and backend.ledger.verify().ok


@pytest.mark.postgres
def test_read_only_database_refuses_appends_on_postgres(pg_backend: Backend) -> None:
    backend = pg_backend
    backend.ledger.append(EventType.system_start, actor="system")
    name = backend.db.url.rsplit("/", 1)[1]
    admin = backend.db.url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(admin + "/postgres", autocommit=True) as pg:
        pg.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    backend.db.engine.dispose()  # new connections pick the setting up
    with pytest.raises(LedgerUnavailable, match="read-only"):
        backend.ledger.append(EventType.logout, actor="kim")
    with psycopg.connect(admin + "/postgres", autocommit=True) as pg:
        pg.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
    backend.db.engine.dispose()
    assert backend.ledger.append(EventType.logout, actor="kim") == 2
