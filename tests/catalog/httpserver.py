"""A real HTTP server on 127.0.0.1 (in a thread) with Range support and scripted faults."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Behaviour:
    """What the server does for one path. ``faults`` are consumed one per request:
    ("cut", n) sends n bytes then closes; ("stall", n) sends n bytes then sleeps;
    ("status", code) answers with that status; None serves normally. ``framing`` is how the
    body's end is told: "length" (Content-Length), "chunked" (Transfer-Encoding) or "close"
    (neither: the body ends when the connection closes, as an HTTP/1.0 server sends it)."""

    body: bytes
    faults: list[tuple[str, int] | None] = field(default_factory=list)
    honour_range: bool = True
    framing: str = "length"


@dataclass
class Served:
    files: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    stall_s: float = 3.0
    base: str = ""
    cert: Path | None = None
    connections: int = 0

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
            if beh.framing == "length":
                self.send_header("Content-Length", str(len(payload)))
            elif beh.framing == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if beh.framing == "chunked":
                self._send_chunked(payload, fault[1] if fault is not None and fault[0] == "cut" else None)
                return
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

        def _send_chunked(self, payload: bytes, cut: int | None) -> None:
            """``payload`` in 1 KiB chunks and the closing empty chunk; with ``cut``, the
            connection closes after that many body bytes, mid-chunk, with no closing chunk."""
            sent = 0
            for i in range(0, len(payload), 1024):
                piece = payload[i : i + 1024]
                if cut is not None and sent + len(piece) > cut:
                    self.wfile.write(b"%x\r\n" % len(piece) + piece[: cut - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sent += len(piece)
            self.wfile.write(b"0\r\n\r\n")

    return Handler


class _Server(ThreadingHTTPServer):
    """Counts connections (a TLS client that rejects the certificate sends no request)."""

    daemon_threads = True

    def __init__(self, served: Served) -> None:
        super().__init__(("127.0.0.1", 0), _handler(served))
        self.served = served

    def get_request(self) -> tuple[socket.socket, Any]:
        conn = super().get_request()
        self.served.connections += 1
        return conn

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a refused handshake or a cut the test asked for: nothing to report


def serve(served: Served, tls: ssl.SSLContext | None = None) -> Iterator[Served]:
    """Run the server for ``served`` on 127.0.0.1 (over TLS with ``tls``) until closed."""
    server = _Server(served)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    scheme = "https" if tls is not None else "http"
    served.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_files() -> Iterator[Served]:
    yield from serve(Served())


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, signed by nobody the system trusts (openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Like ``http_files`` but over HTTPS with a self-signed certificate; ``served.cert``
    is its path (a CA bundle that trusts it)."""
    cert, key = self_signed_cert(tmp_path_factory.mktemp("tls"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    served = Served()
    served.cert = cert
    yield from serve(served, ctx)
