"""The states a camera's recorder reports: one list for the recorder that writes them and the
pages that show them (the ``camera_status.state`` column holds these values)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CameraState"]


class CameraState(StrEnum):
    starting = "starting"
    recording = "recording"
    reconnecting = "reconnecting"  # was recording, lost the stream, trying again
    failed = "failed"  # cannot record (see the reason); still retried
    stopped = "stopped"
