"""Witnesses of signed heads outside the database: an append-only file and syslog.

Someone who can write the database can delete every stored head; a copy elsewhere is what
``appliance ledger verify --heads-file`` compares with. Each head (and checkpoint) becomes one
JSON line (``SignedHead.to_line``) appended with ``O_APPEND`` and fsynced before ``record``
returns, and one syslog message (``SysLogHandler`` on a unix datagram socket, ``/dev/log`` by
default; skipped when the socket does not exist, so a box without a syslog daemon still signs).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import LedgerUnavailable, ValidationFailed
from appliance.ledger.heads import SignedHead

__all__ = ["SYSLOG_IDENT", "HeadWitness", "read_heads_file"]

SYSLOG_IDENT = "appliance-ledger-head: "

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadWitness:
    """Where heads are copied: ``heads_file`` (None: nowhere) and ``syslog_socket`` ("": off)."""

    heads_file: Path | None
    syslog_socket: str = "/dev/log"

    def record(self, head: SignedHead) -> None:
        """Append ``head`` to the heads file (durably) and send it to syslog.

        Raises LedgerUnavailable when the file cannot be written: the head is stored in the
        database already, but the caller must learn that its witness is missing.
        """
        line = head.to_line()
        if self.heads_file is not None:
            _append_line(self.heads_file, line)
        if self.syslog_socket:
            _to_syslog(self.syslog_socket, line)


def _append_line(path: Path, line: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())  # one write: lines never interleave
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LedgerUnavailable(f"cannot append the signed head to {path}: {exc}") from exc


def _to_syslog(address: str, line: str) -> None:
    if not Path(address).exists():
        log.debug("no syslog socket at %s: signed head not sent to syslog", address)
        return
    try:
        handler = logging.handlers.SysLogHandler(
            address=address,
            facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
            socktype=socket.SOCK_DGRAM,
        )
    except OSError as exc:
        log.warning("syslog socket %s refused the signed head: %s", address, exc)
        return
    try:
        handler.ident = SYSLOG_IDENT
        record = {"msg": line, "levelno": logging.INFO, "levelname": "INFO"}
        handler.handle(logging.makeLogRecord(record))
    finally:
        handler.close()


def read_heads_file(path: Path) -> Iterator[tuple[int, SignedHead]]:
    """(line number, head) for each line of a heads file; ValidationFailed if unreadable.

    A line that is not a head raises ValidationFailed naming its number, except a last line
    without its newline (a write cut short by a power loss), which is skipped.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(f"{path}: {exc.strerror}") from exc
    lines = text.split("\n")
    torn = lines.pop()  # "" when the file ends with a newline
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, SignedHead.from_json(line)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{path} line {number}: {exc}") from exc
    if torn.strip():
        log.warning("%s: the last line is incomplete and was skipped", path)
