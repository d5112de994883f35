"""The one interface every frame source implements."""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class Captured(NamedTuple):
    """One image as a source delivered it.

    ``image`` is HxWx3 uint8 BGR. ``pts`` is the media timestamp in seconds when the source
    has one (video files), else ``None`` and the pipeline uses time since start.
    """

    image: np.ndarray
    pts: float | None = None


@runtime_checkable
class Source(Protocol):
    """A producer of frames. ``read`` blocks until the next frame is due.

    ``live`` sources (cameras, streams, real-time playback) are read with the latest-wins
    policy; others (file mode) with the blocking policy, so nothing is dropped.
    """

    name: str
    fps: float
    live: bool

    def open(self) -> None:
        """Acquire the device or file; raise ``SourceError``/``InputError`` with the fix."""

    def read(self) -> Captured | None:
        """Return the next frame, or ``None`` at the end of the stream."""

    def close(self) -> None:
        """Release everything; safe to call twice."""
