"""A real HTTP server on 127.0.0.1 (in a thread) with Range support and scripted faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Behaviour:
    """What the server does for one path. ``faults`` are consumed one per request:
    ("cut", n) sends n bytes then closes; ("stall", n) sends n bytes then sleeps;
    ("status", code) answers with that status; None serves normally."""

    body: bytes
    faults: list[tuple[str, int] | None] = field(default_factory=list)
    honour_range: bool = True


@dataclass
class Served:
    files: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    stall_s: float = 3.0
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            rng = self.headers.get("Range")
            served.requests.append((path, rng))
            beh = served.files.get(path)
            if beh is None:
                self.send_error(404)
                return
            fault = beh.faults.pop(0) if beh.faults else None
            if fault is not None and fault[0] == "status":
                self.send_response(fault[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            if rng and beh.honour_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(beh.body):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(beh.body) - 1}/{len(beh.body)}")
            else:
                self.send_response(200)
            payload = beh.body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if fault is not None and fault[0] == "cut":
                self.wfile.write(payload[: fault[1]])
                self.wfile.flush()
                self.close_connection = True
                return
            if fault is not None and fault[0] == "stall":
                self.wfile.write(payload[: fault[1]])
                self.wfile.flush()
                time.sleep(served.stall_s)
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def http_files() -> Iterator[Served]:
    served = Served()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    server.daemon_threads = True
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
