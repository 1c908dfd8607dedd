"""Annex-B NAL unit helpers for H.264 and H.265 (pure functions, no decoding).

RTSP demuxing (FFmpeg's rtpdec) hands out Annex-B access units: NAL units behind ``00 00 01`` or
``00 00 00 01`` start codes. MP4 wants each NAL unit behind a 4-byte big-endian length.
"""

from __future__ import annotations

__all__ = [
    "H264",
    "H265",
    "annexb_to_length_prefixed",
    "iter_nal_units",
    "parameter_sets",
]

H264 = "h264"
H265 = "hevc"

_START = b"\x00\x00\x01"
# NAL unit types that carry codec parameters: H.264 SPS 7, PPS 8; H.265 VPS 32, SPS 33, PPS 34.
_PARAM_TYPES = {H264: frozenset({7, 8}), H265: frozenset({32, 33, 34})}
# The first VCL (picture) NAL types; parameter sets come before them in an access unit.
_H264_VCL = frozenset(range(1, 6))


def _nal_type(codec: str, first_byte: int) -> int:
    return first_byte & 0x1F if codec == H264 else (first_byte >> 1) & 0x3F


def iter_nal_units(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each NAL unit's payload in an Annex-B buffer; [] if it has no start code."""
    starts: list[int] = []
    pos = data.find(_START)
    while pos >= 0:
        starts.append(pos + 3)
        pos = data.find(_START, pos + 3)
    units: list[tuple[int, int]] = []
    for index, begin in enumerate(starts):
        if index + 1 < len(starts):
            end = starts[index + 1] - 3
            # A 4-byte start code's leading zero (and any trailing zero bytes) is not payload.
            while end > begin and data[end - 1] == 0:
                end -= 1
        else:
            end = len(data)
        if end > begin:
            units.append((begin, end))
    return units


def annexb_to_length_prefixed(data: bytes) -> bytes:
    """Rewrite an Annex-B access unit with 4-byte lengths; data without start codes is kept."""
    units = iter_nal_units(data)
    if not units:
        return data
    parts: list[bytes] = []
    for begin, end in units:
        parts.append((end - begin).to_bytes(4, "big"))
        parts.append(data[begin:end])
    return b"".join(parts)


def parameter_sets(codec: str, data: bytes) -> bytes:
    """The in-band parameter set NAL units of an access unit, deduplicated, sorted by type,
    each behind a 4-byte length (b"" if none).

    Only the front of the access unit is scanned (parameter sets precede the first picture),
    so a large key frame costs a few ``find`` calls, not a pass over its payload.
    """
    wanted = _PARAM_TYPES.get(codec)
    if wanted is None:
        return b""
    found: list[bytes] = []
    pos = data.find(_START)
    while pos >= 0 and pos + 3 < len(data):
        begin = pos + 3
        kind = _nal_type(codec, data[begin])
        is_vcl = kind in _H264_VCL if codec == H264 else kind < 32
        if is_vcl:
            break
        nxt = data.find(_START, begin)
        end = len(data) if nxt < 0 else nxt
        if kind in wanted:
            payload = data[begin:end]
            found.append(payload.rstrip(b"\x00") if nxt >= 0 else payload)
        pos = nxt
    # Canonical: a payloader may repeat the encoder's own parameter sets in the same access
    # unit, which must not look like a change.
    unique = sorted(set(found), key=lambda p: (_nal_type(codec, p[0]), p))
    return b"".join(len(p).to_bytes(4, "big") + p for p in unique)
