"""A network camera for the panel's tests: MJPEG over HTTP on 127.0.0.1 (as an IP camera
serves it), rendering the synthetic face, that a test can make drop (stall) and come back."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from realtime.sources.synthetic import SyntheticSource

BOUNDARY = "camframe"


class DroppingCamera:
    def __init__(self, width: int = 640, height: int = 360, fps: float = 15.0) -> None:
        self.source = SyntheticSource(width=width, height=height, fps=fps, live=False, seed=3)
        self.fps = fps
        self.up = threading.Event()
        self.up.set()
        self.frames = 0
        cam = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
                self.end_headers()
                try:
                    while True:
                        cam.up.wait()  # dropped: the stream stalls, as a camera unplugged does
                        _ok, jpg = cv2.imencode(".jpg", cam.source.render(cam.frames))
                        cam.frames += 1
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpg)}\r\n\r\n".encode()
                            + jpg.tobytes()
                            + b"\r\n"
                        )
                        time.sleep(1.0 / cam.fps)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DroppingCamera:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.up.set()
        self.server.shutdown()
        self.server.server_close()
