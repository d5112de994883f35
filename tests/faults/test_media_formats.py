"""Audio the output container cannot hold is converted, never fatal, and encoder settings that
cannot work are refused before anything runs (issue 22, faults 4 and 5)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.faults.conftest import cli, frames_in, one_error_line


def clip_with_audio(path: Path, codec: str, fmt: str | None = None, frames: int = 60) -> Path:
    """A 2 s 320x180 H.264 clip with a stereo tone in ``codec`` (AC-3, E-AC-3, AAC ...)."""
    with av.open(str(path), "w", format=fmt) as out:
        v = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
        a = out.add_stream(codec, rate=48000)
        a.layout = "stereo"
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(np.full((180, 320, 3), (i * 4) % 255, np.uint8), format="bgr24")
            vf.pts, vf.time_base = i, Fraction(1, 30)
            for p in v.encode(vf):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        size = a.codec_context.frame_size or 1024
        for start in range(0, frames * 1600, size):
            tone = (0.3 * np.sin(2 * np.pi * 440 * (start + np.arange(size)) / 48000)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, start, Fraction(1, 48000)
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return path


@pytest.mark.parametrize(
    "source, codec, fmt, target",
    [
        ("in.mkv", "ac3", None, "out.mp4"),  # a camcorder's .mts audio, remuxed
        ("in.mp4", "eac3", None, "out.mp4"),  # a streaming service's E-AC-3
        ("in.mkv", "eac3", None, "out.mp4"),
        ("in.ts", "aac", "mpegts", "out.mp4"),  # AAC with ADTS headers, as MPEG-TS carries it
        ("in.ts", "aac", "mpegts", "out.mov"),
    ],
)
def test_audio_the_container_cannot_hold_is_converted_to_aac(
    source: str, codec: str, fmt: str | None, target: str, tmp_path: Path
):
    src = clip_with_audio(tmp_path / source, codec, fmt)
    out = tmp_path / target
    done = cli(["--input", str(src), "--output", str(out)])
    assert done.returncode == 0, done.stderr
    assert len(frames_in(out)) == 60
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        seconds = sum(f.samples for f in c.decode(audio)) / audio.codec_context.sample_rate
    assert abs(seconds - 2.0) < 0.1, seconds
    assert "audio converted to AAC" in done.stderr


@pytest.mark.parametrize(
    "flag, value, needle",
    [
        ("--preset", "turbo", "--preset turbo"),
        ("--bitrate", "-5", "--bitrate"),
        ("--codec", "mjpeg", "--codec mjpeg"),
    ],
)
def test_an_encoder_setting_that_cannot_work_is_refused_before_anything_runs(
    flag: str, value: str, needle: str, tmp_path: Path
):
    out = tmp_path / "rec.mp4"
    done = cli(["--demo", "--sink", "file", "--output", str(out), "--duration", "2", flag, value])
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert needle in line and "disk" not in line, line
    assert not out.exists() and not out.with_name("rec.mp4.partial").exists()
    assert "synthetic camera" not in done.stderr  # refused before the source opened
