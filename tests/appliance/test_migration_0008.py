"""Migration 0008 (derived copies) keeps a destroyed document's row through a downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from appliance.db import downgrade, make_engine, migrate
from appliance.models import FootageRequest, RequestDocument


def _destroyed_document_roundtrip(url: str) -> None:
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        request = FootageRequest(kind="copy", state="closed", channel="in_person",
                                 requester_kind="subject", requester_name="홍길동",
                                 camera_ids=["cam01"], start_ms=1, end_ms=2, received_ms=1,
                                 received_by="officer1", due_ms=3, created_ms=1,
                                 updated_ms=1)  # fmt: skip
        session.add(request)
        session.flush()
        assert request.id is not None
        session.add(RequestDocument(request_id=request.id, kind="id_copy", filename="id.pdf",
                                    content_type="application/pdf", size_bytes=10,
                                    sha256_hex="ab" * 32, vault_key_id="k", sealed_key=None,
                                    ciphertext=None, uploaded_ms=1, uploaded_by="officer1",
                                    destroyed_ms=5, destroyed_by="system"))  # fmt: skip
        session.commit()
    downgrade(url, "0007")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ciphertext, sealed_key FROM request_document")).one()
        assert bytes(row[0]) == b"" and row[1] is None
    migrate(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT destroyed_ms FROM request_document")).scalar() is None
    engine.dispose()


def test_destroyed_document_downgrade_sqlite(tmp_path: Path) -> None:
    _destroyed_document_roundtrip(f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.postgres
def test_destroyed_document_downgrade_postgres(pg_url: str) -> None:
    _destroyed_document_roundtrip(pg_url)
