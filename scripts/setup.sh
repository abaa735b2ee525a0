#!/usr/bin/env bash
# Create .venv with trafficcam and everything its tests need. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Debian's Chromium drives the reviewers' web app in the browser tests (Playwright's own download fails offline)
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "warning: could not install chromium; browser tests will skip"
fi
# Mosquitto: the events tests start brokers of their own (and stop them mid-run); RabbitMQ carries
# `trafficcam submit` jobs (the job tests need it on 127.0.0.1:5672, guest/guest)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  command -v mosquitto >/dev/null 2>&1 || command -v /usr/sbin/mosquitto >/dev/null 2>&1 \
    || (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || echo "warning: could not install mosquitto; MQTT tests will skip"
  if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    (apt-get install -y -qq rabbitmq-server >/dev/null && (service rabbitmq-server start || rabbitmq-server -detached)) \
      || echo "warning: could not install or start rabbitmq-server; the job tests will skip"
  fi
fi
# GStreamer's RTSP server (for the system python3, which gets python3-gi) plays the IP cameras in the RTSP tests
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools >/dev/null) \
    || echo "warning: could not install GStreamer's RTSP server; RTSP tests will skip"
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torchvision from PyPI needs the matching torch; on this platform both come as a pair.
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e '.[test]'
echo "trafficcam installed in .venv ($(.venv/bin/trafficcam --help >/dev/null && echo ok))"
