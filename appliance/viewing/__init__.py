"""Purpose-bound viewing of recorded and live footage (R-VIEW-1..3, invariant 5).

``ViewingService.open`` writes the session and its ledger entry together before any byte can
be served; streams stay inside their session's cameras and range; the end records what was
watched. Recorded footage is decrypted on the fly into fragmented MP4 (H.265 transcoded to
H.264 in memory); live view remuxes the recorder's packets without decoding.
See design/access.md.
"""

from appliance.viewing.live import LiveFeed, LiveHub, LiveSource
from appliance.viewing.purpose import LABELS_KO, Purpose, PurposeCategory, make_purpose
from appliance.viewing.scope import ViewKind
from appliance.viewing.service import FootageKeys, ViewingService
from appliance.viewing.stream import MediaStream
from appliance.viewing.timeline import CameraDay, camera_day

__all__ = [
    "LABELS_KO",
    "CameraDay",
    "FootageKeys",
    "LiveFeed",
    "LiveHub",
    "LiveSource",
    "MediaStream",
    "Purpose",
    "PurposeCategory",
    "ViewKind",
    "ViewingService",
    "camera_day",
    "make_purpose",
]
