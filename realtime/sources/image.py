"""A source that repeats one still image: a photo as a fake camera, or one frame for a still.

The image is read by ``realtime.images.load_image``, the app's one safe way to read a picture.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ConfigError, SourceError
from realtime.images import load_image
from realtime.sources.base import Captured
from realtime.sources.video import Pacer

log = logging.getLogger(__name__)


class ImageSource:
    """One still image: delivered at ``fps`` as a live source (a photo as a fake camera), or
    ``once`` (still mode: one frame in, one frame out, nothing dropped)."""

    name = "image"

    def __init__(
        self,
        path: str | Path,
        fps: float = 30.0,
        *,
        once: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}", fix="pass --fps 30")
        self.path = Path(path)
        self.fps = float(fps)
        self.once = once
        self.live = not once
        self.width = 0
        self.height = 0
        self._pacer = Pacer(clock=clock, sleep=sleep)
        self._image: np.ndarray | None = None
        self._index = 0

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> ImageSource:
        """Registry entry: ``target`` is the image path."""
        return cls(target, **options)

    def open(self) -> None:
        image = load_image(self.path)
        image.flags.writeable = False  # shared by every frame: nobody may draw on it
        self._image = image
        self.height, self.width = image.shape[:2]
        self._index = 0
        self._pacer.reset()

    def read(self) -> Captured | None:
        if self._image is None:
            raise SourceError(f"image source {self.path} is not open", fix="call open() first")
        if self.once:
            if self._index:
                return None
            self._index += 1
            return Captured(self._image, 0.0)
        self._pacer.wait(self._index / self.fps)
        self._index += 1
        return Captured(self._image, None)

    def close(self) -> None:
        self._image = None
