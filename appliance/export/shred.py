"""Destroying a package file: overwrite in place, fsync, unlink, fsync the directory.

A package is ciphertext, and once the vault's copy of its key is gone nobody at the clinic can
open it; the overwrite is for the transport passphrase's slot in its header, which the
recipient holds. On a copy-on-write or flash file system an overwrite may land elsewhere
(design/export.md says so); the file's key material is then still only as strong as the
passphrase, which argon2id makes expensive to guess.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shred_file"]

_CHUNK_BYTES = 1024 * 1024


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def shred_file(path: Path) -> bool:
    """Overwrite ``path`` with zeros, fsync, unlink it and fsync its directory.

    Returns False if there was no file (idempotent: a crash after the unlink is finished by
    calling it again).
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        remaining = os.fstat(fd).st_size
        zeros = bytes(_CHUNK_BYTES)
        while remaining > 0:
            remaining -= os.write(fd, zeros[: min(remaining, _CHUNK_BYTES)])
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True
