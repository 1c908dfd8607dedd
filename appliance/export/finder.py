"""The face model behind the masking passes: the frame's planes as the detector sees them
(``DetectFrame``), the coarse pass's input size, and ``FaceFinder``, the configured model
(CenterFace, or Haar for comparison) with its coarse and tile calls. When these run is
``appliance.export.schedule``'s business; a still in the mask editor gets both in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from appliance.export.centerface import CenterFace
from appliance.export.confirm import CascadeCheck
from appliance.export.detect import FaceDetector
from appliance.export.regions import Box
from appliance.export.tiles import network_side, tile_grid

if TYPE_CHECKING:
    from appliance.export.options import MaskingOptions

__all__ = ["DetectFrame", "FaceFinder", "coarse_width", "yuv_to_bgr"]

Plane = npt.NDArray[np.uint8]


def yuv_to_bgr(y: Plane, u: Plane, v: Plane, width: int, height: int) -> Plane:
    """A BGR image of ``width`` x ``height`` from the planes of a yuv420p frame, scaled first
    (the conversion is paid at the detector's size, not at the frame's)."""
    small_y = cv2.resize(y, (width, height), interpolation=cv2.INTER_AREA)
    small_u = cv2.resize(u, (width, height), interpolation=cv2.INTER_AREA)
    small_v = cv2.resize(v, (width, height), interpolation=cv2.INTER_AREA)
    ycrcb = cv2.merge([small_y, small_v, small_u])
    return np.asarray(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR), np.uint8)


def coarse_width(width: int, most: int) -> int:
    """The coarse pass's input width for frames ``width`` wide: the frame itself up to
    ``most``, else a third of it (rounded up to the network's stride of 32) but at most
    ``most``. On the evaluation set at 720p, 448 (a third) and 640 leave the same faces
    unmasked (bench/RESULTS.md); the tile pass looks for the smaller ones."""
    if width <= most:
        return width
    return min(most, -(-width // 96) * 32)


def _net_size(width: int, height: int, want: int) -> tuple[int, int]:
    """The network's input size: ``want`` wide (never wider than the frame), both sides
    multiples of 32."""
    in_w = max(32, round(min(want, width) / 32) * 32)
    return in_w, max(32, round(in_w * height / width / 32) * 32)


@dataclass(frozen=True)
class DetectFrame:
    """The planes of one frame (views; unchanged until its detections are resolved)."""

    y: Plane
    u: Plane | None = None
    v: Plane | None = None

    def bgr(self, width: int, height: int) -> Plane:
        if self.u is None or self.v is None:
            grey = cv2.resize(self.y, (width, height), interpolation=cv2.INTER_AREA)
            return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
        return yuv_to_bgr(self.y, self.u, self.v, width, height)

    def crop(self, box: Box) -> DetectFrame:
        """The planes of ``box`` (even-aligned for the chroma planes)."""
        x0, y0 = box.x & ~1, box.y & ~1
        x1, y1 = box.x + box.w, box.y + box.h
        y = self.y[y0:y1, x0:x1]
        if self.u is None or self.v is None:
            return DetectFrame(y)
        half = (slice(y0 // 2, (y1 + 1) // 2), slice(x0 // 2, (x1 + 1) // 2))
        return DetectFrame(y, self.u[half], self.v[half])


class FaceFinder:
    """The configured face model with its two passes (a still in the mask editor gets both in
    full; the masking pipeline calls them on its schedule)."""

    def __init__(self, opts: MaskingOptions) -> None:
        self._opts = opts
        self._haar: FaceDetector | None = None
        self._net: CenterFace | None = None
        self._check: CascadeCheck | None = None
        if opts.face_model == "haar":
            self._haar = FaceDetector(
                scale_factor=opts.face_scale_factor, min_neighbors=opts.face_min_neighbors
            )
        else:
            self._net = _shared_net(opts.face_threshold)
            if opts.face_confirm_floor:
                self._check = CascadeCheck()

    def tiles(self, width: int, height: int) -> list[Box]:
        """The tile pass's tiles, none when the coarse pass already sees the frame whole."""
        opts = self._opts
        if self._net is None or opts.face_tile_px == 0:
            return []
        want = coarse_width(width, opts.face_detect_width)
        if _net_size(width, height, want)[0] >= width - 16:
            return []
        return tile_grid(
            width, height, opts.face_tile_px, opts.face_tile_overlap, opts.face_tile_scale
        )

    def coarse(self, frame: DetectFrame) -> list[Box]:
        if self._haar is not None:
            return self._haar.detect(frame.y)
        return [b for b, _ in self._run_coarse(frame, None)]

    def coarse_candidates(self, frame: DetectFrame) -> tuple[list[Box], list[Box]]:
        """(faces, weak candidates best first): the coarse pass's faces, and its candidates
        scored from ``face_recheck_floor`` up to the threshold (``appliance.export.recheck``
        looks closer at them)."""
        if self._haar is not None or not self.rechecks:
            return self.coarse(frame), []
        opts = self._opts
        found = self._run_coarse(frame, opts.face_recheck_floor)
        faces = [b for b, score in found if score >= opts.face_threshold]
        weak = sorted((c for c in found if c[1] < opts.face_threshold), key=lambda c: -c[1])
        return faces, [b for b, _ in weak]

    def _run_coarse(self, frame: DetectFrame, floor: float | None) -> list[tuple[Box, float]]:
        width = frame.y.shape[1]
        return self._run(frame, coarse_width(width, self._opts.face_detect_width), floor=floor)

    @property
    def rechecks(self) -> bool:
        """Whether the coarse pass's weak candidates are wanted (the network, with a floor
        and a number of looks set)."""
        opts = self._opts
        return self._net is not None and opts.face_recheck_most > 0 and opts.face_recheck_floor > 0

    def tile(self, frame: DetectFrame, tile: Box, *, scale: float = 0.0) -> list[Box]:
        """Faces in ``tile`` of the frame, enlarged ``scale`` times (the tile pass's
        ``face_tile_scale`` unless given)."""
        part = frame.crop(tile)
        x0, y0 = tile.x & ~1, tile.y & ~1
        opts, check = self._opts, self._check
        floor = opts.face_confirm_floor if check is not None else None
        found = self._run(part, 0, scale=scale or opts.face_tile_scale, floor=floor)
        # Weak candidates count only if the cascades confirm them (appliance.export.confirm).
        faces = [
            b
            for b, score in found
            if score >= opts.face_threshold or (check is not None and check.confirms(part.y, b))
        ]
        return [Box(b.x + x0, b.y + y0, b.w, b.h) for b in faces]

    def _run(
        self, frame: DetectFrame, want: int, *, scale: float = 0.0, floor: float | None = None
    ) -> list[tuple[Box, float]]:
        assert self._net is not None
        height, width = frame.y.shape[:2]
        if scale:  # the tile enlarged by ``scale``, rounded up to the network's stride
            in_w, in_h = network_side(width, scale), network_side(height, scale)
        else:
            in_w, in_h = _net_size(width, height, want)
        found = self._net.detect(frame.bgr(in_w, in_h), in_w, floor=floor)
        sx, sy = width / in_w, height / in_h
        return [
            (Box(round(b.x * sx), round(b.y * sy), round(b.w * sx), round(b.h * sy)), score)
            for b, score in found
        ]


_NETS: dict[float, CenterFace] = {}


def _shared_net(threshold: float) -> CenterFace:
    # Loading the network takes about 0.1 s; one per threshold per process is enough (each
    # thread gets its own ``Net`` inside it).
    net = _NETS.get(threshold)
    if net is None:
        net = _NETS[threshold] = CenterFace(threshold=threshold)
    return net
