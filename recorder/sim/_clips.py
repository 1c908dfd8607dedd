"""Synthetic test clips for the camera simulator, encoded once with ffmpeg and cached.

A clip is a directory ``<cache_dir>/<key>/``::

    manifest.json         what is below (codec, size, frame rate, GOP, chunk count, audio)
    video-0000.h264 ...   raw Annex-B elementary stream, one file per GOP (.h265 for H.265)
    audio.aac             raw ADTS AAC, exactly as long as the video (only with audio)

Why raw Annex-B and not MP4/Matroska: GStreamer loops it with ``multifilesrc loop=true`` as one
endless byte stream, and the parser derives continuous timestamps from the frame rate, so nothing
has to rewrite timestamps or seek at the loop point. Why one file per GOP: ``multifilesrc`` reads a
whole file into memory at once, so whole-clip files would cost ~10 MB per camera at 4 Mbit/s.

A clip with B-frames (``bframes`` > 0: x264 High profile with B-pyramid, x265 with B-frames,
closed GOPs as cameras send) is sent in decoding order, and a raw stream carries no
presentation times: the manifest's ``pts_offsets`` gives, per picture in decoding order, how
many frames after its decoding time it is shown, and the server applies it (``rtsp_server.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "Clip",
    "ClipError",
    "Codec",
    "default_cache_dir",
    "ensure_clip",
    "load_clip",
    "prepare_clip",
    "pts_offsets",
]

Codec = Literal["h264", "h265"]

# Bump when the way clips are made changes, so stale cached clips are not reused.
_FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
# AAC frames hold 1024 samples; the audio loop must last exactly as long as the video loop or
# the two drift apart by a little on every loop. Most common rates first.
_AAC_RATES_HZ = (48000, 16000, 32000, 8000, 44100, 24000, 22050, 12000, 11025, 64000, 96000)
_AAC_FRAME_SAMPLES = 1024


class ClipError(RuntimeError):
    """ffmpeg is missing or could not make the clip."""


@dataclass(frozen=True)
class Clip:
    """A cached clip directory and what it holds."""

    path: Path
    codec: Codec
    width: int
    height: int
    bitrate_kbps: int
    fps: int
    gop_frames: int
    frames: int
    chunks: int
    audio_sample_rate_hz: int | None
    bframes: int = 0
    pts_offsets: tuple[int, ...] = ()  # per picture in decoding order, in frames (B-frames)

    @property
    def video_pattern(self) -> str:
        """``multifilesrc`` location pattern of the GOP files (printf-style ``%04d``)."""
        # multifilesrc formats the whole location, so a '%' in the directory must be doubled.
        return str(self.path).replace("%", "%%") + f"/video-%04d.{self.codec}"

    @property
    def audio_path(self) -> Path | None:
        """The ADTS audio file, or None for a clip without audio."""
        return None if self.audio_sample_rate_hz is None else self.path / "audio.aac"

    def video_files(self) -> list[Path]:
        """GOP files in order; their concatenation is the whole elementary stream."""
        return [Path(self.video_pattern % i) for i in range(self.chunks)]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/appliance-sim``, else ``~/.cache/appliance-sim``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "appliance-sim"


def ensure_clip(
    cache_dir: Path | None,
    codec: Codec,
    width: int,
    height: int,
    bitrate_kbps: int,
    fps: int = 25,
    gop_s: float = 2.0,
    duration_s: int = 10,
    audio: bool = False,
    bframes: int = 0,
) -> Path:
    """Return the clip directory for these parameters, making it with ffmpeg if not cached."""
    return prepare_clip(
        cache_dir, codec, width, height, bitrate_kbps, fps, gop_s, duration_s, audio, bframes
    ).path


def load_clip(path: Path) -> Clip:
    """Read a clip directory made by :func:`ensure_clip`."""
    raw = json.loads((path / _MANIFEST).read_text(encoding="utf-8"))
    raw.pop("version", None)
    raw["pts_offsets"] = tuple(raw.get("pts_offsets", ()))
    return Clip(path=path, **raw)


def prepare_clip(
    cache_dir: Path | None,
    codec: Codec,
    width: int,
    height: int,
    bitrate_kbps: int,
    fps: int,
    gop_s: float,
    duration_s: int,
    audio: bool,
    bframes: int = 0,
) -> Clip:
    """Like :func:`ensure_clip`, returning the clip's description."""
    if codec not in ("h264", "h265"):
        raise ValueError(f"codec must be h264 or h265, not {codec!r}")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError("width and height must be positive and even (4:2:0)")
    if not 0 <= bframes <= 8:
        raise ValueError("bframes must be 0 to 8")
    if bitrate_kbps <= 0 or fps <= 0 or duration_s <= 0:
        raise ValueError("bitrate_kbps, fps and duration_s must be positive")
    gop_frames = round(fps * gop_s)
    frames = fps * duration_s
    if gop_frames <= 0 or frames % gop_frames:
        # Otherwise the key-frame interval would shrink at every loop point.
        raise ValueError(f"duration_s={duration_s} must be a whole number of GOPs of {gop_s} s")
    rate_hz = _audio_rate_hz(duration_s) if audio else None

    root = cache_dir if cache_dir is not None else default_cache_dir()
    key = (
        f"{codec}-{width}x{height}-{fps}fps-{bitrate_kbps}kbps-gop{gop_frames}-{duration_s}s"
        f"-{'aac' if audio else 'noaudio'}{f'-b{bframes}' if bframes else ''}-v{_FORMAT_VERSION}"
    )
    final = root / key
    if (final / _MANIFEST).is_file():
        return load_clip(final)

    root.mkdir(parents=True, exist_ok=True)
    # Built in a temporary sibling and renamed into place: a crash or a concurrent builder never
    # leaves a half-made clip under the final name.
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared with the server process
    try:
        stream = tmp / f"stream.{codec}"
        offsets = _encode_video(
            stream, codec, width, height, bitrate_kbps, fps, gop_frames, frames, bframes
        )
        chunks = _split_gops(stream, codec, tmp)
        stream.unlink()
        if chunks != frames // gop_frames:
            raise ClipError(f"expected {frames // gop_frames} GOPs, ffmpeg produced {chunks}")
        if rate_hz is not None:
            _encode_audio(tmp / "audio.aac", rate_hz, duration_s)
        clip = Clip(
            path=final,
            codec=codec,
            width=width,
            height=height,
            bitrate_kbps=bitrate_kbps,
            fps=fps,
            gop_frames=gop_frames,
            frames=frames,
            chunks=chunks,
            audio_sample_rate_hz=rate_hz,
            bframes=bframes,
            pts_offsets=offsets,
        )
        manifest = {k: v for k, v in asdict(clip).items() if k != "path"}
        manifest["version"] = _FORMAT_VERSION
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:
            # Another process finished the same clip first; theirs is as good as ours.
            if not (final / _MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_clip(final)


def _audio_rate_hz(duration_s: int) -> int:
    for rate_hz in _AAC_RATES_HZ:
        if rate_hz * duration_s % _AAC_FRAME_SAMPLES == 0:
            return rate_hz
    raise ValueError(f"no AAC sample rate fits a whole number of frames in {duration_s} s")


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise ClipError("ffmpeg not found; install the Debian package 'ffmpeg'")
    return exe


def _ffprobe() -> str:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise ClipError("ffprobe not found; install the Debian package 'ffmpeg'")
    return exe


def _run(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClipError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _encode_video(
    out: Path,
    codec: Codec,
    width: int,
    height: int,
    bitrate_kbps: int,
    fps: int,
    gop_frames: int,
    frames: int,
    bframes: int = 0,
) -> tuple[int, ...]:
    """Encode the clip into ``out`` (raw Annex-B); return its ``pts_offsets`` (B-frames)."""
    # testsrc2 has moving shapes and burns in the time and frame number itself; temporal noise
    # makes every frame cost real bits, like a sensor, so the stream runs near the target
    # bitrate instead of a few hundred kbit/s.
    source = f"testsrc2=size={width}x{height}:rate={fps},noise=alls=12:allf=t"
    rate = [
        "-b:v",
        f"{bitrate_kbps}k",
        "-maxrate",
        f"{bitrate_kbps}k",
        "-bufsize",
        f"{bitrate_kbps}k",
    ]
    if codec == "h264":
        # repeat-headers: SPS/PPS before every IDR, which the per-GOP split relies on.
        enc = [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-x264-params",
            f"keyint={gop_frames}:min-keyint={gop_frames}:scenecut=0:bframes={bframes}"
            f"{':b-pyramid=normal' if bframes else ''}:repeat-headers=1",
        ]
    else:
        enc = [
            "-c:v",
            "libx265",
            "-preset",
            "veryfast",
            "-x265-params",
            f"log-level=error:keyint={gop_frames}:min-keyint={gop_frames}:scenecut=0"
            f":bframes={bframes}{':open-gop=0' if bframes else ''}:repeat-headers=1"
            f":vbv-maxrate={bitrate_kbps}:vbv-bufsize={bitrate_kbps}",
        ]
    raw = ["-f", "h264" if codec == "h264" else "hevc"]
    # With B-frames, encode into Matroska first: it keeps each picture's presentation time,
    # which a raw stream loses; the raw stream is then copied out of it.
    target = out.with_suffix(".mkv") if bframes else out
    _run(
        [
            _ffmpeg(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-frames:v",
            str(frames),
            "-pix_fmt",
            "yuv420p",
            *rate,
            *enc,
            *([] if bframes else raw),
            str(target),
        ]
    )
    if not bframes:
        return ()
    _run([_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(target),
          "-c", "copy", *raw, str(out)])  # fmt: skip
    probe = subprocess.run(
        [_ffprobe(), "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts",
         "-of", "csv=p=0", str(target)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    target.unlink()
    if probe.returncode != 0:
        raise ClipError(f"ffprobe failed: {probe.stderr.strip()[-2000:]}")
    return pts_offsets([int(line) for line in probe.stdout.split()], fps)


def pts_offsets(pts_ms: list[int], fps: int) -> tuple[int, ...]:
    """Per picture in decoding order, how many frames after its decoding time it is shown,
    from Matroska presentation times (ms) in decoding order; the smallest offset is 0 for the
    picture sent furthest ahead of its turn."""
    first = min(pts_ms)
    ranks = [round((pts - first) * fps / 1000) for pts in pts_ms]
    if sorted(ranks) != list(range(len(ranks))):
        raise ClipError("the encoder's presentation times are not one per frame")
    lead = max(index - rank for index, rank in enumerate(ranks))
    return tuple(rank - index + lead for index, rank in enumerate(ranks))


def _encode_audio(out: Path, rate_hz: int, duration_s: int) -> None:
    # The AAC encoder adds one frame of priming samples, so feed one frame less than the target
    # to get exactly duration_s worth of frames.
    frames = rate_hz * duration_s // _AAC_FRAME_SAMPLES
    samples = (frames - 1) * _AAC_FRAME_SAMPLES
    _run(
        [
            _ffmpeg(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:beep_factor=4:sample_rate={rate_hz},atrim=end_sample={samples}",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "adts",
            str(out),
        ]
    )
    if _count_adts_frames(out.read_bytes()) != frames:
        raise ClipError(f"audio clip does not have exactly {frames} AAC frames")


def _count_adts_frames(data: bytes) -> int:
    count = 0
    pos = 0
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF0 != 0xF0:
            raise ClipError("malformed ADTS stream")
        length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        if length < 7:
            raise ClipError("malformed ADTS stream")
        pos += length
        count += 1
    return count


def _split_gops(stream: Path, codec: Codec, out_dir: Path) -> int:
    """Cut the Annex-B stream before the non-picture NAL units (parameter sets, SEI) that lead
    each key picture; return the count."""
    data = stream.read_bytes()
    nals = _nal_starts(data)
    kinds = [_nal_kind(data, pos, codec) for pos in nals]
    starts = []
    for index, kind in enumerate(kinds):
        if kind == (5 if codec == "h264" else 19) or (codec == "h265" and 16 <= kind <= 21):
            first = index
            while first > 0 and not _is_picture(kinds[first - 1], codec):
                first -= 1
            starts.append(nals[first])
    if not starts or starts[0] != nals[0] or not any(k in (7, 33) for k in kinds[:8]):
        raise ClipError("the encoded stream does not start with parameter sets")
    bounds = [*starts, len(data)]
    for i in range(len(starts)):
        (out_dir / f"video-{i:04d}.{codec}").write_bytes(data[bounds[i] : bounds[i + 1]])
    return len(starts)


def _nal_starts(data: bytes) -> list[int]:
    """Offsets of each start code (3 or 4 bytes) that precedes a NAL unit."""
    starts = []
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        starts.append(pos - 1 if pos > 0 and data[pos - 1] == 0 else pos)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return starts


def _nal_kind(data: bytes, start: int, codec: Codec) -> int:
    header = data.index(b"\x00\x00\x01", start) + 3
    if header >= len(data):
        return -1
    return data[header] & 0x1F if codec == "h264" else (data[header] >> 1) & 0x3F


def _is_picture(kind: int, codec: Codec) -> bool:
    return 1 <= kind <= 5 if codec == "h264" else 0 <= kind < 32
