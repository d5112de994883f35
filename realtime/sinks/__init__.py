"""Frame sinks: virtual camera, preview window, video file, MJPEG over HTTP, a UDP/SRT stream,
null.

``SINKS`` is the one name -> class map that ``--sink`` takes its choices from.
"""

from __future__ import annotations

from realtime.sinks.file import FileSink
from realtime.sinks.mjpeg import MjpegSink
from realtime.sinks.null import NullSink
from realtime.sinks.stream import StreamSink
from realtime.sinks.vcam import VirtualCameraSink
from realtime.sinks.window import WindowSink

SINKS: dict[str, type] = {
    "vcam": VirtualCameraSink,
    "window": WindowSink,
    "file": FileSink,
    "mjpeg": MjpegSink,
    "stream": StreamSink,
    "null": NullSink,
}

__all__ = ["SINKS", "FileSink", "MjpegSink", "NullSink", "StreamSink", "VirtualCameraSink", "WindowSink"]
