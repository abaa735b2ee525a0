"""A tiny MJPEG-over-HTTP camera for the daemon tests: serves a clip as multipart/x-mixed-replace.

Run as a separate process (`python -m tests.daemon.mjpeg_server VIDEO --port P`) so a test can
kill it like a camera losing power and start it again on the same port. Every client gets the
clip from `--start-frame`, paced at `--fps`, looping when `--loop` is given.
"""

from __future__ import annotations

import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

BOUNDARY = "trafficcamframe"


def load_jpegs(video: str, start: int, count: int | None) -> list[bytes]:
    cap = cv2.VideoCapture(video)
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out: list[bytes] = []
    while count is None or len(out) < count:
        ok, image = cap.read()
        if not ok:
            break
        out.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    cap.release()
    return out


def serve(video: str, port: int, fps: float, start: int, count: int | None, loop: bool) -> None:
    jpegs = load_jpegs(video, start, count)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            t0 = time.monotonic()
            n = 0
            try:
                while True:
                    data = jpegs[n % len(jpegs)]
                    self.wfile.write(
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                        + data
                        + b"\r\n"
                    )
                    self.wfile.flush()
                    n += 1
                    if n >= len(jpegs) and not loop:
                        return
                    delay = t0 + n / fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            except (BrokenPipeError, ConnectionResetError):
                return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"serving {len(jpegs)} frames on http://127.0.0.1:{port}/", flush=True)
    server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("video")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fps", type=float, default=6.0)
    p.add_argument("--start-frame", type=int, default=0)
    p.add_argument("--count", type=int, default=None)
    p.add_argument("--loop", action="store_true")
    a = p.parse_args()
    serve(a.video, a.port, a.fps, a.start_frame, a.count, a.loop)


if __name__ == "__main__":
    main()
