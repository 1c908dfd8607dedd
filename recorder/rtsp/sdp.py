"""The camera's SDP: its media sections, and the one video track the native client records.

What the native client refuses is decided here, from the SDP alone, and named (a camera's status
says why it is not recorded): no video track, a video codec that is not H.264/H.265, H.264
packetization mode 2 (interleaved) and H.265 with decoding order numbers (``unsupported_codec``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from appliance.media._nal import H264, H265
from recorder.status import FailReason, IngestError

__all__ = ["START_CODE", "MediaDescription", "choose_video", "parameter_sets", "parse_sdp"]

START_CODE = b"\x00\x00\x00\x01"
_CODECS = {"H264": H264, "H265": H265, "HEVC": H265}


@dataclass
class MediaDescription:
    kind: str  # "video", "audio", ...
    payload_type: int
    encoding: str = ""  # upper case, e.g. "H264"
    clock_rate: int = 90_000
    control: str = ""
    fmtp: dict[str, str] = field(default_factory=dict)


def parse_sdp(text: str) -> list[MediaDescription]:
    """The media sections of an SDP (RFC 4566), with their rtpmap, fmtp and control."""
    media: list[MediaDescription] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            if len(parts) >= 4 and parts[3].isdigit():
                media.append(MediaDescription(parts[0], int(parts[3])))
            else:
                media.append(MediaDescription(parts[0] if parts else "", -1))
        elif not media or not line.startswith("a="):
            continue
        elif line.startswith("a=rtpmap:"):
            pt, _, rest = line[9:].partition(" ")
            if pt.strip() == str(media[-1].payload_type):
                name, _, rate = rest.strip().partition("/")
                media[-1].encoding = name.upper()
                media[-1].clock_rate = (
                    int(rate.split("/")[0]) if rate.split("/")[0].isdigit() else 0
                )
        elif line.startswith("a=fmtp:"):
            pt, _, rest = line[7:].partition(" ")
            if pt.strip() == str(media[-1].payload_type):
                for item in rest.split(";"):
                    key, _, value = item.strip().partition("=")
                    if key:
                        media[-1].fmtp[key.lower()] = value.strip()
        elif line.startswith("a=control:"):
            media[-1].control = line[10:].strip()
    return media


def choose_video(media: list[MediaDescription]) -> tuple[MediaDescription, str]:
    """The first H.264/H.265 video track and its codec (``H264``/``H265``); IngestError naming
    why there is none this client records (see the module docstring)."""
    videos = [m for m in media if m.kind == "video"]
    if not videos:
        raise IngestError(FailReason.no_video, "the stream has no video track")
    video = next((m for m in videos if m.encoding in _CODECS), None)
    if video is None:
        names = ", ".join(m.encoding or f"payload {m.payload_type}" for m in videos)
        raise IngestError(FailReason.unsupported_codec, f"video codec {names} is not H.264/H.265")
    codec = _CODECS[video.encoding]
    if codec == H264 and video.fmtp.get("packetization-mode", "0") not in ("0", "1"):
        raise IngestError(
            FailReason.unsupported_codec,
            f"H.264 packetization-mode {video.fmtp['packetization-mode']} (interleaved)",
        )
    if codec == H265 and video.fmtp.get("sprop-max-don-diff", "0") not in ("", "0"):
        raise IngestError(FailReason.unsupported_codec, "H.265 with decoding order numbers")
    return video, codec


def parameter_sets(media: MediaDescription, codec: str) -> bytes:
    """The SDP's parameter sets (sprop-*), Annex-B."""
    if codec == H264:
        encoded = media.fmtp.get("sprop-parameter-sets", "").split(",")
    else:
        encoded = [media.fmtp.get(k, "") for k in ("sprop-vps", "sprop-sps", "sprop-pps")]
    units = []
    for item in encoded:
        item = item.strip()
        if not item:
            continue
        try:
            units.append(START_CODE + base64.b64decode(item + "=" * (-len(item) % 4)))
        except ValueError:
            continue
    return b"".join(units)
