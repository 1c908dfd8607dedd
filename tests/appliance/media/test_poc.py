"""Picture order counts and reorder depths read from real H.264/H.265 bitstreams (encoded with
ffmpeg at test time) and, for H.264 POC type 1, which no encoder here produces (x264 writes
types 0 and 2 only; no other software H.264 encoder is installed), from header values."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from appliance.errors import MediaError
from appliance.media._nal import iter_nal_units
from appliance.media.poc import (
    BitReader,
    H264Sps,
    PocCounterH264,
    PocCounterH265,
    parse_h264_pps,
    parse_h264_sps,
    parse_h265_pps,
    parse_h265_sps,
    unescape,
)
from tests.support.bframe_clips import FRAME_TICKS, BframeClip, encode_clip


def _pocs(clip: BframeClip, h265: bool) -> tuple[list[int], list[int]]:
    """(POC of each access unit, reorder depth of each SPS met)."""
    counter = PocCounterH265() if h265 else PocCounterH264()
    pocs, depths = [], []
    for unit in clip.units:
        for begin, end in iter_nal_units(unit):
            nal = unit[begin:end]
            kind = (nal[0] >> 1) & 0x3F if h265 else nal[0] & 0x1F
            if kind == (33 if h265 else 7):
                sps = parse_h265_sps(nal) if h265 else parse_h264_sps(nal)
                counter.sps[sps.sps_id] = sps  # type: ignore[assignment]
                depths.append(sps.reorder_depth)
            elif kind == (34 if h265 else 8):
                pps = parse_h265_pps(nal) if h265 else parse_h264_pps(nal)
                counter.pps[pps.pps_id] = pps  # type: ignore[assignment]
            elif (kind < 32) if h265 else (kind in (1, 5)):
                pocs.append(counter.poc(nal))
                break
    return pocs, depths


def _display_ranks(values: list[int], keys: list[bool]) -> list[int]:
    """Each unit's position on screen within its GOP (closed GOPs: key frame to key frame)."""
    ranks: list[int] = []
    start = 0
    for end in [*[i for i, k in enumerate(keys) if k][1:], len(values)]:
        gop = values[start:end]
        order = sorted(range(len(gop)), key=gop.__getitem__)
        rank = [0] * len(gop)
        for position, index in enumerate(order):
            rank[index] = position
        ranks += rank
        start = end
    return ranks


@pytest.mark.parametrize(
    ("codec", "params", "depth"),
    [
        ("h264", "bframes=3:b-pyramid=normal", 2),  # POC type 0, B-frames used as references
        ("h264", "bframes=2:b-pyramid=none", 1),
        ("hevc", "bframes=3", None),
    ],
)
def test_poc_gives_the_display_order_of_b_frame_streams(
    tmp_path: Path, codec: str, params: str, depth: int | None
) -> None:
    clip = encode_clip(tmp_path, codec, params=params)
    assert clip.pts != sorted(clip.pts)  # the clip does reorder
    pocs, depths = _pocs(clip, codec == "hevc")
    assert len(pocs) == len(clip.units)
    assert _display_ranks(pocs, clip.keys) == _display_ranks(clip.pts, clip.keys)
    # The SPS's reorder depth is what the stream needs: pictures sent before one shown later.
    needed = max(
        sum(1 for earlier in clip.pts[:i] if earlier > pts) for i, pts in enumerate(clip.pts)
    )
    assert depths and all(d == depths[0] for d in depths)
    assert depths[0] >= needed > 0
    if depth is not None:
        assert depths[0] == depth


def test_h264_without_b_frames_is_poc_type_2_in_decoding_order(tmp_path: Path) -> None:
    clip = encode_clip(tmp_path, "h264", params="bframes=0")
    assert clip.pts == sorted(clip.pts)
    first = clip.units[0]
    sps = parse_h264_sps(next(first[b:e] for b, e in iter_nal_units(first) if first[b] & 0x1F == 7))
    assert sps.poc_type == 2 and sps.reorder_depth == 0
    pocs, _ = _pocs(clip, False)
    assert _display_ranks(pocs, clip.keys) == _display_ranks(clip.pts, clip.keys)
    assert pocs[:4] == [0, 2, 4, 6]  # 2 x (frame_num offset + frame_num) for reference frames


def _type1_sps(**changes: object) -> H264Sps:
    values: dict[str, object] = {
        "sps_id": 0, "profile_idc": 77, "separate_colour_plane": False, "log2_max_frame_num": 4,
        "poc_type": 1, "log2_max_poc_lsb": 0, "delta_pic_order_always_zero": True,
        "offset_for_non_ref_pic": -2, "offset_for_top_to_bottom_field": 0,
        "offsets_for_ref_frame": (6,), "max_num_ref_frames": 2, "frame_mbs_only": True,
        "declared_reorder": None,
    }  # fmt: skip
    values.update(changes)
    return H264Sps(**values)  # type: ignore[arg-type]


def test_poc_type_1_math_on_header_values() -> None:
    """An I P B B P B B pattern as POC type 1 codes it (8.2.1.2): reference pictures advance
    the expected POC by the cycle's offset (6 = 3 frames); non-reference B pictures sit
    ``offset_for_non_ref_pic`` (-4) from the next reference picture's expected POC, the second
    of two moved by its ``delta_pic_order_cnt[0]`` (+2)."""
    sps = _type1_sps(offset_for_non_ref_pic=-4, delta_pic_order_always_zero=False)
    counter = PocCounterH264()
    # (idr, nal_ref_idc, frame_num, delta[0]) in decoding order: I0 P3 B1 B2 P6 B4 B5
    coded = [(True, 3, 0, 0), (False, 2, 1, 0), (False, 0, 2, 0), (False, 0, 2, 2),
             (False, 2, 2, 0), (False, 0, 3, 0), (False, 0, 3, 2)]  # fmt: skip
    pocs = [counter.type12(sps, idr, ref, num, (d, 0)) for idr, ref, num, d in coded]
    assert pocs == [0, 6, 2, 4, 12, 8, 10]
    assert sorted(range(7), key=pocs.__getitem__) == [0, 2, 3, 1, 5, 6, 4]  # display order
    # delta_pic_order_cnt[0] moves a picture; the frame_num wrap adds MaxFrameNum.
    counter = PocCounterH264()
    assert counter.type12(sps, True, 1, 0, (0, 0)) == 0
    assert counter.type12(sps, False, 1, 1, (-2, 0)) == 4
    for num in range(2, 16):
        counter.type12(sps, False, 1, num, (0, 0))
    assert counter.type12(sps, False, 1, 0, (0, 0)) == 16 * 6  # frame 16: wrapped frame_num 0
    # A two-entry cycle and a bottom field offset (the frame's POC is the smaller of the two).
    sps = _type1_sps(offsets_for_ref_frame=(4, 8), offset_for_top_to_bottom_field=-1)
    counter = PocCounterH264()
    got = [counter.type12(sps, n == 0, 1, n, (0, 0)) for n in range(5)]
    assert got == [-1, 3, 11, 15, 23]
    # Type 2: output order is decoding order; a non-reference picture sits one below.
    sps2 = _type1_sps(poc_type=2, offsets_for_ref_frame=())
    counter = PocCounterH264()
    got = [counter.type12(sps2, n == 0, 0 if n == 3 else 1, n, (0, 0)) for n in range(5)]
    assert got == [0, 2, 4, 5, 8]


def test_bit_reader_and_emulation_prevention() -> None:
    # 1 | 010 | 011 | 00100 | 00101 -> ue 0, 1, 2, 3, 4; then se of codes 1, 2 -> 1, -1
    bits = BitReader(bytes([0b10100110, 0b01000010, 0b10100110, 0b00000000]))
    assert [bits.ue() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert [bits.se(), bits.se()] == [1, -1]
    with pytest.raises(MediaError):
        BitReader(b"\x00").ue()
    with pytest.raises(MediaError):
        BitReader(b"\xff").u(9)
    assert unescape(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x00"


def test_slice_parsing_cost(tmp_path: Path) -> None:
    """The per-access-unit cost the native client pays for a B-frame stream: one first slice
    header to its POC. Measured here; bench/RESULTS.md has the figure."""
    clip = encode_clip(tmp_path, "h264", params="bframes=3:b-pyramid=normal")
    counter = PocCounterH264()
    first = clip.units[0]
    units = {first[b] & 0x1F: first[b:e] for b, e in iter_nal_units(first)}
    counter.sps[0], counter.pps[0] = parse_h264_sps(units[7]), parse_h264_pps(units[8])
    slices = []
    for unit in clip.units[1:25]:
        nals = [unit[b:e] for b, e in iter_nal_units(unit)]
        slices.append(next(n for n in nals if n[0] & 0x1F in (1, 5))[:64])
    started = time.perf_counter()
    rounds = 200
    for _ in range(rounds):
        for nal in slices:
            counter.poc(nal)
    per_unit_us = (time.perf_counter() - started) / (rounds * len(slices)) * 1e6
    assert per_unit_us < 100, per_unit_us  # a few microseconds; generous for a loaded machine
    assert FRAME_TICKS == 3600
