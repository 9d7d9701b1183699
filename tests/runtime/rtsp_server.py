"""A loopback RTSP server for the live-input tests (tests/runtime/test_live_rtsp.py).

Runs on Debian's system python3 with GStreamer's RTSP server through python3-gi
(scripts/setup_rtsp_server.sh installs them), never inside the project venv:

    /usr/bin/python3 tests/runtime/rtsp_server.py CLIP.mp4     # prints "PORT <n>", serves rtsp://127.0.0.1:<n>/clip
    /usr/bin/python3 tests/runtime/rtsp_server.py --check      # exit 0, or 1 and what is missing

The clip's H.264 is sent as it is (no re-encoding), paced in real time. Every client gets its own
pipeline that starts at the clip's first frame; at the clip's end the server ends the stream. The
server quits when its parent process goes away or after --max-seconds.
"""

from __future__ import annotations

import argparse
import os
import sys

ELEMENTS = ("filesrc", "qtdemux", "h264parse", "rtph264pay")


def _load():
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    return GLib, Gst, GstRtspServer


def check() -> str | None:
    """None when the server can run here, else what is missing."""
    try:
        _, Gst, _ = _load()
    except ImportError as e:
        return f"python3-gi is not installed for {sys.executable} ({e})"
    except ValueError as e:  # gi.require_version: typelib not found
        return f"GStreamer RTSP server introspection data missing ({e}; Debian: gir1.2-gst-rtsp-server-1.0)"
    missing = [e for e in ELEMENTS if Gst.ElementFactory.find(e) is None]
    if missing:
        return f"GStreamer elements missing: {', '.join(missing)} (Debian: gstreamer1.0-plugins-good, -bad)"
    return None


def serve(clip: str, max_seconds: float) -> None:
    GLib, _, GstRtspServer = _load()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # any free port
    factory = GstRtspServer.RTSPMediaFactory()
    location = clip.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit("cannot bind the RTSP server to 127.0.0.1")
    print(f"PORT {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()
    parent = os.getppid()

    def watchdog():
        if os.getppid() != parent:
            loop.quit()
        return True

    GLib.timeout_add(500, watchdog)
    GLib.timeout_add(int(max_seconds * 1000), loop.quit)
    loop.run()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    a = ap.parse_args()
    problem = check()
    if a.check or problem:
        print(problem or "ok")
        sys.exit(1 if problem else 0)
    if not a.clip or not os.path.isfile(a.clip):
        sys.exit(f"clip not found: {a.clip}")
    serve(os.path.abspath(a.clip), a.max_seconds)


if __name__ == "__main__":
    main()
