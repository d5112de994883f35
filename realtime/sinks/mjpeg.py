"""A browser preview over HTTP: MJPEG at /stream.mjpg, one JPEG at /snapshot.jpg, a page at /.

It is the preview for headless machines (no display, a server, a container). A face-swapped
camera feed is sensitive, so it binds 127.0.0.1 by default and refuses any other address
unless a token is set, which every request must then carry (``?token=`` or
``Authorization: Bearer``). It is served by ``realtime.web`` (Starlette + uvicorn), whose
guard checks ``Host`` (no DNS rebinding), ``Origin`` and the token on every request; the
token never appears in the log.

``write`` only copies the frame; the JPEG is encoded at most once per frame, lazily, by
whichever client needs it first, so the output thread never pays for encoding and ten
viewers cost one encode.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext
from realtime.web import BOUNDARY, FrameHub, WebServer, allowed_hosts, is_loopback, mjpeg_parts, redact

log = logging.getLogger(__name__)

__all__ = ["BOUNDARY", "FrameHub", "MjpegSink", "allowed_hosts", "is_loopback", "redact"]


def stream_response(hub: FrameHub) -> StreamingResponse:
    return StreamingResponse(
        mjpeg_parts(hub),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


def snapshot_response(hub: FrameHub) -> Response:
    got = hub.jpeg()
    if got is None:
        return PlainTextResponse("no frame yet\n", status_code=503, headers={"Retry-After": "1"})
    return Response(got[1], media_type="image/jpeg", headers={"Cache-Control": "no-store"})


def preview_app(hub: FrameHub) -> Starlette:
    async def page(request: Request) -> HTMLResponse:
        token = request.query_params.get("token", "")
        src = "/stream.mjpg" + (f"?token={quote(token)}" if token else "")
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>realtime</title>"
            "<style>body{margin:0;background:#111}img{display:block;max-width:100vw;"
            "max-height:100vh;margin:auto}</style></head>"
            f"<body><img src='{html.escape(src, quote=True)}' alt='realtime preview'></body></html>",
            headers={"Cache-Control": "no-store"},
        )

    async def snapshot(request: Request) -> Response:
        return snapshot_response(hub)

    async def stream(request: Request) -> Response:
        return stream_response(hub)

    return Starlette(
        routes=[Route("/", page), Route("/snapshot.jpg", snapshot), Route("/stream.mjpg", stream)]
    )


class MjpegSink(SinkBase):
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
        self._server: WebServer | None = None
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
        server = WebServer(preview_app(hub), self.host, self.port, self.token, "MJPEG preview")
        server.start(fix="pick another --mjpeg-port (0 picks a free one)")
        self.port = server.port
        self._server, self._hub = server, hub
        if is_loopback(self.host):
            log.info("MJPEG preview at %s", self.url)
        else:
            log.warning("MJPEG preview at %s: reachable from other machines (token required)", self.url)

    def write(self, frame: Frame) -> None:
        hub = self._hub
        if self._server is None or hub is None:
            raise SinkError("MJPEG preview written before open()", fix="call open(ctx) first")
        hub.publish(frame.image, frame.captured_at)

    def close(self) -> None:
        server, hub = self._server, self._hub
        self._server = None
        if server is None:
            return
        if hub is not None:
            hub.close()
        server.stop()
