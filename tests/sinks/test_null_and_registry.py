from __future__ import annotations

import threading

import pytest

from realtime.errors import SinkError
from realtime.sinks import SINKS, FileSink, MjpegSink, NullSink, StreamSink, VirtualCameraSink, WindowSink
from realtime.sinks.base import Sink, SinkContext


def test_registry_names_every_sink() -> None:
    assert {
        "vcam": VirtualCameraSink,
        "window": WindowSink,
        "file": FileSink,
        "mjpeg": MjpegSink,
        "stream": StreamSink,
        "null": NullSink,
    } == SINKS
    for name, cls in SINKS.items():
        assert cls.name == name
        assert isinstance(cls.steady, bool)


def test_only_the_virtual_camera_and_the_stream_are_steady() -> None:
    # Both feed a live consumer (a video call, OBS) that wants a picture at every tick.
    assert [n for n, cls in SINKS.items() if cls.steady] == ["vcam", "stream"]


def test_null_sink_counts(ctx: SinkContext, make_frame) -> None:
    sink = NullSink()
    assert isinstance(sink, Sink)
    with pytest.raises(SinkError):
        sink.write(make_frame(0))
    sink.open(ctx)
    threads = [
        threading.Thread(target=lambda: [sink.write(make_frame(i)) for i in range(50)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sink.frames == 200 and sink.last_index == 49 and sink.context is ctx
    sink.close()
    sink.close()
    assert sink.closed
