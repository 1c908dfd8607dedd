"""The tile pass's geometry and order, and template tracks (appliance.export.tiles, .track)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from appliance.export.regions import Box
from appliance.export.tiles import TilePlanner, changed, network_side, thumbnail, tile_grid
from appliance.export.track import ScaledTracks, TemplateTracks


@pytest.mark.parametrize("scale", [1.0, 1.25, 1.5])
def test_tiles_cover_the_frame_with_overlap(scale: float) -> None:
    for width, height in ((1920, 1080), (1280, 720), (3840, 2160), (2560, 1440), (512, 512)):
        tiles = tile_grid(width, height, 640, 64, scale)
        covered = np.zeros((height, width), bool)
        for t in tiles:
            assert t.x >= 0 and t.y >= 0 and t.x + t.w <= width and t.y + t.h <= height
            assert t.x % 2 == 0 and t.y % 2 == 0
            covered[t.y : t.y + t.h, t.x : t.x + t.w] = True
        assert covered.all()
        # Any 64 x 64 square of the frame lies whole in one tile (a small face is never cut).
        for x in range(0, width - 64, 37):
            for y in range(0, height - 64, 41):
                assert any(
                    t.x <= x and x + 64 <= t.x + t.w and t.y <= y and y + 64 <= t.y + t.h
                    for t in tiles
                ), (width, height, x, y)
    assert len(tile_grid(1920, 1080, 640, 64, scale)) == 8
    assert tile_grid(512, 512, 640, 64, scale) == [Box(0, 0, 512, 512)]


def test_tiles_fill_the_network_input_they_need() -> None:
    """The network takes sides in multiples of 32: an enlarged tile is as large as the
    smallest such input allows, never larger (it would cost a larger input)."""
    for width, height in ((1920, 1080), (1280, 720), (3840, 2160)):
        for tile in tile_grid(width, height, 640, 64, 1.5):
            for side in (tile.w, tile.h):
                net = network_side(side, 1.5)
                # Two pixels more (tiles are even) would need the next input size.
                assert side * 1.5 <= net < (side + 2) * 1.5
    # 720p: 736 x 608 inputs (480 x 416 tiles rounded to 32 took 736 x 640).
    assert {(t.w, t.h) for t in tile_grid(1280, 720, 640, 64, 1.5)} == {(490, 404)}


def test_planner_covers_first_then_prefers_changed_tiles() -> None:
    tiles = tile_grid(1920, 1080, 640, 64)
    planner = TilePlanner(tiles, every_n=8)
    still = np.full((1080, 1920), 90, np.uint8)
    first = [planner.due(i, still) for i in range(16)]
    assert [t for t in first if t is not None] == tiles  # every tile, every other frame
    assert first[0] is None and first[1] == tiles[0]
    assert all(planner.due(i, still) is None for i in range(16, 20))
    assert planner.due(20, still) == tiles[0]  # nothing changed: the stalest
    moved = still.copy()
    last = tiles[-1]
    moved[last.y + 300 : last.y + 400, last.x + 300 : last.x + 400] = 250  # someone came in
    assert planner.due(28, moved) == last
    assert planner.remaining(40, moved) == []  # scanned since it changed
    moved[10:110, 10:110] = 250
    assert planner.remaining(40, moved) == [tiles[0]]


def test_a_small_face_coming_in_changes_its_tile_and_swaying_does_not() -> None:
    """bench/masking --arrivals: a face that comes in mid-clip is found by its tile's next
    slot only if the tile counts as changed; faces swaying a pixel in every other tile must
    not count, or they take the slots in turn."""
    rng = np.random.default_rng(3)
    wall = rng.integers(40, 200, (1080, 1920)).astype(np.uint8)
    wall = np.asarray(cv2.GaussianBlur(wall, (0, 0), 3), np.uint8)  # a textured wall
    faces = [rng.integers(0, 255, (80, 60)).astype(np.uint8) for _ in range(3)]
    tiles = tile_grid(1920, 1080, 640, 64)
    spots = [(100, 100), (1500, 150), (400, 700)]  # seated people, each in its own tile

    def frame(sway: int, arrived: bool) -> np.ndarray:
        image = wall.copy()
        for (x, y), face in zip(spots, faces, strict=True):
            image[y + sway : y + sway + 80, x + sway : x + sway + 60] = face
        if arrived:  # a 24 px face in the tile of the lower right corner
            image[900:930, 1700:1724] = 235
        return image

    seen = thumbnail(frame(0, False))
    for sway in (-1, 1):
        swayed = thumbnail(frame(sway, False))
        assert not any(changed(seen, swayed, tile, pixels=12) for tile in tiles)
    came = thumbnail(frame(1, True))
    assert [tile for tile in tiles if changed(seen, came, tile, pixels=12)] == [tiles[-1]]
    planner = TilePlanner(tiles, every_n=16)
    for index in range(16):
        planner.due(index, frame(index % 2, False))
    assert planner.due(24, frame(1, False)) == tiles[0]  # nothing came in: the stalest
    assert planner.due(40, frame(0, True)) == tiles[-1]  # not the seven scanned before it


def _frame(x: int, y: int, patch: np.ndarray) -> np.ndarray:
    frame = np.full((360, 640), 100, np.uint8)
    frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return frame


def test_a_track_follows_a_face_back_and_forth_and_ends_when_it_leaves() -> None:
    rng = np.random.default_rng(1)
    face = rng.integers(0, 255, (30, 30)).astype(np.uint8)
    tracks = TemplateTracks(reach=10)
    # Walking right 5 px per frame over frames 0..7, gone from frame 8.
    planes = [_frame(100 + 5 * i, 50, face) for i in range(8)] + [_frame(0, 0, face[:0])] * 2
    for index, plane in enumerate(planes):
        tracks.see(index, plane)
    tracks.add(4, [Box(120, 50, 30, 30)])  # found on frame 4 only
    shown = [tracks.at(index) for index in range(10)]
    xs = [s[0].x if s else None for s in shown]
    assert xs == [100, 105, 110, 115, 120, 125, 130, 135, None, None]
    # Frames already served are masked in place: no later detection matches against them.
    tracks.see(10, planes[0])
    tracks.add(10, [Box(100, 50, 30, 30)])
    assert tracks.at(10) == [Box(100, 50, 30, 30)]


def test_a_track_matches_the_face_without_its_margin() -> None:
    rng = np.random.default_rng(2)
    wall = rng.integers(0, 255, (360, 640)).astype(np.uint8)  # textured: the margin differs
    face = rng.integers(0, 255, (30, 30)).astype(np.uint8)
    planes = []
    for i in range(12):
        plane = wall.copy()
        plane[100:130, 100 + 8 * i : 130 + 8 * i] = face  # walking 8 px per frame
        planes.append(plane)
    tracks = TemplateTracks(reach=12, core=1 / 1.6)
    for index, plane in enumerate(planes):
        tracks.see(index, plane)
    tracks.add(11, [Box(100 + 88 - 9, 100 - 9, 48, 48)])  # the face grown by 30 % a side
    xs = [tracks.at(index)[0].x for index in range(12)]
    assert xs == [100 + 8 * i - 9 for i in range(12)]


def test_a_burst_of_arrivals_gets_extra_slots_and_steady_motion_does_not() -> None:
    tiles = tile_grid(1920, 1080, 640, 64)
    planner = TilePlanner(tiles, every_n=16)
    room = np.full((1080, 1920), 90, np.uint8)

    def walker(index: int) -> np.ndarray:  # someone walking across the top left tile
        frame = room.copy()
        x = 40 + 6 * index
        frame[100:260, x : x + 80] = 230
        return frame

    scans = {i: planner.due(i, walker(i)) for i in range(96)}
    extra = [i for i, tile in scans.items() if tile is not None and i >= 16 and i % 16 == 0]
    assert extra == []  # walking on is not coming in: one tile a slot
    burst = walker(96)
    corners = [tiles[-1], tiles[-2], tiles[-3]]  # three people come in at once
    for tile in corners:
        burst[tile.y + 300 : tile.y + 340, tile.x + 200 : tile.x + 230] = 240
    later = {i: planner.due(i, burst) for i in range(97, 140)}
    scanned = {i: tile for i, tile in later.items() if tile is not None}
    arrivals = [i for i, tile in scanned.items() if tile in corners]
    assert len(arrivals) == 3 and arrivals[-1] - 96 <= 32  # not 48 frames for the third


def test_a_thumbnail_is_the_mean_of_each_four_by_four_block() -> None:
    rng = np.random.default_rng(4)
    noise = rng.integers(0, 255, (720, 1280)).astype(np.uint8)
    plane = np.asarray(cv2.GaussianBlur(noise, (5, 5), 2), np.uint8)
    means = plane.reshape(180, 4, 320, 4).mean(axis=(1, 3))
    thumb = thumbnail(plane)
    assert thumb.shape == (180, 320)
    assert np.abs(thumb.astype(float) - means).max() <= 1.0  # rounding, twice


def test_a_person_is_followed_on_thumbnails_between_passes() -> None:
    """People's boxes are hundreds of pixels: they are matched on quarter-size thumbnails,
    given and returned in full-frame pixels."""
    rng = np.random.default_rng(5)
    # Surfaces and clothes: patches tens of pixels across (fine grain averages away at a
    # quarter of the size).
    wall = np.asarray(cv2.resize(rng.integers(60, 200, (18, 32)).astype(np.uint8), (1280, 720)))
    body = np.asarray(cv2.resize(rng.integers(0, 255, (10, 5)).astype(np.uint8), (200, 400)))
    tracks = ScaledTracks(10, 4, core=1 / 1.2)
    for i in range(20):  # walking right 12 px a frame
        plane = np.array(wall, np.uint8)
        plane[200:600, 100 + 12 * i : 300 + 12 * i] = body
        tracks.see(i, thumbnail(plane))
    tracks.add(10, [Box(100 + 120 - 20, 200 - 40, 240, 480)])  # the pass on frame 10, grown
    xs = [[b.x for b in tracks.at(i)] for i in range(20)]
    # Back to the pass before (frame 0) and forwards, within a thumbnail pixel (4 px).
    assert all(len(x) == 1 and abs(x[0] - (80 + 12 * i)) <= 4 for i, x in enumerate(xs)), xs
