"""Simulated RTSP cameras for tests, benchmarks and the demo.

GStreamer's RTSP server (Debian packages, run by the system python3) serves pre-encoded clips,
looped in real time with continuous timestamps; see ``_clips.py`` and ``rtsp_server.py``.
"""

from recorder.sim._cli import main
from recorder.sim._clips import Clip, ClipError, Codec, default_cache_dir, ensure_clip, load_clip
from recorder.sim._simulator import CameraSimulator, SimCamera, SimulatorError

__all__ = [
    "CameraSimulator",
    "Clip",
    "ClipError",
    "Codec",
    "SimCamera",
    "SimulatorError",
    "default_cache_dir",
    "ensure_clip",
    "load_clip",
    "main",
]
