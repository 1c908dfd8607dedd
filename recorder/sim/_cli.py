"""``appliance simulate``: serve simulated cameras from the command line until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from recorder.sim._simulator import CameraSimulator, SimCamera, SimulatorError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve simulated cameras until Ctrl-C or SIGTERM (``appliance simulate``)."""
    parser = argparse.ArgumentParser(
        prog="appliance simulate", description="Serve simulated RTSP cameras."
    )
    parser.add_argument("--cameras", type=int, default=4, help="number of cameras (default 4)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--bitrate-kbps", type=int, default=4000)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument(
        "--h265-every", type=int, default=0, metavar="K", help="make every K-th camera H.265"
    )
    parser.add_argument(
        "--bframes", type=int, default=0, metavar="N",
        help="B-frames between reference pictures (x264 High with B-pyramid, x265; default 0)",
    )  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=None, help="where clips are cached")
    args = parser.parse_args(argv)
    if args.cameras < 1:
        parser.error("--cameras must be at least 1")
    if not 0 <= args.bframes <= 8:
        parser.error("--bframes must be 0 to 8")

    cameras = [
        SimCamera(
            id=f"cam{i}",
            codec="h265" if args.h265_every > 0 and i % args.h265_every == 0 else args.codec,
        )
        for i in range(1, args.cameras + 1)
    ]
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    sim = CameraSimulator(
        cameras,
        port=args.port,
        codec=args.codec,
        width=args.width,
        height=args.height,
        bitrate_kbps=args.bitrate_kbps,
        fps=args.fps,
        bframes=args.bframes,
        cache_dir=args.cache_dir,
        host=args.host,
        ready_timeout_s=60.0,
    )
    try:
        sys.stderr.write("preparing clips (first run encodes them once)...\n")
        started = time.monotonic()
        sim.start()
        sys.stderr.write(
            f"serving {len(cameras)} cameras on port {sim.port} "
            f"(ready in {time.monotonic() - started:.1f} s); Ctrl-C to stop\n"
        )
        for cam_id, url in sim.urls.items():
            sys.stdout.write(f"{cam_id} {url}\n")
        sys.stdout.flush()
        while not stop.wait(1.0):
            if not sim.running:
                sys.stderr.write("the RTSP server exited unexpectedly\n")
                return 1
        return 0
    except SimulatorError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
