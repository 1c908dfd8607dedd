"""Weak coarse candidates looked at in vain are not looked at again for a while, and a
pattern that walks on with its person is not looked at again each time it moves."""

from __future__ import annotations

from appliance.export.recheck import FORGET, Rejections, recheck_window
from appliance.export.regions import Box


def test_a_window_looked_at_in_vain_follows_its_candidate_until_forgotten() -> None:
    rejections = Rejections(1280, 720, most=640)
    badge = Box(400, 100, 26, 26)
    rejections.note(recheck_window(badge, 1280, 720, most=640))  # 128 px around it
    held = []
    for step in range(1, FORGET + 2):
        rejections.next_pass()
        # 24 px a pass: out of the first window after three passes, but the window moves.
        held.append(rejections.holds(Box(badge.x + 24 * step, badge.y, 26, 26)))
    assert held == [True] * (FORGET - 1) + [False, False]


def test_a_candidate_elsewhere_gets_its_look() -> None:
    rejections = Rejections(1280, 720, most=640)
    rejections.note(recheck_window(Box(400, 100, 26, 26), 1280, 720, most=640))
    rejections.next_pass()
    assert not rejections.holds(Box(900, 400, 26, 26))
    assert rejections.holds(Box(410, 105, 26, 26))
