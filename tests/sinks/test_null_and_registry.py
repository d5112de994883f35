from __future__ import annotations

import threading

import pytest

from realtime.app import SINK_SPECS
from realtime.errors import ConfigError, SinkError
from realtime.plan import (
    SINK_NAMES,
    FileOutput,
    ImageOutput,
    MjpegOutput,
    NullOutput,
    PanelPreview,
    VcamOutput,
    WindowOutput,
)
from realtime.sinks.base import Sink, SinkContext
from realtime.sinks.file import FileSink
from realtime.sinks.image import ImageFileSink
from realtime.sinks.mjpeg import MjpegSink
from realtime.sinks.null import NullSink
from realtime.sinks.preview import PreviewSink
from realtime.sinks.registry import SINKS, make_sink
from realtime.sinks.vcam import VirtualCameraSink
from realtime.sinks.window import WindowSink


def test_registry_makes_every_output_a_plan_can_name(tmp_path) -> None:
    made = {
        VcamOutput(): VirtualCameraSink,
        WindowOutput(): WindowSink,
        FileOutput(str(tmp_path / "x.mp4")): FileSink,
        MjpegOutput(): MjpegSink,
        NullOutput(): NullSink,
        ImageOutput(str(tmp_path / "x.jpg")): ImageFileSink,
        PanelPreview(): PreviewSink,
    }
    assert set(SINKS) == {type(spec) for spec in made}
    for spec, cls in made.items():
        sink = make_sink(spec)
        assert type(sink) is cls and isinstance(sink, Sink)
    with pytest.raises(ConfigError, match="no output is registered"):
        make_sink(object())
    # every name --sink takes means an output spec
    assert set(SINK_SPECS) == set(SINK_NAMES)


def test_only_the_live_outputs_that_want_a_frame_every_tick_are_steady() -> None:
    assert sorted(
        cls.name
        for cls in (VirtualCameraSink, WindowSink, FileSink, MjpegSink, NullSink, PreviewSink)
        if cls.steady
    ) == ["panel", "vcam"]


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
