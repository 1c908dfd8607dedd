"""The native RTSP client (see ``recorder.rtsp.client`` for why it exists and what it covers).

- ``sdp``: the camera's SDP, and which video track is recorded (or why none is);
- ``auth``: Basic and Digest authentication;
- ``client``: the RTSP/TCP session (``RtspSource``, a ``recorder.source.PacketSource``);
- ``depacketizer``: RTP to access units for H.264/H.265 (``InterleavedReader``).
"""

from recorder.rtsp.auth import digest_response
from recorder.rtsp.client import RtspSource
from recorder.rtsp.depacketizer import InterleavedReader
from recorder.rtsp.sdp import MediaDescription, choose_video, parse_sdp

__all__ = [
    "InterleavedReader",
    "MediaDescription",
    "RtspSource",
    "choose_video",
    "digest_response",
    "parse_sdp",
]
