"""A browser preview over HTTP: MJPEG at /stream.mjpg, one JPEG at /snapshot.jpg, a page at /.

It is the preview for headless machines (no display, a server, a container). A face-swapped
camera feed is sensitive, so it binds 127.0.0.1 by default and refuses any other address
unless a token is set, which every request must then carry (``?token=`` or
``Authorization: Bearer``). On a loopback address every request must also name that address
in its ``Host`` header (127.0.0.1, localhost or [::1], with the right port): a web page whose
domain is rebound to 127.0.0.1 sends its own domain there and is refused, so it cannot read
the camera feed through the visitor's browser. The token never appears in the log.

``write`` only copies the frame; the JPEG is encoded at most once per frame, lazily, by
whichever client thread needs it first, so the output thread never pays for encoding and ten
viewers cost one encode.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import cv2
import numpy as np

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkContext

log = logging.getLogger(__name__)

BOUNDARY = "realtimeframe"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address, so treat it as one


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values a preview bound to loopback ``host``:``port`` accepts."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    bound = host.strip("[]").lower()
    names.add(f"[{bound}]" if ":" in bound else bound)
    out = {f"{n}:{port}" for n in names}
    if port == 80:  # the default port may be left out
        out |= names
    return frozenset(out)


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str, token: str | None) -> str:
    """``text`` with the token (and any ``token=`` query value) replaced by ``***``."""
    if token:
        text = text.replace(token, "***")
        text = text.replace(quote(token, safe=""), "***")
    return _TOKEN_IN_URL.sub(r"\1***", text)


class FrameHub:
    """The latest frame and its JPEG, shared between the output thread and client threads."""

    def __init__(self, quality: int) -> None:
        self.quality = quality
        self.cond = threading.Condition()
        self.seq = 0
        self.closed = False
        self.encodes = 0  # how many JPEGs were made (tests check: once per frame)
        self._image: np.ndarray | None = None
        self._jpeg: bytes | None = None
        self._jpeg_seq = -1
        self._encode_lock = threading.Lock()

    def publish(self, image: np.ndarray) -> None:
        copy = image.copy()  # the pipeline reuses its buffers once write returns
        with self.cond:
            self._image = copy
            self.seq += 1
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_newer(self, seq: int, timeout: float) -> int:
        """Block until a frame newer than ``seq`` is published (or timeout/close)."""
        with self.cond:
            self.cond.wait_for(lambda: self.seq > seq or self.closed, timeout=timeout)
            return self.seq

    def jpeg(self) -> tuple[int, bytes] | None:
        """The latest frame as JPEG, encoding it if no client has yet."""
        with self._encode_lock:
            with self.cond:
                seq, image = self.seq, self._image
            if image is None:
                return None
            if self._jpeg_seq != seq:
                ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    return None
                self._jpeg, self._jpeg_seq = buf.tobytes(), seq
                self.encodes += 1
            assert self._jpeg is not None
            return self._jpeg_seq, self._jpeg


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: FrameHub, token: str | None, fps: float) -> None:
        self.hub = hub
        self.token = token
        self.fps = fps
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        # Bound to loopback: only requests addressed to loopback (defeats DNS rebinding).
        port = int(self.server_address[1])
        self.hosts = allowed_hosts(address[0], port) if is_loopback(address[0]) else None
        self.refused_host = False  # warn once, not per request of a page that keeps trying


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled client must not hold a thread forever
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), redact(format % args, self.server.token))

    def _host_allowed(self) -> bool:
        hosts = self.server.hosts
        return hosts is None or self.headers.get("Host", "").strip().lower() in hosts

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        token = self.server.token
        if not token:
            return True
        given = query.get("token", [""])[0]
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not self._host_allowed():
            host = redact(self.headers.get("Host", ""), self.server.token)
            first = not self.server.refused_host
            self.server.refused_host = True
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "MJPEG preview: refused a request for host %r (only loopback names are served; "
                "a web page may be trying to read the preview through your browser)",
                host,
            )
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"wrong host\n", "text/plain")
            return
        if not self._authorized(query):
            self._send(
                HTTPStatus.UNAUTHORIZED,
                b"token required\n",
                "text/plain",
                {"WWW-Authenticate": 'Bearer realm="realtime"'},
            )
            return
        try:
            if url.path == "/":
                self._page(query)
            elif url.path == "/snapshot.jpg":
                self._snapshot()
            elif url.path == "/stream.mjpg":
                self._stream()
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        except (BrokenPipeError, ConnectionResetError, TimeoutError) as exc:
            log.debug("client %s went away: %r", self.address_string(), exc)

    def _page(self, query: dict[str, list[str]]) -> None:
        token = query.get("token", [""])[0]
        src = "/stream.mjpg" + (f"?token={quote(token)}" if token else "")
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>realtime</title>"
            "<style>body{margin:0;background:#111}img{display:block;max-width:100vw;"
            "max-height:100vh;margin:auto}</style></head>"
            f"<body><img src='{html.escape(src, quote=True)}' alt='realtime preview'></body></html>"
        ).encode()
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")

    def _snapshot(self) -> None:
        got = self.server.hub.jpeg()
        if got is None:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no frame yet\n", "text/plain", {"Retry-After": "1"})
            return
        self._send(HTTPStatus.OK, got[1], "image/jpeg")

    def _stream(self) -> None:
        hub = self.server.hub
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        while not hub.closed:
            got = hub.jpeg()
            if got is None or got[0] <= sent:
                hub.wait_newer(sent if got is None else got[0], timeout=0.5)
                continue
            sent, data = got
            self.wfile.write(
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            )
            self.wfile.write(data)
            self.wfile.write(b"\r\n")
            self.wfile.flush()


class MjpegSink:
    """Serves the output over HTTP; ``port`` is the bound port after ``open`` (0 picks one)."""

    name = "mjpeg"
    steady = False
    retry = False

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8080, quality: int = 80, token: str | None = None
    ) -> None:
        if not 1 <= quality <= 100:
            raise SinkError(f"JPEG quality must be 1..100, got {quality}")
        self.host = host
        self.port = port
        self.quality = quality
        self.token = token or None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._hub: FrameHub | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def encodes(self) -> int:
        return 0 if self._hub is None else self._hub.encodes

    def open(self, ctx: SinkContext) -> None:
        if self._server is not None:
            return
        if not is_loopback(self.host) and not self.token:
            raise SinkError(
                f"refusing to serve the preview on {self.host} without a token",
                fix="pass --token SECRET, or keep the default --mjpeg-host 127.0.0.1",
            )
        hub = FrameHub(self.quality)
        try:
            server = _Server((self.host, self.port), hub, self.token, ctx.fps)
        except OSError as exc:
            raise SinkError(
                f"cannot serve the preview on {self.host}:{self.port}: {exc.strerror or exc}",
                fix="pick another --mjpeg-port (0 picks a free one)",
            ) from exc
        self.port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="realtime-mjpeg", daemon=True
        )
        thread.start()
        self._server, self._thread, self._hub = server, thread, hub
        if is_loopback(self.host):
            log.info("MJPEG preview at %s", self.url)
        else:
            log.warning("MJPEG preview at %s: reachable from other machines (token required)", self.url)

    def write(self, frame: Frame) -> None:
        hub = self._hub
        if self._server is None or hub is None:
            raise SinkError("MJPEG preview written before open()", fix="call open(ctx) first")
        hub.publish(frame.image)

    def close(self) -> None:
        server, thread, hub = self._server, self._thread, self._hub
        self._server = self._thread = None
        if server is None:
            return
        if hub is not None:
            hub.close()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=2.0)
