"""The control panel's preview: the output frames (with landmarks drawn when asked) and where
the faces of the last frame are, for selecting one by a click."""

from __future__ import annotations

from typing import Any

from realtime.faces.overlay import draw_face
from realtime.frame import Frame
from realtime.sinks.base import SinkBase, SinkContext
from realtime.web import FrameHub


class PreviewSink(SinkBase):
    """Publishes each output frame to ``hub``. Steady: it also gets the repeated "camera lost"
    frame while the source is away."""

    name = "panel"
    steady = True

    def __init__(self, hub: FrameHub | None = None) -> None:
        self.hub = hub or FrameHub()
        self.landmarks = False
        self.faces: list[dict[str, Any]] = []
        self.lost = False

    def open(self, ctx: SinkContext) -> None:
        return None

    def write(self, frame: Frame) -> None:
        image = frame.image
        self.lost = "source_lost" in frame.flags
        self.faces = [
            {"track_id": f.track_id, "box": [round(float(v), 1) for v in f.box]} for f in frame.faces
        ]
        if self.landmarks and frame.faces:
            image = image.copy()
            for face in frame.faces:
                draw_face(image, face)
        self.hub.publish(image, frame.captured_at)

    def close(self) -> None:
        return None
