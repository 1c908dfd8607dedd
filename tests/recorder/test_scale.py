"""The scale-out end to end (issue 19, "Done when"): two recorder nodes and one web/API node,
each its own process with its own data dir, on loopback against PostgreSQL and OpenStack Swift.
20 simulated cameras split across the nodes by lease; footage recorded by each node plays
through the one API (read from the object store); SIGKILL of one node, its cameras recording on
the other within 30 s with the gap on the timeline; then the purge of expired footage deletes
the objects and records it in the destruction ledger."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from api.app import create_app
from api.security import CSRF_HEADER
from appliance.access import Principal
from appliance.cli.main import initialize
from appliance.clock import FakeClock, SystemClock
from appliance.context import AppContext
from appliance.ledger import EventType
from appliance.models import DestructionRecord, Role
from appliance.models.media import Gap, Segment
from appliance.nodes import desired_owners
from appliance.retention import Retention
from appliance.retention.destruction import Method
from appliance.settings import Settings
from recorder.sim import CameraSimulator
from recorder.status import FailReason
from tests.support.config import to_toml
from tests.support.footage import decode_mp4
from tests.support.nodes import leases, run_node
from tests.support.recorder import (
    FRAME_CLOCK_SLACK_MS,
    camera_entry,
    recorder_config,
    segments_of,
    sim_kwargs,
    stop_processes,
    wait_for,
)
from tests.support.swift import SWIFT_ACCESS_KEY, SWIFT_SECRET_KEY, SwiftServer, new_store

OpenCtx = Callable[[dict[str, Any]], AppContext]
PASSWORD = "correct horse battery"
CAMERAS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _uploaded_since(ctx: AppContext, camera_id: str, since_ms: int) -> Segment | None:
    return next(
        (
            s
            for s in segments_of(ctx, camera_id)
            if s.start_ms > since_ms and s.object_key is not None
        ),
        None,
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_processes(started)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.swift
def test_two_recorder_nodes_one_api_postgres_and_swift(
    tmp_path: Path,
    open_recorder_ctx: OpenCtx,
    pg_url: str,
    swift_server: SwiftServer,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    store = new_store(swift_server)
    credentials = tmp_path / "s3.toml"
    credentials.write_text(
        f'access_key_id = "{SWIFT_ACCESS_KEY}"\nsecret_access_key = "{SWIFT_SECRET_KEY}"\n'
    )
    credentials.chmod(0o600)
    with CameraSimulator(CAMERAS, **sim_kwargs()) as sim:
        cameras = [camera_entry(f"cam{i:02}", sim.url(f"cam{i}")) for i in range(1, CAMERAS + 1)]
        data = recorder_config(tmp_path, cameras)
        data["database"] = {"url": pg_url}
        data["storage"].update(
            backend="s3",
            object_endpoint=swift_server.endpoint,
            object_bucket=store.bucket,
            object_credentials_file=str(credentials),
            local_copy="drop_after_upload",
            cache_max_bytes=64 * 1024**2,
        )
        ctx = open_recorder_ctx(data)  # keys and schema once; the test reads the database
        access = create_app(ctx).state.access
        root = Principal.local("root")
        viewer, _ = access.create_user(
            root, username="viewer1", role=Role.viewer, display_name="V", password=PASSWORD
        )
        access.change_grants(root, viewer.id, add=[c["id"] for c in cameras])

        # Each process its own data dir (its own "disk"); the keys dir is shared read-only.
        port = _free_port()
        roles = {
            "rec-a": {"node": {"id": "rec-a", "handback_after_s": 3}},
            "rec-b": {"node": {"id": "rec-b", "handback_after_s": 3}},
            "web": {"server": {"host": "127.0.0.1", "port": port}},
        }
        logs: dict[str, Path] = {}
        started: dict[str, subprocess.Popen[bytes]] = {}
        for name, extra in roles.items():
            node_data = data | extra
            node_data["storage"] = data["storage"] | {"data_dir": str(tmp_path / name)}
            initialize(Settings(**node_data), SystemClock(), insecure_no_passphrase=True)
            config = tmp_path / f"{name}.toml"
            config.write_text(to_toml(node_data), encoding="utf-8")
            logs[name] = tmp_path / f"{name}.log"
            if name == "web":
                with logs[name].open("ab") as out:
                    started[name] = subprocess.Popen(
                        [sys.executable, "-c", "from appliance.cli import app; app()",
                         "run", "--only", "web", "--config", str(config)],
                        stdout=out, stderr=subprocess.STDOUT,
                    )  # fmt: skip
            else:
                started[name] = run_node(config, logs[name])
            procs.append(started[name])

        def logs_text() -> str:
            return "\n".join(f"--- {n}\n{p.read_text()[-3000:]}" for n, p in logs.items())

        both = desired_owners({c["id"]: "" for c in cameras}, ["rec-a", "rec-b"])
        by_node = {n: sorted(c for c, o in both.items() if o == n) for n in ("rec-a", "rec-b")}
        assert min(len(v) for v in by_node.values()) >= 5  # split across the nodes

        def holders_are(wanted: dict[str, str]) -> bool:
            held = leases(ctx)
            now = ctx.clock.now_ms()
            return all(
                held.get(c, (None, 0, 0))[0] == n and held[c][2] > now for c, n in wanted.items()
            )

        try:
            # Generous: on a loaded CI machine a node's start (migrations) takes tens of seconds.
            wait_for(lambda: holders_are(both), 120, "the cameras split across the nodes")
            split_ms = ctx.clock.now_ms()
            picks = {n: cams[0] for n, cams in by_node.items()}
            wait_for(
                lambda: all(_uploaded_since(ctx, c, split_ms) for c in picks.values()),
                30,
                "footage of each node in the object store",
            )
        except BaseException:
            print(logs_text())
            raise

        # The one API plays what each node recorded: its data dir has none of it, so every
        # byte comes from the object store.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: _answers(client), 30, "the web/API node")
            login = client.post(
                "/api/auth/login", json={"username": "viewer1", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            client.headers[CSRF_HEADER] = login.json()["csrf_token"]
            for node, camera_id in picks.items():
                segment = _uploaded_since(ctx, camera_id, split_ms)
                assert segment is not None
                assert not (tmp_path / "web" / "segments" / segment.path).exists()
                opened = client.post(
                    "/api/viewing",
                    json={
                        "kind": "playback",
                        "cameras": [camera_id],
                        "start_ms": segment.start_ms,
                        "end_ms": segment.end_ms,
                        "purpose": {"category": "incident", "text": f"scale-out {node}"},
                    },
                )
                assert opened.status_code == 201, opened.text
                viewing_id = opened.json()["id"]
                media = client.get(
                    f"/api/viewing/{viewing_id}/media", params={"camera_id": camera_id}
                )
                assert media.status_code == 200, media.text
                assert len(decode_mp4(media.content)) == segment.frames, node
                client.post(f"/api/viewing/{viewing_id}/end")

            # SIGKILL rec-a: its cameras record again on rec-b within 30 s, the gap on record.
            started["rec-a"].send_signal(signal.SIGKILL)
            started["rec-a"].wait()
            kill_ms = ctx.clock.now_ms()
            moved = by_node["rec-a"]
            try:
                wait_for(lambda: holders_are(dict.fromkeys(moved, "rec-b")), 35, "takeover")
            except BaseException:
                print(logs_text())
                raise
            wait_for(
                lambda: all(_closed_gap(ctx, c, kill_ms) is not None for c in moved),
                20,
                "every moved camera recording on rec-b",
            )
            for camera_id in moved:
                gap = _closed_gap(ctx, camera_id, kill_ms)
                assert gap is not None and gap[1] - kill_ms <= 30_000, (camera_id, gap)
            with ctx.db.session() as session:
                takeover_gaps = session.exec(
                    select(Gap).where(col(Gap.reason) == FailReason.node_takeover.value)
                ).all()
            assert {g.camera_id for g in takeover_gaps} == set(moved)  # rec-b's never stopped
            day = ctx.clock.now().astimezone(ctx.settings.zone).date().isoformat()
            timeline = client.get(f"/api/timeline/{moved[0]}", params={"day": day}).json()
            assert FailReason.node_takeover.value in {g["reason"] for g in timeline["gaps"]}
        for name in ("rec-b", "web"):
            started[name].send_signal(signal.SIGTERM)
        for name in ("rec-b", "web"):
            assert started[name].wait(60) == 0, logs_text()

    # The purge 31 days later (general group: 30 days): keys shredded, objects deleted, each
    # batch in the destruction ledger; nothing of the footage is left in the store.
    prefix = ctx.settings.storage.object_prefix
    assert list(store.list(prefix))
    later = AppContext(
        settings=ctx.settings, db=ctx.db, clock=FakeClock(ctx.clock.now() + timedelta(days=31))
    )
    stored = len(segments_of(ctx))
    cycle = Retention(later).run_cycle()
    assert cycle.expired.segments == stored and segments_of(ctx) == []
    assert list(store.list(prefix)) == []
    with ctx.db.session() as session:
        records = session.exec(select(DestructionRecord)).all()
    assert sum(r.segment_count for r in records) == stored
    assert Method.shred_unlink_object.value in {r.method for r in records}
    entries = ctx.ledger.entries(events=[EventType.purge], limit=None)
    assert {e.data["destruction_id"] for e in entries} >= {r.id for r in records}
    assert ctx.ledger.verify().ok


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/login").status_code < 500
    except httpx.TransportError:
        return False


def _closed_gap(ctx: AppContext, camera_id: str, kill_ms: int) -> tuple[int, int] | None:
    """The camera's node_takeover gap (start, end) once closed by its first new segment."""
    with ctx.db.session() as session:
        gap = session.exec(
            select(Gap).where(
                col(Gap.camera_id) == camera_id,
                col(Gap.reason) == FailReason.node_takeover.value,
                col(Gap.start_ms) <= kill_ms + FRAME_CLOCK_SLACK_MS,
            )
        ).first()
    if gap is None or gap.end_ms is None:
        return None
    return gap.start_ms, gap.end_ms
