"""The local web server that the MJPEG preview and the control panel share (Starlette + uvicorn).

A face-swapped camera feed and the controls of a live stream are sensitive, so every request
passes ``Guard`` first:

- ``Host`` must name the address the server is bound to (on loopback: 127.0.0.1, localhost or
  [::1], with the right port). A web page whose domain is rebound to 127.0.0.1 sends its own
  domain there and is refused (no DNS rebinding).
- An ``Origin`` header, when a browser sends one, must be this server's own origin, and a
  browser's ``Sec-Fetch-Site: cross-site`` is refused: no other site can POST a command or read
  a response through the visitor's browser.
- With a token, every request carries it (``?token=`` or ``Authorization: Bearer``); it is
  compared in constant time and never written to the log (uvicorn's access log is off).

The server runs in a daemon thread on a socket bound in ``open`` (so a port in use is an
error at once, and port 0 picks a free one).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote

import cv2
import numpy as np

from realtime.errors import SinkError

log = logging.getLogger(__name__)

BOUNDARY = "realtimeframe"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to a public address, so treat it as one


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The ``Host`` header values a server bound to loopback ``host``:``port`` accepts; None
    (any) off loopback, where the machine has names we cannot know and the token guards it."""
    if not is_loopback(host):
        return None
    bound = host.strip("[]").lower()
    names = {"127.0.0.1", "localhost", "[::1]"}
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


def stale_link_page(what: str, had_token: bool) -> bytes:
    """The page a browser gets without the right token: why, and where the new link is."""
    reason = (
        "This link is from an earlier run: each start makes a new token."
        if had_token
        else "This address needs the token that is part of its link."
    )
    flag = "--panel-token" if what == "panel" else "--token"
    line = (
        "realtime: control panel at http://127.0.0.1:PORT/?token=..."
        if what == "panel"
        else "the address it logs at start"
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>realtime: open the new link</title>
<style>body{{font:16px system-ui,sans-serif;background:#16181c;color:#e6e6e6;margin:0;padding:24px;
line-height:1.5;max-width:40em}}code{{background:#2a2e36;padding:2px 6px;border-radius:4px;
word-break:break-all}}h1{{font-size:20px}}</style></head><body id="stale">
<h1>Open the {what}'s new link</h1>
<p>{reason}</p>
<p>The new link is printed in the terminal where <code>realtime</code> runs, on the line
<code>{line}</code>. Copy it from there into this tab.</p>
<p>To keep one link across restarts, start with <code>{flag} SECRET</code>.</p>
</body></html>""".encode()


class Guard:
    """ASGI middleware: Host, Origin and token checks before any route runs (see the module)."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, token: str | None, what: str) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token
        self.what = what
        self.refused_host = False  # warn once, not per request of a page that keeps trying

    def _authorized(self, headers: dict[str, str], query: str) -> bool:
        if not self.token:
            return True
        given = parse_qs(query).get("token", [""])[0]
        auth = headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        host = headers.get("host", "").strip().lower()
        origin = headers.get("origin")
        status, body = 0, b""
        if log.isEnabledFor(logging.DEBUG):
            target = scope.get("path", "") + (f"?{query}" if query else "")
            log.debug("%s: %s %s", self.what, scope.get("method", ""), redact(target, self.token))
        if self.hosts is not None and host not in self.hosts:
            first, self.refused_host = not self.refused_host, True
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "%s: refused a request for host %r (a web page may be trying to reach it through "
                "your browser)",
                self.what,
                redact(host, self.token),
            )
            status, body = 421, b"wrong host\n"
        elif (origin is not None and origin.lower() != f"http://{host}") or headers.get(
            "sec-fetch-site"
        ) == "cross-site":
            log.warning(
                "%s: refused a cross-site request from %r", self.what, redact(origin or "", self.token)
            )
            status, body = 403, b"cross-site request refused\n"
        elif not self._authorized(headers, query):
            status, body = 401, b"token required\n"
        ctype = b"text/plain"
        if status == 401 and "text/html" in headers.get("accept", ""):
            # A browser tab left open from an earlier run: say where the new address is.
            status, body, ctype = (
                401,
                stale_link_page(self.what, bool(parse_qs(query).get("token"))),
                b"text/html",
            )
        if status:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", ctype + b"; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                        *([(b"www-authenticate", b'Bearer realm="realtime"')] if status == 401 else []),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class FrameHub:
    """The latest frame and its JPEG, shared between a pipeline thread and the web clients.

    ``publish`` only copies; the JPEG is encoded at most once per frame, lazily, by whichever
    client needs it first, so the pipeline never pays for encoding and ten viewers cost one
    encode. ``ages_ms`` holds capture-to-send times of recent JPEGs (the preview's latency).
    """

    def __init__(self, quality: int = 80) -> None:
        self.quality = quality
        self.cond = threading.Condition()
        self.seq = 0
        self.closed = False
        self.encodes = 0
        self.ages_ms: list[float] = []
        self._image: np.ndarray | None = None
        self._captured_at = 0.0
        self._jpeg: bytes | None = None
        self._jpeg_seq = -1
        self._encode_lock = threading.Lock()

    def publish(self, image: np.ndarray, captured_at: float | None = None) -> None:
        copy = image.copy()  # the pipeline reuses its buffers once the call returns
        with self.cond:
            self._image = copy
            self._captured_at = time.monotonic() if captured_at is None else captured_at
            self.seq += 1
            self.cond.notify_all()

    def latest(self) -> np.ndarray | None:
        with self.cond:
            return self._image

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
                seq, image, captured = self.seq, self._image, self._captured_at
            if image is None:
                return None
            if self._jpeg_seq != seq:
                ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    return None
                self._jpeg, self._jpeg_seq = buf.tobytes(), seq
                self.encodes += 1
                self.ages_ms = [*self.ages_ms[-59:], (time.monotonic() - captured) * 1000.0]
            assert self._jpeg is not None
            return self._jpeg_seq, self._jpeg


async def mjpeg_parts(hub: FrameHub) -> AsyncIterator[bytes]:
    """The multipart body of an MJPEG stream: one part per new frame, until the hub closes."""
    sent = 0
    while not hub.closed:
        got = await asyncio.to_thread(hub.jpeg)
        if got is None or got[0] <= sent:
            await asyncio.to_thread(hub.wait_newer, sent if got is None else got[0], 0.5)
            continue
        sent, data = got
        yield (
            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )


class WebServer:
    """A Starlette app behind ``Guard``, served by uvicorn on its own thread."""

    def __init__(self, app: ASGIApp, host: str, port: int, token: str | None, what: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.token = token or None
        self.what = what
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, fix: str) -> None:
        """Bind and serve; ``SinkError`` (with ``fix``) when the address cannot be used."""
        # uvicorn loads only when a server starts (start-up cost).
        import uvicorn

        if not is_loopback(self.host) and not self.token:
            raise SinkError(f"refusing to serve the {self.what} on {self.host} without a token", fix=fix)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host.strip("[]"), self.port))
            sock.listen(64)
        except OSError as exc:
            sock.close()
            raise SinkError(
                f"cannot serve the {self.what} on {self.host}:{self.port}: {exc.strerror or exc}", fix=fix
            ) from exc
        self.port = int(sock.getsockname()[1])
        guarded = Guard(self.app, allowed_hosts(self.host, self.port), self.token, self.what)
        config = uvicorn.Config(
            guarded,
            log_config=None,  # our logging; and no access log: it would hold the token
            access_log=False,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            ws="none",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"realtime-web-{self.what}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._server, self._thread = server, thread
        if not server.started:
            self.stop()
            raise SinkError(f"the {self.what} did not start on {self.host}:{self.port}", fix=fix)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=3.0)
