"""Appends: a linear chain under threads and processes, and atomic with the caller's changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from sqlalchemy import event
from sqlmodel import select

from appliance.errors import ValidationFailed
from appliance.ledger import EventType, NewEntry
from appliance.models import Camera
from tests.support.ledger import Backend

_WORKER = textwrap.dedent(
    """
    import sys, threading
    from appliance.clock import SystemClock
    from appliance.db import Database
    from appliance.ledger import EventType, Ledger

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = Database(url)
    ledger = Ledger(db, SystemClock())

    def work(thread: int) -> None:
        for i in range(count):
            ledger.append(EventType.login_success, actor=f"{name}-{thread}", data={"i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.dispose()
    """
)


def test_append_returns_consecutive_seqs(backend: Backend) -> None:
    ledger = backend.ledger
    assert ledger.append(EventType.system_start, actor="system", data={"version": "0.1"}) == 1
    assert ledger.append_many(
        [NewEntry(EventType.login_success, "kim"), NewEntry(EventType.logout, "kim")]
    ) == [2, 3]
    assert ledger.append_many([]) == []
    entries = ledger.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].data == {"version": "0.1"} and entries[2].event == "logout"
    assert ledger.tip().seq == 3 and ledger.tip().hash_hex == entries[-1].hash_hex


def test_threads_keep_the_chain_linear(backend: Backend) -> None:
    ledger = backend.ledger
    seqs: list[int] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        for i in range(40):
            if i % 10 == 0:
                got = ledger.append_many(
                    NewEntry(EventType.view_live_start, f"t{thread}", {"i": i, "k": k})
                    for k in range(3)
                )
            else:
                got = [ledger.append(EventType.view_live_end, actor=f"t{thread}", ref=f"{i}")]
            with lock:
                seqs.extend(got)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = 8 * (36 + 4 * 3)
    assert sorted(seqs) == list(range(1, total + 1))
    report = ledger.verify()
    assert report.ok and report.entries_checked == total


def test_processes_keep_the_chain_linear(backend: Backend) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, backend.db.url, f"p{p}", "60"])
        for p in range(3)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    report = backend.ledger.verify()
    assert report.ok, report.summary()
    assert report.entries_checked == 3 * 2 * 60
    actors = {e.actor for e in backend.ledger.entries(limit=None)}
    assert actors == {f"p{p}-{t}" for p in range(3) for t in range(2)}


def test_entry_commits_with_the_domain_change(backend: Backend) -> None:
    ledger = backend.ledger

    def camera(cam_id: str) -> Camera:
        return Camera(
            id=cam_id,
            name="x",
            location="x",
            location_type="lobby",
            group_name="general",
            created_ms=1,
            updated_ms=1,
        )

    with backend.db.session() as session:
        session.add(camera("camok"))
        session.flush()
        seq = ledger.append(
            EventType.config_changed, actor="admin", data={"added": ["camok"]}, session=session
        )
    assert ledger.entries()[-1].seq == seq

    with pytest.raises(RuntimeError), backend.db.session() as session:
        session.add(camera("camgone"))
        session.flush()
        ledger.append(EventType.config_changed, actor="admin", session=session)
        raise RuntimeError("the operation failed after its entry was written")
    with backend.db.session() as session:
        assert session.exec(select(Camera).where(Camera.id == "camgone")).first() is None
    assert ledger.tip().seq == seq  # the entry went with the rollback
    assert ledger.verify().ok


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (NewEntry("no_such_event", "kim"), "unknown ledger event"),  # type: ignore[arg-type]
        (NewEntry(EventType.logout, ""), "actor"),
        (NewEntry(EventType.logout, "kim", camera_id="x" * 64), "camera_id"),
        (NewEntry(EventType.logout, "kim", {"when": float("inf")}), "finite"),
    ],
)
def test_bad_entries_are_refused_before_anything_is_written(
    backend: Backend, entry: NewEntry, message: str
) -> None:
    backend.ledger.append(EventType.logout, actor="kim")
    with pytest.raises(ValidationFailed, match=message):
        backend.ledger.append_many([NewEntry(EventType.logout, "kim"), entry])
    assert backend.ledger.tip().seq == 1


def test_concurrent_appends_share_commits(sqlite_backend: Backend) -> None:
    """Group commit: appends waiting while another commits go into one transaction together."""
    commits = 0

    def count(_conn: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(sqlite_backend.db.engine, "commit", count)
    ledger = sqlite_backend.ledger
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for i in range(50):
            ledger.append(EventType.view_live_end, actor="kim", ref=str(i))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    event.remove(sqlite_backend.db.engine, "commit", count)
    assert ledger.tip().seq == 400
    assert commits < 400, "every append had a transaction of its own"
