"""The mask editor's pure geometry: sample spans over the approved range, detections as
normalised rectangles."""

from __future__ import annotations

from itertools import pairwise

import pytest

from appliance.errors import ValidationFailed
from appliance.export.regions import Box, NormRect, box_to_norm, outermost, sample_spans


def test_spans_cover_the_range_without_gaps_or_overlap() -> None:
    spans = sample_spans(1000, 3000, 6)
    assert len(spans) == 6 and spans[0][0] == 1000 and spans[-1][1] == 3000
    assert all(a[1] == b[0] for a, b in pairwise(spans))
    assert all(end > start for start, end in spans)


def test_a_range_shorter_than_the_count_gives_one_span_per_ms() -> None:
    assert sample_spans(0, 3, 12) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValidationFailed):
        sample_spans(5, 5, 3)
    with pytest.raises(ValidationFailed):
        sample_spans(0, 10, 0)


def test_a_box_becomes_a_rectangle_clipped_to_the_frame() -> None:
    assert box_to_norm(Box(-10, 10, 60, 20), 100, 100) == NormRect(0.0, 0.1, 0.5, 0.2)
    inside = box_to_norm(Box(90, 90, 50, 50), 100, 200)
    assert inside.x + inside.w <= 1.0 and inside.y + inside.h <= 1.0


def test_a_box_inside_another_is_masked_once() -> None:
    outer, inner, apart = Box(0, 0, 100, 100), Box(10, 10, 50, 50), Box(90, 90, 30, 30)
    assert outermost([inner, outer, apart, outer]) == [outer, apart]
    assert outermost([]) == []
