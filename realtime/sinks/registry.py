"""The sink registry: a plan's output spec type (``realtime.plan``) -> the function that makes
its sink. ``register_sink`` adds one (in the spirit of pyvirtualcam's ``register_backend``);
``make_sink`` is what ``realtime.build`` calls for every output, including those the panel adds
while running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.errors import ConfigError
from realtime.sinks.base import Sink
from realtime.sinks.file import FileSink
from realtime.sinks.image import ImageFileSink
from realtime.sinks.mjpeg import MjpegSink
from realtime.sinks.null import NullSink
from realtime.sinks.preview import PreviewSink
from realtime.sinks.specs import (
    FileOutput,
    ImageOutput,
    MjpegOutput,
    NullOutput,
    PanelPreview,
    StreamOutput,
    VcamOutput,
    WindowOutput,
)
from realtime.sinks.stream import StreamSink
from realtime.sinks.vcam import VirtualCameraSink
from realtime.sinks.window import WindowSink

SinkFactory = Callable[[Any], Sink]
SINKS: dict[type, SinkFactory] = {}


def register_sink(spec_type: type, factory: SinkFactory) -> None:
    """Make outputs of ``spec_type`` with ``factory(spec)``."""
    SINKS[spec_type] = factory


def make_sink(spec: object) -> Sink:
    """The sink ``spec`` describes, not yet opened."""
    factory = SINKS.get(type(spec))
    if factory is None:
        raise ConfigError(f"no output is registered for {type(spec).__name__}")
    return factory(spec)


def _file(spec: FileOutput) -> Sink:
    return FileSink(
        spec.path,
        codec=spec.codec,
        crf=spec.crf,
        preset=spec.preset,
        tune=spec.tune,
        audio_from=spec.audio_from,
        loop_audio=spec.loop_audio,
        size=spec.size,
        bitrate=spec.bitrate,
        keep_pts=spec.keep_pts,
        overwrite=spec.overwrite,
    )


register_sink(FileOutput, _file)
register_sink(
    ImageOutput, lambda s: ImageFileSink(s.path, overwrite=s.overwrite, require_face=s.require_face)
)
register_sink(VcamOutput, lambda s: VirtualCameraSink(backend=s.backend, device=s.device))
register_sink(MjpegOutput, lambda s: MjpegSink(host=s.host, port=s.port, token=s.token))
register_sink(StreamOutput, lambda s: StreamSink(s.url, bitrate=s.bitrate))
register_sink(WindowOutput, lambda s: WindowSink(s.title))
register_sink(NullOutput, lambda s: NullSink())
register_sink(PanelPreview, lambda s: PreviewSink())
