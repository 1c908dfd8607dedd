# mypy: ignore-errors
"""RTSP server for simulated cameras, run by Debian's ``/usr/bin/python3`` (needs ``gi``).

Standard library and GStreamer only: it runs outside the project's virtualenv.

Usage: ``/usr/bin/python3 rtsp_server.py CONFIG.json``. CONFIG::

    {"host": "127.0.0.1", "port": 0,
     "cameras": [{"id": "cam1", "path": "/cam1", "codec": "h264",
                  "video": "/clips/x/video-%04d.h264", "video_files": 5,
                  "audio": null, "username": null, "password": null,
                  "pts_offsets": [], "fps": 25}]}

``video`` is a printf pattern of ``video_files`` raw Annex-B files, one GOP each, whose
concatenation is the clip; ``audio`` (or null) is a raw ADTS AAC file lasting exactly as long
(see ``_clips.py``). ``pts_offsets`` (a clip with B-frames, else empty) gives, per picture in
decoding order, how many frames after its decoding time it is shown. ``port`` 0 lets the
kernel pick one.

Protocol on stdout: ``READY <port>`` once listening, then one ``OK <command>`` or
``ERR <command>: <reason>`` per command. Commands on stdin, one per line: ``stop <id>`` (camera
outage: the mount is removed and its clients are disconnected), ``start <id>``, ``quit``.
End of stdin also quits, so the server never outlives its parent.
"""

from __future__ import annotations

import json
import pathlib
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

_ANONYMOUS_ROLE = "anonymous"
_PAYLOADERS = {"h264": ("h264parse", "rtph264pay"), "h265": ("h265parse", "rtph265pay")}


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _make(factory_name, **props):
    element = Gst.ElementFactory.make(factory_name, None)
    if element is None:
        raise RuntimeError(f"GStreamer element {factory_name!r} is missing")
    for key, value in props.items():
        element.set_property(key.replace("_", "-"), value)
    return element


def _copy_dts_to_pts(_pad, info):
    # h264parse/h265parse interpolate DTS for a raw stream but leave PTS unset, and both the
    # payloader (RTP timestamp) and the sinks (real-time pacing) need PTS. Without B-frames,
    # PTS == DTS. One cheap call per video frame.
    buffer = info.get_buffer()
    if buffer is not None and buffer.pts == Gst.CLOCK_TIME_NONE:
        buffer.pts = buffer.dts
    return Gst.PadProbeReturn.OK


def _presentation_times(offsets, fps):
    """A probe setting PTS = DTS + the clip's offset of the n-th picture (B-frames): the parser
    hands out whole access units (caps alignment=au), one buffer per picture, in decoding
    order, and the clip loops whole, so picture n is the clip's picture n modulo its length."""
    frame_ns = Gst.SECOND // fps
    count = len(offsets)
    state = {"n": 0}

    def probe(_pad, info):
        buffer = info.get_buffer()
        if buffer is not None and buffer.dts != Gst.CLOCK_TIME_NONE:
            buffer.pts = buffer.dts + offsets[state["n"] % count] * frame_ns
            state["n"] += 1
        return Gst.PadProbeReturn.OK

    return probe


class CameraFactory(GstRtspServer.RTSPMediaFactory):
    """One shared media per camera: one pipeline however many clients."""

    def __init__(self, camera):
        super().__init__()
        self.camera = camera
        self.medias = []
        self.set_shared(True)
        self.set_eos_shutdown(False)
        self.connect("media-configure", self._on_media_configure)

    def do_create_element(self, _url):
        # Why raw elementary streams + multifilesrc loop=true: the GOP files are read in turn,
        # forever, as one byte stream; the parser sees one endless stream and keeps interpolating
        # timestamps frame by frame from the SPS frame rate: continuous and monotonic across
        # loops, paced in real time by the sinks, with no seeks, no re-encoding and no Python in
        # the data path except the DTS->PTS probe.
        cam = self.camera
        parser_name, payloader_name = _PAYLOADERS[cam["codec"]]
        caps_name = "video/x-h264" if cam["codec"] == "h264" else "video/x-h265"
        bin_ = Gst.Bin.new(None)
        vsrc = _make(
            "multifilesrc",
            location=cam["video"],
            start_index=0,
            stop_index=cam["video_files"] - 1,
            loop=True,
            caps=Gst.Caps.from_string(f"{caps_name},stream-format=byte-stream"),
        )
        vparse = _make(parser_name)
        # Whole access units: one buffer per picture (the B-frame probe counts pictures).
        vcaps = _make(
            "capsfilter",
            caps=Gst.Caps.from_string(f"{caps_name},stream-format=byte-stream,alignment=au"),
        )
        # SPS/PPS(/VPS) before every IDR so a client joining the shared stream can start at
        # the next key frame, as real cameras do.
        vpay = _make(payloader_name, name="pay0", pt=96, config_interval=-1)
        for element in (vsrc, vparse, vcaps, vpay):
            bin_.add(element)
        vsrc.link(vparse)
        vparse.link(vcaps)
        vcaps.link(vpay)
        offsets = cam.get("pts_offsets") or []
        probe = _presentation_times(offsets, cam.get("fps", 25)) if offsets else _copy_dts_to_pts
        vcaps.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
        if cam.get("audio"):
            asrc = _make(
                "multifilesrc",
                location=cam["audio"].replace("%", "%%"),  # it is a printf pattern
                loop=True,
                caps=Gst.Caps.from_string("audio/mpeg,mpegversion=4,stream-format=adts"),
            )
            # aacparse sets PTS itself; the clip lasts exactly as long as the video clip, so
            # both loops stay in step forever.
            aparse = _make("aacparse")
            apay = _make("rtpmp4gpay", name="pay1", pt=97)
            for element in (asrc, aparse, apay):
                bin_.add(element)
            asrc.link(aparse)
            aparse.link(apay)
        return bin_

    def _on_media_configure(self, _factory, media):
        self.medias.append(media)
        media.connect("unprepared", self._on_media_unprepared)

    def _on_media_unprepared(self, media):
        if media in self.medias:
            self.medias.remove(media)


class CameraAuth(GstRtspServer.RTSPAuth):
    """Basic auth that challenges anonymous requests for protected mounts only."""

    def __init__(self, protected_paths):
        super().__init__()
        self.protected_paths = protected_paths

    def do_authenticate(self, ctx):
        # The stock check answers an anonymous request for a mount its role may not use with
        # 404 and no challenge, so a client never retries with credentials. Refusing to
        # authenticate instead makes GstRTSPAuth answer 401 with a Basic challenge.
        if not GstRtspServer.RTSPAuth.do_authenticate(self, ctx):
            return False
        role = ctx.token.get_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE)
        path = ctx.uri.abspath if ctx.uri is not None else ""
        protected = any(path == p or path.startswith(p + "/") for p in self.protected_paths)
        return not (protected and role == _ANONYMOUS_ROLE)


class SimServer:
    """The RTSP server, its cameras and the stdin control channel."""

    def __init__(self, config):
        self.loop = GLib.MainLoop()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(config.get("host", "127.0.0.1"))
        self.server.set_service(str(config.get("port", 0)))
        self.mounts = self.server.get_mount_points()
        self.factories = {}
        self.active = set()
        cameras = config["cameras"]
        self._setup_auth(cameras)
        for cam in cameras:
            factory = CameraFactory(cam)
            self._grant(factory, cam)
            self.factories[cam["id"]] = factory
            self.mounts.add_factory(cam["path"], factory)
            self.active.add(cam["id"])

    def _setup_auth(self, cameras):
        # One role per distinct credential pair. Open cameras admit every role (a client may
        # send credentials anyway); a protected camera admits only its own, so an anonymous
        # request gets 401 with a Basic challenge and the client retries with user:pass.
        self.roles = {}
        for cam in cameras:
            if cam.get("username") is not None:
                key = (cam["username"], cam.get("password") or "")
                self.roles.setdefault(key, f"cred{len(self.roles)}")
        if not self.roles:
            return
        auth = CameraAuth([cam["path"] for cam in cameras if cam.get("username") is not None])
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, _ANONYMOUS_ROLE)
        auth.set_default_token(anonymous)
        for (user, password), role in self.roles.items():
            token = GstRtspServer.RTSPToken()
            token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        self.server.set_auth(auth)

    def _grant(self, factory, cam):
        if not self.roles:
            return
        if cam.get("username") is not None:
            roles = [self.roles[(cam["username"], cam.get("password") or "")]]
        else:
            roles = [_ANONYMOUS_ROLE, *self.roles.values()]
        for role in roles:
            factory.add_role_from_structure(
                Gst.Structure.new_from_string(
                    f"{role}, {GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS}=(boolean)true, "
                    f"{GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT}=(boolean)true"
                )
            )

    def stop_camera(self, cam_id):
        factory = self.factories[cam_id]
        if cam_id in self.active:
            self.mounts.remove_factory(factory.camera["path"])
            self.active.discard(cam_id)
        medias = list(factory.medias)

        def uses_camera(_server, client, _data=None):
            for session in client.session_filter(None):
                for session_media in session.filter(None):
                    if session_media.get_media() in medias:
                        return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(uses_camera, None)
        for media in medias:
            media.unprepare()

    def start_camera(self, cam_id):
        factory = self.factories[cam_id]
        if cam_id not in self.active:
            self.mounts.add_factory(factory.camera["path"], factory)
            self.active.add(cam_id)

    def handle(self, line):
        words = line.split()
        try:
            if words == ["quit"]:
                _say("OK quit")
                self.loop.quit()
            elif len(words) == 2 and words[0] in ("stop", "start"):
                if words[1] not in self.factories:
                    raise KeyError(f"unknown camera {words[1]}")
                if words[0] == "stop":
                    self.stop_camera(words[1])
                else:
                    self.start_camera(words[1])
                _say(f"OK {line}")
            elif words:
                raise ValueError("unknown command")
        except (KeyError, ValueError) as exc:
            _say(f"ERR {line}: {exc}")
        return GLib.SOURCE_REMOVE

    def _read_stdin(self):
        for raw in sys.stdin:
            GLib.idle_add(self.handle, raw.strip())
        GLib.idle_add(self._quit)

    def _quit(self):
        self.loop.quit()
        return GLib.SOURCE_REMOVE

    def run(self):
        if self.server.attach(None) == 0:
            address = f"{self.server.get_address()}:{self.server.get_service()}"
            sys.stderr.write(f"could not listen on {address} (address in use?)\n")
            return 1
        for signum in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, self._quit)
        threading.Thread(target=self._read_stdin, name="control", daemon=True).start()
        _say(f"READY {self.server.get_bound_port()}")
        self.loop.run()
        return 0


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: rtsp_server.py CONFIG.json\n")
        return 2
    Gst.init(None)
    config = json.loads(pathlib.Path(argv[1]).read_text(encoding="utf-8"))
    return SimServer(config).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
