"""Run simulated RTSP cameras: GStreamer's RTSP server under Debian's python3, from cached clips.

The command line (``appliance simulate``) is ``recorder.sim._cli``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from recorder.sim._clips import Codec, prepare_clip

__all__ = ["CameraSimulator", "SimCamera", "SimulatorError"]

SYSTEM_PYTHON = "/usr/bin/python3"
_SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
_DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
# Imports and elements rtsp_server.py needs; checked up front so a missing package is named.
_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
names = ("multifilesrc", "capsfilter", "h264parse", "h265parse", "aacparse", "rtph264pay",
         "rtph265pay", "rtpmp4gpay")
print(" ".join(n for n in names if Gst.ElementFactory.find(n) is None))
"""
_COMMAND_TIMEOUT_S = 10.0


class SimulatorError(RuntimeError):
    """The simulator could not start, or its server misbehaved."""


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera; None fields take the simulator's defaults."""

    id: str
    codec: Codec | None = None
    audio: bool = False
    username: str | None = None
    password: str | None = None
    width: int | None = None
    height: int | None = None
    bitrate_kbps: int | None = None
    bframes: int | None = None  # B-frames between reference pictures (0: none)


@functools.cache
def _check_system_python(python: str) -> None:
    if not Path(python).is_file():
        raise SimulatorError(f"{python} not found; the simulator needs Debian's python3")
    proc = subprocess.run(
        [python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise SimulatorError(
            f"{python} cannot import gi/GstRtspServer; install the Debian packages "
            f"{_DEBIAN_PACKAGES}\n{proc.stderr.strip()[-1500:]}"
        )
    missing = proc.stdout.split()
    if missing:
        raise SimulatorError(
            f"GStreamer elements missing: {', '.join(missing)}; install the Debian packages "
            f"{_DEBIAN_PACKAGES}"
        )


class CameraSimulator:
    """N simulated RTSP cameras served by one GStreamer RTSP server process.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Cameras are reachable at
    ``rtsp://HOST:PORT/<id>``; each loops a pre-encoded clip in real time, so serving costs no
    encoding, and every client of a camera shares one pipeline.
    """

    def __init__(
        self,
        cameras: int | list[SimCamera],
        port: int = 0,
        codec: Codec = "h264",
        width: int = 1920,
        height: int = 1080,
        bitrate_kbps: int = 4000,
        fps: int = 25,
        cache_dir: Path | None = None,
        *,
        host: str = "127.0.0.1",
        gop_s: float = 2.0,
        clip_duration_s: int = 10,
        bframes: int = 0,
        ready_timeout_s: float = 30.0,
        python: str = SYSTEM_PYTHON,
    ) -> None:
        if isinstance(cameras, int):
            cameras = [SimCamera(id=f"cam{i}") for i in range(1, cameras + 1)]
        ids = [cam.id for cam in cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        for cam_id in ids:
            if not cam_id or "/" in cam_id or any(c.isspace() for c in cam_id):
                raise ValueError(f"camera id {cam_id!r} must be a non-empty path segment")
        self.cameras: dict[str, SimCamera] = {cam.id: cam for cam in cameras}
        self.host = host
        self._requested_port = port
        self._codec: Codec = codec
        self._width = width
        self._height = height
        self._bitrate_kbps = bitrate_kbps
        self._fps = fps
        self._gop_s = gop_s
        self._clip_duration_s = clip_duration_s
        self._bframes = bframes
        self._cache_dir = cache_dir
        self._ready_timeout_s = ready_timeout_s
        self._python = python
        self._proc: subprocess.Popen[str] | None = None
        self._workdir: Path | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._command_lock = threading.Lock()
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Make the clips if needed, start the server and wait until it listens."""
        if self._proc is not None:
            raise SimulatorError("simulator already started")
        _check_system_python(self._python)
        entries = [self._server_entry(cam) for cam in self.cameras.values()]
        self._workdir = Path(tempfile.mkdtemp(prefix="appliance-sim-"))
        config = self._workdir / "cameras.json"
        config.write_text(
            json.dumps({"host": self.host, "port": self._requested_port, "cameras": entries}),
            encoding="utf-8",
        )
        stderr_path = self._workdir / "server.stderr"
        try:
            with stderr_path.open("w", encoding="utf-8") as stderr:
                # Own session (process group) so stop() also ends anything the server spawned;
                # -I keeps the caller's virtualenv and PYTHONPATH out of Debian's python.
                self._proc = subprocess.Popen(
                    [self._python, "-I", str(_SERVER_SCRIPT), str(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    bufsize=1,
                    start_new_session=True,
                )
        except OSError as exc:
            self.stop()
            raise SimulatorError(f"could not run {self._python}: {exc}") from exc
        atexit.register(self._kill)
        # A fresh queue per run: a previous run's reader may still post its end marker.
        self._lines = queue.Queue()
        threading.Thread(
            target=_read_lines, args=(self._proc, self._lines), name="sim-stdout", daemon=True
        ).start()
        try:
            line = self._next_line(self._ready_timeout_s)
            if not line.startswith("READY "):
                raise SimulatorError(f"unexpected line from the RTSP server: {line!r}")
            self._port = int(line.split()[1])
        except SimulatorError as exc:
            detail = self._stderr_tail()
            self.stop()
            raise SimulatorError(f"{exc}\nRTSP server stderr:\n{detail}") from None

    def stop(self) -> None:
        """Stop the server (politely, then by signal to its process group) and clean up."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None and proc.stdin is not None:
                with contextlib.suppress(OSError, ValueError):
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            _kill_group(proc)
            atexit.unregister(self._kill)
        self._port = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        if self._port is None:
            raise SimulatorError("simulator not started")
        return self._port

    def url(self, cam_id: str, credentials: bool = True) -> str:
        """RTSP URL of a camera; with its user:password in it unless ``credentials`` is False."""
        cam = self.cameras[cam_id]
        auth = ""
        if credentials and cam.username is not None:
            auth = f"{quote(cam.username, safe='')}:{quote(cam.password or '', safe='')}@"
        return f"rtsp://{auth}{self.host}:{self.port}/{cam_id}"

    @property
    def urls(self) -> dict[str, str]:
        """Camera id to URL (credentials included)."""
        return {cam_id: self.url(cam_id) for cam_id in self.cameras}

    # -- outages -----------------------------------------------------------------------------

    def stop_camera(self, cam_id: str) -> None:
        """Camera outage: its clients are disconnected and new connections get 404."""
        self._command(f"stop {cam_id}")

    def start_camera(self, cam_id: str) -> None:
        """End an outage started by :meth:`stop_camera`."""
        self._command(f"start {cam_id}")

    # -- internals ---------------------------------------------------------------------------

    def _server_entry(self, cam: SimCamera) -> dict[str, Any]:
        clip = prepare_clip(
            self._cache_dir,
            cam.codec if cam.codec is not None else self._codec,
            cam.width if cam.width is not None else self._width,
            cam.height if cam.height is not None else self._height,
            cam.bitrate_kbps if cam.bitrate_kbps is not None else self._bitrate_kbps,
            self._fps,
            self._gop_s,
            self._clip_duration_s,
            cam.audio,
            cam.bframes if cam.bframes is not None else self._bframes,
        )
        audio = clip.audio_path
        return {
            "id": cam.id,
            "path": f"/{cam.id}",
            "codec": clip.codec,
            "video": clip.video_pattern,
            "video_files": clip.chunks,
            "audio": None if audio is None else str(audio),
            "username": cam.username,
            "password": cam.password,
            "pts_offsets": list(clip.pts_offsets),
            "fps": clip.fps,
        }

    def _command(self, command: str) -> None:
        cam_id = command.split()[1]
        if cam_id not in self.cameras:
            raise KeyError(cam_id)
        with self._command_lock:
            proc = self._proc
            if proc is None or proc.stdin is None:
                raise SimulatorError("simulator not started")
            try:
                proc.stdin.write(command + "\n")
                proc.stdin.flush()
            except OSError as exc:
                raise SimulatorError(f"RTSP server is gone: {self._stderr_tail()}") from exc
            # The server answers after the mount change is done, so a caller can rely on it.
            line = self._next_line(_COMMAND_TIMEOUT_S)
            if line != f"OK {command}":
                raise SimulatorError(f"RTSP server refused {command!r}: {line}")

    def _next_line(self, timeout_s: float) -> str:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise SimulatorError(f"no answer from the RTSP server within {timeout_s} s") from None
        if line is None:
            raise SimulatorError("the RTSP server exited")
        return line

    def _stderr_tail(self) -> str:
        if self._workdir is None:
            return ""
        try:
            return (self._workdir / "server.stderr").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _kill(self) -> None:
        if self._proc is not None:
            _kill_group(self._proc)


def _read_lines(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
    lines.put(None)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
    # The server was its group's leader; members it may have left behind go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()
