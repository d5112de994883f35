"""The MJPEG preview, checked with real HTTP clients on 127.0.0.1."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

from realtime.errors import SinkError
from realtime.frame import Frame
from realtime.sinks.base import Sink, SinkContext
from realtime.sinks.mjpeg import BOUNDARY, MjpegSink, is_loopback


@pytest.fixture
def sink(ctx: SinkContext) -> Iterator[MjpegSink]:
    s = MjpegSink(port=0, quality=90)
    s.open(ctx)
    yield s
    s.close()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def _decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a JPEG"
    return img


def _read_part(resp: http.client.HTTPResponse) -> bytes:
    """One part of a multipart/x-mixed-replace body."""
    line = resp.readline()
    while line in (b"\r\n", b"\n"):
        line = resp.readline()
    assert line.strip() == f"--{BOUNDARY}".encode(), line
    headers = {}
    while (line := resp.readline()) not in (b"\r\n", b"\n", b""):
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    assert headers["content-type"] == "image/jpeg"
    return resp.read(int(headers["content-length"]))


def test_snapshot_is_a_jpeg_of_the_last_frame(sink: MjpegSink, make_frame: Callable[..., Frame]) -> None:
    assert isinstance(sink, Sink) and sink.port > 0
    status, _, _ = _get(sink.url + "snapshot.jpg")
    assert status == 503  # nothing written yet
    frame = make_frame(3)
    sink.write(frame)
    status, body, ctype = _get(sink.url + "snapshot.jpg")
    assert status == 200 and ctype == "image/jpeg"
    img = _decode(body)
    assert img.shape == (48, 64, 3)
    assert np.abs(img.astype(int) - frame.image).mean() < 6


def test_jpeg_is_encoded_once_per_frame_not_per_client(sink: MjpegSink, make_frame) -> None:
    sink.write(make_frame(0))
    bodies = [_get(sink.url + "snapshot.jpg")[1] for _ in range(4)]
    assert len(set(bodies)) == 1 and sink.encodes == 1
    sink.write(make_frame(1))
    _get(sink.url + "snapshot.jpg")
    assert sink.encodes == 2


def test_stream_delivers_successive_frames(sink: MjpegSink, make_frame) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            sink.write(make_frame(i))
            i += 1
            time.sleep(0.02)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        images = [_decode(_read_part(resp)) for _ in range(5)]
    finally:
        stop.set()
        t.join()
        conn.close()
    assert all(img.shape == (48, 64, 3) for img in images)
    levels = [int(img[5:20, 30:].mean()) for img in images]
    assert len(set(levels)) > 1  # the picture changes: new frames, not one repeated


def test_page_and_unknown_paths(sink: MjpegSink) -> None:
    status, body, ctype = _get(sink.url)
    assert status == 200 and ctype.startswith("text/html") and b"/stream.mjpg" in body
    assert _get(sink.url + "secrets")[0] == 404


def test_close_is_prompt_with_a_client_watching(ctx: SinkContext, make_frame) -> None:
    s = MjpegSink(port=0)
    s.open(ctx)
    s.write(make_frame(0))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    conn.request("GET", "/stream.mjpg")
    resp = conn.getresponse()
    _read_part(resp)
    t0 = time.monotonic()
    s.close()
    assert time.monotonic() - t0 < 1.5
    resp.read()  # the server ends the stream: EOF, not the 5 s client timeout
    assert time.monotonic() - t0 < 2.5
    conn.close()
    s.close()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()


def test_non_loopback_needs_a_token(ctx: SinkContext) -> None:
    with pytest.raises(SinkError, match="without a token") as err:
        MjpegSink(host="0.0.0.0", port=0).open(ctx)
    assert "--token" in str(err.value) and "\n" not in str(err.value)


def test_token_is_required_on_every_request(ctx: SinkContext, make_frame) -> None:
    s = MjpegSink(host="0.0.0.0", port=0, token="s3cret")
    s.open(ctx)
    try:
        s.write(make_frame(0))
        base = f"http://127.0.0.1:{s.port}"
        for path in ("/", "/snapshot.jpg", "/stream.mjpg"):
            assert _get(base + path)[0] in (401, 403)
        assert _get(base + "/snapshot.jpg?token=wrong")[0] in (401, 403)
        assert _get(base + "/snapshot.jpg", {"Authorization": "Bearer nope"})[0] in (401, 403)
        assert _get(base + "/snapshot.jpg?token=s3cret")[0] == 200
        assert _get(base + "/snapshot.jpg", {"Authorization": "Bearer s3cret"})[0] == 200
        status, page, _ = _get(base + "/?token=s3cret")
        assert status == 200 and b"/stream.mjpg?token=s3cret" in page  # the page's <img> works too
    finally:
        s.close()


def test_port_in_use_is_sink_error(sink: MjpegSink, ctx: SinkContext) -> None:
    with pytest.raises(SinkError, match=f"127.0.0.1:{sink.port}") as err:
        MjpegSink(port=sink.port).open(ctx)
    assert "--mjpeg-port" in str(err.value)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.5.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")
