#!/usr/bin/env bash
# The loopback RTSP server of the live-input tests (tests/runtime/test_live_rtsp.py): Debian's GStreamer
# RTSP server with its GObject-introspection data, run on the system python3 through python3-gi (not
# in .venv), and the GStreamer plugins that stream an mp4's H.264 unchanged (qtdemux, h264parse,
# rtph264pay). Called by setup_env.sh; a second run only checks. Never fails the caller: when it
# cannot install (no apt-get, not root and no passwordless sudo, no package mirror) it says why, and
# the RTSP tests skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${SSTRACK_RTSP_PYTHON:-/usr/bin/python3}
PKGS="python3 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"

check() { [ -x "$PY" ] && "$PY" tests/runtime/rtsp_server.py --check >/dev/null 2>&1; }
check && exit 0
skip() { echo "setup_rtsp_server: $1; the RTSP tests will skip" >&2; exit 0; }
command -v apt-get >/dev/null 2>&1 || skip "no apt-get (install $PKGS or equivalents by hand)"
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  skip "not root and no passwordless sudo (install: apt-get install $PKGS)"; fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
echo "setup_rtsp_server: installing $PKGS" >&2
if ! $SUDO apt-get install -y -q --no-install-recommends $PKGS >"$log" 2>&1; then
  $SUDO apt-get update -q >>"$log" 2>&1
  $SUDO apt-get install -y -q --no-install-recommends $PKGS >>"$log" 2>&1 || { tail -5 "$log" >&2; rm -f "$log"; skip "apt-get install failed"; }
fi
rm -f "$log"
check || skip "installed, but the check still fails: $("$PY" tests/runtime/rtsp_server.py --check 2>&1 | tail -1)"
