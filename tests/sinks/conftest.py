"""Fixtures for sink tests: a stream format and frames whose pixels encode their number."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from realtime.frame import Frame
from realtime.sinks.base import SinkContext


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """A horizontal ramp plus a flat band whose grey level is 10 + 20 * (index % 12)."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    img[: height // 2] = 10 + 20 * (index % 12)
    img[: height // 2, : width // 4, 2] = 250  # a red patch: BGR order is checked
    img[: height // 2, : width // 4, :2] = 0
    return img


@pytest.fixture
def make_frame() -> Callable[..., Frame]:
    def make(
        index: int,
        width: int = 64,
        height: int = 48,
        pts: float | None = None,
        captured_at: float | None = None,
    ) -> Frame:
        return Frame(
            index=index,
            captured_at=100.0 + index / 30 if captured_at is None else captured_at,
            image=pattern(index, width, height),
            pts=index / 30 if pts is None else pts,
        )

    return make


@pytest.fixture
def ctx() -> SinkContext:
    return SinkContext(width=64, height=48, fps=30.0, live=False)
