"""The encoder ladder of a live recording: a hardware encoder is the first step up where one
opens (tested with a fake behind ``EncoderOpener``: no GPU here), and the file plays through
every change."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from realtime.frame import Frame
from realtime.sinks.base import SinkContext
from realtime.sinks.encoder import Rung, ladder, open_codec
from realtime.sinks.file import FileSink


def frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def test_the_ladder_goes_to_hardware_then_ultrafast_or_through_each_faster_preset():
    first = Rung("libx264", (("g", "60"), ("preset", "slow"), ("crf", "20")))
    with_hw = [r.label for r in ladder(first, ("h264_nvenc", "h264_qsv"))]
    assert with_hw == ["libx264 slow", "h264_nvenc", "h264_qsv", "libx264 ultrafast"]
    without = [r.label for r in ladder(first, ())]
    assert without == [
        "libx264 slow",
        *(f"libx264 {p}" for p in ("medium", "fast", "faster", "veryfast", "superfast", "ultrafast")),
    ]


class FakeHardware:
    """A hardware H.264 encoder as ``EncoderOpener`` sees one (no GPU here): it encodes with
    x264 ultrafast and records how it was opened."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, int, int, int]] = []

    def __call__(self, rung: Rung, width: int, height: int, rate: Fraction, bit_rate: int):  # type: ignore[no-untyped-def]
        self.opened.append((rung.codec, width, height, bit_rate))
        if rung.codec == "h264_fakehw":
            return open_codec(Rung("libx264", (("preset", "ultrafast"),)), width, height, rate, bit_rate)
        return open_codec(rung, width, height, rate, bit_rate)


def test_an_encoder_that_falls_behind_moves_to_a_hardware_encoder_first(tmp_path: Path):
    out = tmp_path / "hw.mp4"
    fake = FakeHardware()
    # As the CLI opens a live recording with --preset veryslow (zerolatency: no look-ahead).
    sink = FileSink(
        out, preset="veryslow", tune="zerolatency", hardware=("h264_fakehw",), encoder_opener=fake
    )
    # 720p noise: veryslow falls far behind 30 fps on any CPU (at 640x360 a quiet machine kept up).
    sink.open(SinkContext(width=1280, height=720, fps=30.0, live=True))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    t0 = time.monotonic()
    for i in range(60):  # two seconds at 30 fps, as a camera delivers them
        time.sleep(max(0.0, t0 + i / 30 - time.monotonic()))
        sink.write(Frame(index=i, captured_at=time.monotonic(), image=np.roll(noise, 8 * i, axis=1)))
    sink.close()
    assert sink.encoder_changes and sink.encoder_changes[0]["to"] == "h264_fakehw"
    assert fake.opened[0][:3] == ("h264_fakehw", 1280, 720) and fake.opened[0][3] > 0  # a bit rate
    assert sink.skipped == 0 and frames_in(out) == sink.frames_saved == 60
