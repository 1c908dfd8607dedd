"""A second opinion on the tile pass's weak face candidates: OpenCV's frontal-face cascades.

CenterFace gives the smallest faces (about 22-32 px at 1080p) and faces blurred by motion or
focus low scores, often under the threshold that keeps its false boxes near zero (0.3), so a
face can stay unmasked on every frame of a clip. But such a face is still among the network's
*candidates* (a score of 0.03 or more), and the candidates are few (two or three a tile) and
mostly texture. Each candidate under the threshold is shown to OpenCV's two frontal-face Haar
cascades (``default`` and ``alt2``), on a crop of ``CONTEXT`` times its size enlarged so that
the candidate is about ``FACE_PX`` across, in windows from ``MIN_WINDOW`` up: it is kept as
a face if either cascade finds a face whose centre lies inside the candidate's box (a face
elsewhere in the crop does not count).

Measured on the evaluation set's first frames (bench/RESULTS.md, "Masking: weak candidates
confirmed by the cascades"): of the labelled faces the tile pass left under the threshold,
the cascades confirmed the ones scored 0.04-0.28 (22-32 px faces, blurred 38-40 px ones)
but for one 22 px face, and of about 1,700 candidates (seeds 20, 21) that touch no face they
confirmed one; faces scored under 0.03 (a blurred face of 33 px) stay unfound. Alone, the same
cascades find 10 % of the set's faces: the network says where to look, the cascades say
whether it is a face. A check (both cascades when neither finds a face) costs about 4.6 ms
on bench/export's clip (busy texture; 2.7 ms on the evaluation set's), so the candidates of
a tile scan cost a few milliseconds.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.detect import FACE_CASCADE, load_cascade
from appliance.export.regions import Box

__all__ = ["CASCADES", "CascadeCheck"]

Grey = npt.NDArray[np.uint8]

CASCADES = (FACE_CASCADE, "haarcascade_frontalface_alt2.xml")
#: The crop around a candidate, in candidate sizes (the cascades need the face's outline).
CONTEXT = 3.0
#: The candidate is enlarged (or reduced) to about this many pixels across.
FACE_PX = 48
#: Neighbouring windows a cascade must agree on (OpenCV's ``minNeighbors``).
MIN_NEIGHBORS = 5
#: Window sizes grow by this factor (1.1: the same faces on seeds 20 and 23, 1.8 x the cost).
SCALE_FACTOR = 1.2
#: The smallest window looked at, two thirds of ``FACE_PX``: a face that the candidate stands
#: for fills a window about its size (43-58 px for every face confirmed on the evaluation
#: sets), smaller windows are its eyes or mouth at best, and the cascades' own 24 px windows
#: took 43 % of a check's time (bench/RESULTS.md, session 13).
MIN_WINDOW = 32


_LOCAL = threading.local()


def _cascades() -> list[Any]:
    """This thread's cascades (loading both takes about 20 ms: once per thread, not per clip)."""
    cascades: list[Any] | None = getattr(_LOCAL, "cascades", None)
    if cascades is None:
        cascades = _LOCAL.cascades = [load_cascade(name) for name in CASCADES]
    return cascades


class CascadeCheck:
    """Confirms candidate face boxes on a grey plane; safe to call from several threads (each
    thread has its own cascades: a ``CascadeClassifier`` is not documented re-entrant)."""

    def __init__(self) -> None:
        _cascades()  # fail at construction, not on the first candidate

    def confirms(self, grey: Grey, box: Box) -> bool:
        """Whether a cascade finds a face centred inside ``box`` (pixels of ``grey``)."""
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
        for cascade in _cascades():
            found = cascade.detectMultiScale(
                crop, SCALE_FACTOR, MIN_NEIGHBORS, minSize=(MIN_WINDOW, MIN_WINDOW)
            )
            centres = [
                (x0 + (fx + fw / 2) / factor, y0 + (fy + fh / 2) / factor)
                for fx, fy, fw, fh in found
            ]
            if any(box.holds(gx, gy) for gx, gy in centres):
                return True
        return False
