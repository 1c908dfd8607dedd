"""A camera that sends B-frames, recorded by the native client and played back in Debian's
Chromium (issue 16): the viewer opens cam03's recorded footage with a purpose, the video element
plays it, and the pictures Chromium shows are the simulator's pictures in presentation order,
frame by frame.

How the order is checked: every picture Chromium presents (``requestVideoFrameCallback``) is
drawn on a canvas and reduced to a 16 x 12 grid of mean brightness; each grid is matched with
the closest picture of the clip the simulator loops (decoded by FFmpeg, in presentation order).
A picture shown at media time ``t`` must be the clip's picture ``t`` x 25 frames after the first
one shown. Pictures shown in decoding order (composition offsets lost) or out of order fail.
"""

from __future__ import annotations

import io
import os
from typing import Any

import av
import numpy as np
import pytest

from appliance.ledger import EventType
from recorder.sim._clips import prepare_clip
from tests.support.browser import Site, fill_range_around_footage
from tests.support.desk import sign_in
from tests.support.recorder import SIM_BFRAMES, SIM_CLIP_S, SIM_GOP_S, SIM_KBPS, SIM_SIZE

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("BFRAME_SCREENSHOT", "/tmp/bframe-playback.png")
FPS = 25
GRID = (12, 16)  # rows, columns of the brightness grid
SAMPLES = 40  # pictures sampled while playing (1.6 s at 25 fps)

PLAYING = """(selector) => {
  const v = document.querySelector(selector);
  return !!v && v.error === null && v.readyState >= 2 && v.currentTime > 0.5;
}"""

# Each presented picture: its media time, the count of pictures presented so far, and the grid
# of mean brightness (ITU-R BT.601 weights) of the picture as drawn on a canvas.
SAMPLE_FRAMES = """async ([selector, count, rows, cols]) => {
  const v = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = v.videoWidth;
  canvas.height = v.videoHeight;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const out = [];
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(out), 20000);
    const step = (now, meta) => {
      g.drawImage(v, 0, 0, canvas.width, canvas.height);
      const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
      const bw = canvas.width / cols, bh = canvas.height / rows;
      const grid = new Array(rows * cols).fill(0);
      for (let y = 0; y < canvas.height; y++) {
        for (let x = 0; x < canvas.width; x++) {
          const i = (y * canvas.width + x) * 4;
          grid[Math.floor(y / bh) * cols + Math.floor(x / bw)] +=
            0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
        }
      }
      out.push({ t: meta.mediaTime, presented: meta.presentedFrames, grid, error: v.error });
      if (out.length >= count || v.error) {
        clearTimeout(timer);
        resolve(out);
      } else {
        v.requestVideoFrameCallback(step);
      }
    };
    v.requestVideoFrameCallback(step);
  });
}"""


def _normalized(grid: Any) -> Any:
    """A grid as z-scores: the canvas's and FFmpeg's colour conversions differ in scale and
    offset, not in which blocks are brighter."""
    values = np.asarray(grid, dtype=np.float64).ravel()
    return (values - values.mean()) / (values.std() or 1.0)


def _clip_grids() -> list[Any]:
    """The simulator's B-frame clip decoded by FFmpeg, in presentation order, as grids."""
    clip = prepare_clip(
        None, "h264", SIM_SIZE[0], SIM_SIZE[1], SIM_KBPS, FPS, SIM_GOP_S, SIM_CLIP_S, False,
        SIM_BFRAMES,
    )  # fmt: skip
    stream = b"".join(path.read_bytes() for path in clip.video_files())
    rows, cols = GRID
    grids = []
    with av.open(io.BytesIO(stream), "r", format="h264") as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24").astype(np.float64)
            luma = rgb @ np.array([0.299, 0.587, 0.114])
            h, w = luma.shape
            blocks = luma.reshape(rows, h // rows, cols, w // cols).sum(axis=(1, 3))
            grids.append(_normalized(blocks))
    assert len(grids) == clip.frames
    return grids


def test_a_b_frame_recording_plays_in_order_in_chromium(site: Site, open_tab: Any) -> None:
    tab = open_tab()
    page = tab.page
    sign_in(tab, "ward", path="/view?camera=cam03")
    fill_range_around_footage(site, page, "cam03")
    page.select_option("#category", "incident")
    page.fill("#purpose-text", "처치실 투약 시간 확인")
    page.click("#open-viewing")
    page.wait_for_selector("#viewing:not([hidden])")
    viewing = site.ctx.ledger.entries(events=[EventType.view_recorded_start])[-1]
    assert viewing.actor == "ward" and viewing.data["cameras"] == ["cam03"]
    # The recorder kept the camera on its native client (no switch to FFmpeg for B-frames).
    assert "처치실" in page.inner_text("#viewing")

    page.wait_for_function(PLAYING, arg="#video-cam03", timeout=30_000)
    frames = page.evaluate(SAMPLE_FRAMES, ["#video-cam03", SAMPLES, *GRID])
    state = page.evaluate(
        "() => { const v = document.querySelector('#video-cam03');"
        " return {error: v.error && v.error.code, width: v.videoWidth, height: v.videoHeight,"
        " time: v.currentTime, paused: v.paused}; }"
    )
    page.screenshot(path=SCREENSHOT)
    assert state["error"] is None and (state["width"], state["height"]) == SIM_SIZE
    assert not state["paused"] and state["time"] > 0.5
    assert len(frames) == SAMPLES and all(f["error"] is None for f in frames)

    grids = _clip_grids()
    matched = []
    for frame in frames:
        grid = _normalized(frame["grid"])
        distances = [float(np.abs(grid - ref).mean()) for ref in grids]
        best = int(np.argmin(distances))
        others = sorted(d for i, d in enumerate(distances) if i != best)
        # A clear match: the picture shown is one of the clip's, and not its neighbours.
        assert distances[best] < 0.5 * others[0], (frame["t"], distances[best], others[:2])
        matched.append(best)
    first_t, first = frames[0]["t"], matched[0]
    shown = [round((f["t"] - first_t) * FPS) for f in frames]
    assert shown == sorted(shown) and len(set(shown)) == len(shown)  # time only goes forward
    assert shown[-1] >= SAMPLES // 2  # played on (pictures may be skipped, never reordered)
    # Frame-exact: the picture at media time t is the clip's picture t x 25 after the first.
    # A callback that runs late (a loaded machine) draws the element's next picture already,
    # so a picture may be one frame later than its time says, never earlier or two later (B-
    # frames shown in decoding order would be: I P B B shows 0 3 1 2).
    # The first sample is the reference (lag 0): the others are as late, one later, or (when
    # the first was drawn late) one earlier.
    pairs = zip(matched, shown, strict=True)
    lags = sorted({(m - first - offset) % len(grids) for m, offset in pairs})
    assert lags in ([0], [0, 1], [0, len(grids) - 1]), (matched, shown)
    assert tab.errors == []
