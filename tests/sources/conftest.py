"""Fixtures for source tests: short clips made with PyAV, and a clock that only moves on sleep."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest


def write_clip(
    path: Path,
    n: int = 12,
    fps: int = 24,
    size: tuple[int, int] = (64, 48),
    audio: bool = False,
    rotation: float | None = None,
) -> Path:
    """A clip whose frame i is flat grey level 20 + 15*i (so order can be checked), with a
    white 8x8 block at the top-left (so rotation can be checked)."""
    w, h = size
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "10"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        a = c.add_stream("aac", rate=16000) if audio else None
        for i in range(n):
            img = np.full((h, w, 3), 20 + 15 * i, np.uint8)
            img[:8, :8] = 255
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            samples = np.zeros((1, 1024 * 8), np.float32)
            af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            af.sample_rate = 16000
            af.pts = 0
            for p in a.encode(af):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "clip.mp4", **kw: object) -> Path:
        return write_clip(tmp_path / name, **kw)  # type: ignore[arg-type]

    return make


class FakeClock:
    """``time.monotonic``/``time.sleep`` stand-ins: time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
