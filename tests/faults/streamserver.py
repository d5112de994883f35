"""A local MJPEG stream on 127.0.0.1 that can die and come back on the same port, as an IP
camera or a phone's streaming app does when its Wi-Fi drops."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frame"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MjpegStream:
    """Serves ``/stream.mjpg`` at ``fps`` (a moving bar, so frames differ) until ``down()``."""

    def __init__(self, fps: float = 15.0, size: tuple[int, int] = (320, 240)) -> None:
        self.fps = fps
        self.size = size
        self.port = free_port()
        self.sent = 0
        self._server: ThreadingHTTPServer | None = None
        self._alive = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def _jpeg(self, i: int) -> bytes:
        w, h = self.size
        img = np.full((h, w, 3), 40, np.uint8)
        x = (i * 7) % w
        img[:, x : x + 8] = 255
        return cv2.imencode(".jpg", img)[1].tobytes()

    def up(self) -> None:
        stream = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                next_t = time.monotonic()
                try:
                    while stream._alive.is_set():
                        data = stream._jpeg(stream.sent)
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + data + b"\r\n")
                        self.wfile.flush()
                        stream.sent += 1
                        next_t += 1.0 / stream.fps
                        time.sleep(max(0.0, next_t - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):
                    return
                with contextlib.suppress(OSError):  # the camera vanished mid-stream
                    self.connection.shutdown(socket.SHUT_RDWR)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._alive.set()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self._alive.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
