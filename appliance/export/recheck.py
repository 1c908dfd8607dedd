"""A closer look at the coarse pass's weak candidates.

The coarse pass sees the frame at a third of its width. A large face partly covered (a
counter, a hand, a mask), dim or turned scores under the threshold there (0.1-0.25), and the
scan of the tile holding it may be a hundred frames away (bench/masking --arrivals, seed 22:
a 107 px face shown for 43 frames). So the best ``face_recheck_most`` candidates of each pass
scored from ``face_recheck_floor`` up to the threshold, and not already inside a face of the
pass, get a look at full resolution: the tile pass's own call (with its cascade confirmation)
on a square window of about three face widths. Candidates inside a window looked at in vain
during the last ``FORGET`` coarse passes are skipped, so a face-like pattern (a patch on a
suit) costs one look now and then, not one a pass.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from appliance.export.finder import DetectFrame, FaceFinder
from appliance.export.regions import Box, expand_box

if TYPE_CHECKING:
    from appliance.export.options import MaskingOptions

__all__ = ["FORGET", "LOOK_SCALE", "Rechecks", "Rejections", "recheck_window"]

#: Coarse passes during which a window looked at in vain is not looked at again.
FORGET = 4
#: A look enlarges its window this much. Looks are few (two a pass at most), so they keep
#: the enlargement the tile pass had until session 12: at 1.25, the partly covered 100 px
#: face of tests/appliance/export/test_masking.py scores under the threshold and shows for
#: 80 frames.
LOOK_SCALE = 1.5


class Rejections:
    """Windows looked at in vain, each forgotten ``FORGET`` coarse passes after its look, for
    frames ``width`` x ``height``. Coarse passes of neighbouring frames may run at once on
    the schedule's two workers: the windows are kept under a lock."""

    def __init__(self, width: int, height: int, *, most: int) -> None:
        self._size, self._most = (width, height), most
        self._windows: list[tuple[int, Box]] = []  # (coarse pass of the look, window)
        self._pass = 0
        self._lock = threading.Lock()

    def note(self, window: Box) -> None:
        with self._lock:
            self._windows.append((self._pass, window))

    def holds(self, candidate: Box) -> bool:
        """Whether ``candidate`` lies in a window looked at in vain lately. The window then
        moves to the candidate (its age kept): a pattern on someone walking (a badge, a print
        on a shirt) is followed from pass to pass and looked at again every ``FORGET``
        passes, not each time it leaves the window it was first seen in (bench/export: a
        badge drifting 24 px a pass had a look every third pass)."""
        with self._lock:
            for i, (seen, window) in enumerate(self._windows):
                if _inside(candidate, window):
                    self._windows[i] = (
                        seen,
                        recheck_window(candidate, *self._size, most=self._most),
                    )
                    return True
            return False

    def next_pass(self) -> None:
        with self._lock:
            self._pass += 1
            self._windows = [(p, w) for p, w in self._windows if self._pass - p < FORGET]


class Rechecks:
    """The coarse pass with its closer looks, for frames ``width`` x ``height``."""

    def __init__(self, opts: MaskingOptions, finder: FaceFinder, width: int, height: int):
        self._opts, self._finder = opts, finder
        self._size = (width, height)
        self._rejected = Rejections(width, height, most=opts.face_tile_px)

    def coarse(self, frame: DetectFrame) -> list[Box]:
        """The coarse pass's faces and what the looks found, not yet grown by the margin."""
        faces, weak = self._finder.coarse_candidates(frame)
        found = list(faces)
        margin = self._opts.face_margin
        looks = 0
        for candidate in weak:
            if looks >= self._opts.face_recheck_most:
                break
            if any(_inside(candidate, expand_box(face, margin)) for face in found):
                continue  # masked with that face already
            if self._rejected.holds(candidate):
                continue
            window = recheck_window(candidate, *self._size, most=self._opts.face_tile_px)
            looks += 1
            near = self._finder.tile(frame, window, scale=LOOK_SCALE)
            if near:
                found += near
            else:
                self._rejected.note(window)
        self._rejected.next_pass()
        return found


def recheck_window(box: Box, width: int, height: int, *, most: int) -> Box:
    """A square of about three times ``box``'s larger side around it, its side a multiple
    of 64 (few network input sizes: one ``Net`` each) and at most ``most``, moved inside the
    ``width`` x ``height`` frame rather than cut."""
    side = min(-(-3 * max(box.w, box.h) // 64) * 64, most, width, height)
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    x = min(max(cx - side // 2, 0), width - side)
    y = min(max(cy - side // 2, 0), height - side)
    return Box(x, y, side, side)


def _inside(box: Box, other: Box) -> bool:
    """Whether ``box``'s centre lies inside ``other``."""
    return other.holds(box.x + box.w // 2, box.y + box.h // 2)
