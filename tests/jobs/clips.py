"""Test clips made with PyAV: the synthetic moving face, optionally with a sine tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from realtime.sources.synthetic import SyntheticSource


def make_clip(
    path: Path,
    *,
    frames: int = 60,
    fps: int = 30,
    size: tuple[int, int] = (640, 360),
    audio: bool = True,
    face: bool = True,
    vfr: bool = False,
    rotate: int = 0,
) -> Path:
    """Write an H.264 clip; ``vfr`` spaces frames unevenly, ``rotate`` tags a display rotation."""
    w, h = size
    src = SyntheticSource(width=w, height=h, fps=fps, live=False, seed=7, noise=2.0)
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.time_base = Fraction(1, 90000)
        if rotate:
            v.set_display_rotation(rotate)  # counter-clockwise, as phones store it
        a = None
        if audio:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        t = 0.0
        for i in range(frames):
            img = (
                src.render(i)
                if face
                else np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 8, (h, w, 3), dtype=np.uint8)
            )
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            vf.pts = round(t * 90000)
            vf.time_base = Fraction(1, 90000)
            for p in v.encode(vf):
                out.mux(p)
            t += (1.0 / fps) * (1.5 if vfr and i % 2 else 0.5 if vfr else 1.0)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            n = round(t * 48000)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = tone[start : start + 1024].reshape(1, -1)
                af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                af.sample_rate = 48000
                af.pts = start
                af.time_base = Fraction(1, 48000)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [(float(f.time), f.to_ndarray(format="bgr24")) for f in c.decode(v)]
    with av.open(str(path)) as c:
        audio = None
        if c.streams.audio:
            a = c.streams.audio[0]
            samples = sum(f.samples for f in c.decode(a))
            audio = {"codec": a.codec_context.name, "seconds": samples / a.codec_context.sample_rate}
        rate = float(c.streams.video[0].average_rate or 0)
    return {"times": [t for t, _ in frames], "images": [im for _, im in frames], "audio": audio, "fps": rate}
