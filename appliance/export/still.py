"""``LastPass``: a whole-frame pass's answer carried over while the picture has not changed.

The coarse face pass and the people detector run on every N-th frame whatever the picture
does. On a fixed camera watching an empty corridor at night, or a waiting room where nobody
moves, they answer what they answered last time, at 50-100 ms of CPU a pass. So a pass is
skipped, and its last real answer used again, only while *no* pixel of the frame's quarter-size
grey thumbnail differs by more than 16 grey levels from the thumbnail of the frame that real
pass ran on (not the previous frame's: slow changes add up until one counts). Someone coming
in, a head turning, a door opening: each changes some 4 x 4 block's average by more than that;
sensor and compression noise, averaged over 16 pixels, does not. An answer is carried over
for at most ``MAX_REUSE`` passes in a row, then the pass runs again whatever the picture.

The tile pass is not gated this way: its rescans of tiles that did not change are what finds a
face too small or too faint to change the thumbnail (``appliance.export.tiles``).
"""

from __future__ import annotations

from concurrent.futures import Future

from appliance.export.regions import Box
from appliance.export.tiles import Plane, differs

__all__ = ["MAX_REUSE", "LastPass"]

#: Passes in a row that may reuse one real answer (8 frames apart: 10 s of footage for the
#: coarse pass, 6 s for people).
MAX_REUSE = 32


class LastPass:
    """The last real run of one pass: its frame's thumbnail and its answer."""

    def __init__(self, max_reuse: int | None = None) -> None:
        self.max_reuse = MAX_REUSE if max_reuse is None else max_reuse
        self.reused = 0  # passes answered from the last real one, in all
        self._thumb: Plane | None = None
        self._answer: Future[list[Box]] | None = None
        self._in_a_row = 0

    def reuse(self, thumb: Plane) -> Future[list[Box]] | None:
        """The last real answer if the picture (``thumb``) has not changed since, else None
        (then run the pass and ``record`` it)."""
        if self._answer is None or self._thumb is None or self._in_a_row >= self.max_reuse:
            return None
        if differs(self._thumb, thumb):
            return None
        self._in_a_row += 1
        self.reused += 1
        return self._answer

    def record(self, thumb: Plane, answer: Future[list[Box]]) -> None:
        self._thumb, self._answer, self._in_a_row = thumb, answer, 0
