"""Decoding times derived from the bitstream (recorder.rtsp.dts) for clips with B-frames
encoded with ffmpeg at test time, against the encoder's own presentation times."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from recorder.rtsp.dts import DtsExtractor
from recorder.status import IngestError
from tests.support.bframe_clips import FRAME_TICKS, BframeClip, encode_clip


def _run(clip: BframeClip, codec: str, **options: int) -> tuple[DtsExtractor, list[int | None]]:
    extractor = DtsExtractor(codec, b"", step=FRAME_TICKS, **options)
    dts = [extractor.dts(u, p, k) for u, p, k in zip(clip.units, clip.pts, clip.keys, strict=True)]
    return extractor, dts


@pytest.mark.parametrize(
    ("codec", "params", "depth"),
    [
        ("h264", "bframes=3:b-pyramid=normal", 2),
        ("h264", "bframes=1", 1),
        ("hevc", "bframes=3", 2),
        ("hevc", "bframes=4:b-pyramid=1", 2),
    ],
)
def test_b_frame_streams_get_valid_decoding_times(
    tmp_path: Path, codec: str, params: str, depth: int
) -> None:
    clip = encode_clip(tmp_path, codec, params=params, seconds=3)
    extractor, dts = _run(clip, codec)
    assert None not in dts
    got = [d for d in dts if d is not None]
    assert extractor.depth == depth and extractor.parsed_slices == len(clip.units)
    assert all(a < b for a, b in itertools.pairwise(got))  # strictly increasing
    assert all(d <= p for d, p in zip(got, clip.pts, strict=True))  # never after its PTS
    # DTS of the i-th unit is the (i - depth)-th smallest PTS: evenly spaced frames.
    ordered = sorted(clip.pts)
    assert got[depth:] == ordered[: len(ordered) - depth]
    assert got[:depth] == [-(depth - i) * FRAME_TICKS for i in range(depth)]


def test_a_stream_in_display_order_costs_no_slice_parsing(tmp_path: Path) -> None:
    clip = encode_clip(tmp_path, "h264", params="bframes=0", seconds=2)
    extractor, dts = _run(clip, "h264")
    assert dts == clip.pts and extractor.depth == 0 and extractor.parsed_slices == 0


def test_units_before_the_first_key_frame_are_dropped(tmp_path: Path) -> None:
    clip = encode_clip(tmp_path, "h264", params="bframes=2", seconds=2)
    start = clip.keys.index(True, 1)
    cut = BframeClip(clip.units[start - 3 :], clip.keys[start - 3 :], clip.pts[start - 3 :])
    _, dts = _run(cut, "h264")
    assert dts[:3] == [None] * 3 and None not in dts[3:]


def test_a_reorder_deeper_than_declared_ends_the_session_with_the_depth(tmp_path: Path) -> None:
    """A camera whose time stamps (or POCs) say it reorders more than its SPS declares: the
    session ends naming the depth seen; a session started with that hint records it."""
    clip = encode_clip(tmp_path, "h264", params="bframes=0", seconds=2)
    # Swap two pictures' times: what a camera with B-frames and no declared depth looks like.
    pts = list(clip.pts)
    pts[2], pts[3] = pts[3], pts[2]
    swapped = BframeClip(clip.units, clip.keys, pts)
    with pytest.raises(IngestError, match="reorders 1 pictures") as caught:
        _run(swapped, "h264")
    assert caught.value.reorder_depth == 1 and not caught.value.use_ffmpeg
    extractor, dts = _run(swapped, "h264", depth_hint=1)
    got = [d for d in dts if d is not None]
    assert extractor.depth == 1 and len(got) == len(pts)
    assert all(a < b for a, b in itertools.pairwise(got))
    assert all(d <= p for d, p in zip(got, pts, strict=True))

    bclip = encode_clip(tmp_path, "h264", params="bframes=3:b-pyramid=normal", seconds=2)
    with pytest.raises(IngestError, match=r"reorders 3 pictures \(its time stamps\)") as caught:
        # Declared 2 (the SPS): a picture that 3 earlier ones follow on screen.
        late = list(bclip.pts)
        late[3] = -1
        _run(BframeClip(bclip.units, bclip.keys, late), "h264")
    assert caught.value.reorder_depth == 3


def test_interlaced_frames_are_followed(tmp_path: Path) -> None:
    """x264's interlaced coding (MBAFF: frame_mbs_only_flag 0, each picture a frame) keeps its
    frame POCs; field pictures (field_pic_flag 1) would be refused, by name, to FFmpeg."""
    clip = encode_clip(tmp_path, "h264", params="bframes=2:interlaced=1", seconds=2)
    extractor, dts = _run(clip, "h264")
    got = [d for d in dts if d is not None]
    assert len(got) == len(clip.units) and extractor.parsed_slices == len(clip.units)
    assert all(a < b for a, b in itertools.pairwise(got))
    assert all(d <= p for d, p in zip(got, clip.pts, strict=True))


def test_slices_without_their_parameter_sets_are_refused_by_name(tmp_path: Path) -> None:
    clip = encode_clip(tmp_path, "h264", params="bframes=2", seconds=1)
    first = clip.units[0]
    bare = first[first.find(b"\x00\x00\x01\x65") :]  # the IDR slice only: no SPS/PPS
    units = [bare, *clip.units[1:]]
    with pytest.raises(IngestError, match="parameter set not received") as caught:
        _run(BframeClip(units, clip.keys, clip.pts), "h264", depth_hint=1)
    assert caught.value.use_ffmpeg


def test_rasl_pictures_of_an_open_gop_are_dropped_at_the_start(tmp_path: Path) -> None:
    """x265 with open GOPs: a session that starts at a CRA drops the RASL pictures that
    follow it (they refer to pictures sent before the session), and only those."""
    clip = encode_clip(tmp_path, "hevc", params="bframes=3:open-gop=1", seconds=3)
    kinds = [_first_vcl_kind(u) for u in clip.units]
    cra = kinds.index(21)
    following = kinds.index(21, cra + 1)  # the next CRA: its RASL pictures are decodable
    rasl = [i for i in range(cra + 1, following) if kinds[i] in (8, 9)]
    assert rasl and any(kind in (8, 9) for kind in kinds[following:]), kinds
    cut = BframeClip(clip.units[cra:], [True, *clip.keys[cra + 1 :]], clip.pts[cra:])
    _, dts = _run(cut, "hevc")
    dropped = [i + cra for i, d in enumerate(dts) if d is None]
    assert dropped == rasl


def _first_vcl_kind(unit: bytes) -> int:
    pos = unit.find(b"\x00\x00\x01")
    while pos >= 0:
        kind = (unit[pos + 3] >> 1) & 0x3F
        if kind < 32:
            return kind
        pos = unit.find(b"\x00\x00\x01", pos + 3)
    return -1
