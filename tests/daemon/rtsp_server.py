"""A real RTSP server on 127.0.0.1 for the tests: GStreamer's rtsp-server, as IP cameras serve.

Run with the SYSTEM python3 (python3-gi and gir1.2-gst-rtsp-server-1.0 come from Debian, not
from the venv)::

    /usr/bin/python3 tests/daemon/rtsp_server.py --port 8554 --codec h265 [--video clip.mp4]
        [--only tcp|udp] [--user u --password p] [--fps 6]

It serves ``rtsp://127.0.0.1:PORT/cam`` over TCP and UDP, H.264 or H.265, from a video file
(decoded and re-encoded live) or, without one, GStreamer's moving test pattern, so the stream
tests need nothing from ../shared. Prints ``serving rtsp://...`` once listening. A test freezes
the publisher with SIGSTOP (the connection stays open, no packets come) and restarts the server
by killing it and starting it again on the same port.
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ENCODERS = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} ! rtph264pay name=pay0 pt=96",
    "h265": "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} ! rtph265pay name=pay0 pt=96",
}


def launch_line(video: str | None, codec: str, fps: int, width: int, height: int) -> str:
    if video:
        source = f'filesrc location="{video}" ! decodebin ! videoconvert ! videorate ! videoscale'
    else:
        source = "videotestsrc is-live=true pattern=ball ! videoconvert"
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    return f"( {source} ! {caps} ! {ENCODERS[codec].format(gop=fps)} )"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--codec", choices=sorted(ENCODERS), default="h264")
    p.add_argument("--video")
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--size", default="640x480")
    p.add_argument("--only", choices=["tcp", "udp"], help="Refuse the other lower transport.")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()
    Gst.init(None)
    width, height = (int(v) for v in a.size.split("x"))
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(a.video, a.codec, a.fps, width, height))
    factory.set_shared(True)
    if a.only:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP if a.only == "tcp" else GstRtsp.RTSPLowerTrans.UDP)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {a.port}", flush=True)
        sys.exit(1)
    print(f"serving rtsp://127.0.0.1:{a.port}/cam ({a.codec})", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
