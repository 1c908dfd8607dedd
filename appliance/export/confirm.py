"""A second opinion on the tile pass's weak face candidates: OpenCV's frontal-face cascades.

CenterFace gives the smallest faces (about 22-32 px at 1080p) and faces blurred by motion or
focus low scores, often under the threshold that keeps its false boxes near zero (0.3), so a
face can stay unmasked on every frame of a clip. But such a face is still among the network's
*candidates* (a score of 0.03 or more), and the candidates are few (two or three a tile) and
mostly texture. Each candidate under the threshold is shown to both of OpenCV's frontal-face
Haar cascades (``default`` and ``alt2``), on a crop of ``CONTEXT`` times its size enlarged so
that the candidate is about ``FACE_PX`` across (the cascades' own 24 px window with room): it
is kept as a face only if each cascade finds a face whose centre lies inside the candidate's
box.

Measured on the evaluation set's first frames, seeds 20 and 21 (bench/RESULTS.md, "Masking:
weak candidates confirmed by the cascades"): every labelled face the tile pass left under the
threshold (six, scores 0.04-0.28: 22-32 px faces and a blurred 38 px one) was confirmed, and
none of 1,709 candidates that touch no face. Alone, the same cascades find 10 % of the set's
faces on one frame: the network says where to look, the cascades say whether it is a face.
A cascade costs well under a millisecond on a crop this size.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import cv2.data
import numpy as np
import numpy.typing as npt

from appliance.errors import MediaError
from appliance.export.regions import Box

__all__ = ["CASCADES", "CascadeCheck"]

Grey = npt.NDArray[np.uint8]

CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
#: The crop around a candidate, in candidate sizes (the cascades need the face's outline).
CONTEXT = 3.0
#: The candidate is enlarged (or reduced) to about this many pixels across.
FACE_PX = 48
#: Neighbouring windows a cascade must agree on (OpenCV's ``minNeighbors``).
MIN_NEIGHBORS = 5


def _load(name: str) -> Any:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise MediaError(f"OpenCV's face cascade {name} did not load")
    return cascade


class CascadeCheck:
    """Confirms candidate face boxes on a grey plane; safe to call from several threads (each
    thread loads its own cascades: a ``CascadeClassifier`` is not documented re-entrant)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._cascades()  # fail at construction, not on the first candidate

    def _cascades(self) -> list[Any]:
        cascades: list[Any] | None = getattr(self._local, "cascades", None)
        if cascades is None:
            cascades = self._local.cascades = [_load(name) for name in CASCADES]
        return cascades

    def confirms(self, grey: Grey, box: Box) -> bool:
        """Whether every cascade finds a face centred inside ``box`` (pixels of ``grey``)."""
        height, width = grey.shape[:2]
        side = max(box.w, box.h)
        if side < 4:
            return False
        cx, cy = box.x + box.w / 2, box.y + box.h / 2
        half = side * CONTEXT / 2
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(width, int(cx + half)), min(height, int(cy + half))
        if x1 - x0 < side or y1 - y0 < side:
            return False
        factor = FACE_PX / side
        crop = np.asarray(
            cv2.resize(
                grey[y0:y1, x0:x1], None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC
            ),
            np.uint8,
        )
        for cascade in self._cascades():
            found = cascade.detectMultiScale(crop, 1.1, MIN_NEIGHBORS, minSize=(24, 24))
            centres = [
                (x0 + (fx + fw / 2) / factor, y0 + (fy + fh / 2) / factor)
                for fx, fy, fw, fh in (found if len(found) else [])
            ]
            if not any(
                box.x <= gx < box.x + box.w and box.y <= gy < box.y + box.h for gx, gy in centres
            ):
                return False
        return True
