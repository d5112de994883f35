"""The control panel: one small page and the JSON API of ``realtime.control`` over HTTP.

Routes (every one behind ``realtime.web.Guard``: Host, Origin and the token):

- ``GET /``: the page (``page.html``, no build step);
- ``GET /stream.mjpg?view=after|before``: the live preview; ``GET /snapshot.jpg``: one frame;
- ``GET /api/state``, ``/api/schema``, ``/api/history``, ``/api/faces``, ``/api/files``,
  ``/api/presets``, ``/api/vcam_help``: JSON (``realtime.library``);
- ``GET /face.jpg?name=N``: a face photo's thumbnail; ``GET /files/{kind}/{name}``: a recording
  or snapshot, as a download;
- ``GET /api/events``: the state once a second as server-sent events;
- ``POST /api/command`` ``{"name": ..., "args": {...}}``: a command (see ``realtime.control``);
- ``POST /api/face``: an uploaded photo as the raw request body (size-limited).

A command's error is ``400 {"ok": false, "error": ..., "fix": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from realtime import library
from realtime.control import Controller
from realtime.datadir import data_dir
from realtime.errors import RealtimeError
from realtime.panel.schema import schema
from realtime.sinks.mjpeg import snapshot_response, stream_response
from realtime.web import WebServer

log = logging.getLogger(__name__)

MAX_UPLOAD = 16 * 1024 * 1024  # bytes; the pixel limit applies after that (``load_image``)
MAX_COMMAND = 64 * 1024
FIX = "pick another --panel-port (0 picks a free one)"


def _error(exc: RealtimeError, status: int = 400) -> JSONResponse:
    return JSONResponse({"ok": False, "error": exc.message, "fix": exc.fix}, status_code=status)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def panel_app(ctl: Controller) -> Starlette:
    page = resources.files("realtime.panel").joinpath("page.html").read_text(encoding="utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def stream(request: Request) -> Response:
        view = request.query_params.get("view", "after")
        return stream_response(ctl.before if view == "before" else ctl.after)

    async def snapshot(request: Request) -> Response:
        return snapshot_response(ctl.after)

    async def state(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(ctl.state))

    async def get_schema(request: Request) -> Response:
        return JSONResponse({**schema(), "commands": ctl.commands})

    async def history(request: Request) -> Response:
        return JSONResponse(list(ctl.history))

    def folder(name: str) -> Any:
        path = data_dir() / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def faces(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(lambda: library.faces(folder("faces"), ctl.face_name)))

    async def face_thumb(request: Request) -> Response:
        name = request.query_params.get("name", "")
        try:
            jpg = await asyncio.to_thread(lambda: library.thumbnail(library.face_path(folder("faces"), name)))
        except RealtimeError as exc:
            return _error(exc, 404)
        return Response(jpg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    async def files(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(lambda: library.files(data_dir())))

    async def download(request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        try:
            path = library.file_path(data_dir(), kind, name)
        except RealtimeError as exc:
            return _error(exc, 404)
        return FileResponse(path, filename=path.name, headers={"Cache-Control": "no-store"})

    async def presets(request: Request) -> Response:
        return JSONResponse(await asyncio.to_thread(lambda: library.presets(folder("presets"))))

    async def vcam_help(request: Request) -> Response:
        return JSONResponse(library.vcam_help())

    async def events(request: Request) -> Response:
        async def gen() -> Any:
            while not ctl.pipeline.stopped:
                st = await asyncio.to_thread(ctl.state)
                yield f"data: {json.dumps(st)}\n\n"
                await asyncio.sleep(1.0)

        return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def command(request: Request) -> Response:
        body = await _body(request, MAX_COMMAND)
        if body is None:
            return JSONResponse({"ok": False, "error": "command too large"}, status_code=413)
        try:
            msg = json.loads(body or b"{}")
            name, args = str(msg["name"]), msg.get("args") or {}
            if not isinstance(args, dict):
                raise TypeError("args must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"ok": False, "error": f"bad command: {exc}"}, status_code=400)
        try:
            return JSONResponse(await asyncio.to_thread(ctl.run, name, args))
        except RealtimeError as exc:
            return _error(exc)

    async def upload(request: Request) -> Response:
        data = await _body(request, MAX_UPLOAD)
        if data is None:
            return JSONResponse(
                {"ok": False, "error": f"photo larger than {MAX_UPLOAD // 2**20} MiB"}, status_code=413
            )
        try:
            return JSONResponse(await asyncio.to_thread(ctl.upload_face, data, MAX_UPLOAD))
        except RealtimeError as exc:
            return _error(exc)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/stream.mjpg", stream),
            Route("/snapshot.jpg", snapshot),
            Route("/api/state", state),
            Route("/api/schema", get_schema),
            Route("/api/history", history),
            Route("/api/faces", faces),
            Route("/face.jpg", face_thumb),
            Route("/api/files", files),
            Route("/files/{kind}/{name}", download),
            Route("/api/presets", presets),
            Route("/api/vcam_help", vcam_help),
            Route("/api/events", events),
            Route("/api/command", command, methods=["POST"]),
            Route("/api/face", upload, methods=["POST"]),
        ]
    )


class Panel:
    """The panel's web server over a controller; ``url`` carries the token."""

    def __init__(self, ctl: Controller, host: str, port: int, token: str) -> None:
        self.ctl = ctl
        self.token = token
        self.server = WebServer(panel_app(ctl), host, port, token, "panel")

    @property
    def url(self) -> str:
        return f"{self.server.url}?token={self.token}"

    def start(self) -> None:
        self.server.start(fix=FIX)

    def stop(self) -> None:
        self.ctl.close()
        self.server.stop()
