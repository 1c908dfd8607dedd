"""A whole-frame pass's answer carried over a still picture (``appliance.export.still``)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import astuple
from typing import Any

import numpy as np
import pytest

from appliance.export import schedule, still
from appliance.export.masking import mask_video
from appliance.export.options import MaskingOptions, MaskPlan
from appliance.export.regions import Box, MaskKind
from appliance.export.still import LastPass
from appliance.export.tiles import PIXEL_CHANGE
from tests.support.astronaut import FACE_CENTRE, Image, covers, decode_grey, encode_clip, find_faces


def _answer(boxes: list[Box]) -> Future[list[Box]]:
    future: Future[list[Box]] = Future()
    future.set_result(boxes)
    return future


def test_an_answer_is_reused_only_while_no_block_of_the_picture_changed() -> None:
    thumb = np.full((90, 160), 100, np.uint8)
    last = LastPass(max_reuse=3)
    assert last.reuse(thumb) is None  # nothing has run yet
    answer = _answer([Box(1, 2, 3, 4)])
    last.record(thumb, answer)
    noise = thumb.copy()
    noise[10, 10] += PIXEL_CHANGE  # within the threshold everywhere
    assert last.reuse(noise) is answer
    moved = thumb.copy()
    moved[50, 80] += PIXEL_CHANGE + 1  # one 4 x 4 block of the frame changed
    assert last.reuse(moved) is None
    # Compared with the picture the pass ran on, not the frame before: a slow change counts.
    assert last.reuse(thumb + 10) is answer
    assert last.reuse(thumb + 20) is None
    assert last.reuse(thumb) is answer
    assert last.reuse(thumb) is None  # three in a row, then the pass runs again
    assert last.reused == 3
    last.record(thumb, answer)
    assert last.reuse(thumb[:, :80]) is None  # another frame size


def _run(
    monkeypatch: pytest.MonkeyPatch, clip: bytes, max_reuse: int
) -> tuple[list[tuple[int, list[Box]]], Counter[str]]:
    """The boxes masking each frame, and how many coarse and people passes really ran."""
    ran: Counter[str] = Counter()
    coarse, people = schedule.DetectionSchedule._coarse, schedule.DetectionSchedule._persons

    def counted_coarse(self: schedule.DetectionSchedule, frame: Any) -> list[Box]:
        ran["coarse"] += 1
        return coarse(self, frame)

    def counted_people(self: schedule.DetectionSchedule, frame: Any) -> list[Box]:
        ran["people"] += 1
        return people(self, frame)

    seen: list[tuple[int, list[Box]]] = []

    def observe(index: int, boxes: list[tuple[MaskKind, Box]]) -> None:
        seen.append((index, sorted((b for _, b in boxes), key=astuple)))

    with monkeypatch.context() as patch:
        patch.setattr(still, "MAX_REUSE", max_reuse)
        patch.setattr(schedule.DetectionSchedule, "_coarse", counted_coarse)
        patch.setattr(schedule.DetectionSchedule, "_persons", counted_people)
        mask_video(clip, MaskPlan(options=MaskingOptions()), observe=observe)
    return seen, ran


def test_a_still_picture_is_detected_once_and_masked_as_if_every_pass_ran(
    monkeypatch: pytest.MonkeyPatch, astronaut: Image
) -> None:
    clip = encode_clip([astronaut] * 40)
    every, every_ran = _run(monkeypatch, clip, 0)
    reused, reused_ran = _run(monkeypatch, clip, still.MAX_REUSE)
    assert every_ran == {"coarse": 4, "people": 4}  # frames 0, 10, 20, 30 for both
    assert reused_ran == {"coarse": 1, "people": 1}
    assert reused == every and all(boxes for _, boxes in reused)


def test_a_face_coming_into_a_still_picture_runs_the_pass_again(
    monkeypatch: pytest.MonkeyPatch, astronaut: Image
) -> None:
    blank = np.full_like(astronaut, 128)
    clip = encode_clip([blank] * 12 + [astronaut] * 12)
    _, ran = _run(monkeypatch, clip, still.MAX_REUSE)
    # Coarse: 0 runs, 8 reuses (blank), 16 runs (the face came in on 12); people: 0 runs,
    # 10 reuses (blank), 20 runs.
    assert ran == {"coarse": 2, "people": 2}
    frames = decode_grey(mask_video(clip, MaskPlan(options=MaskingOptions(people=False))).mp4)
    for index, frame in enumerate(frames):
        assert not covers(find_faces(frame), FACE_CENTRE), f"face visible on frame {index}"
