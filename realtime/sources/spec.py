"""What a source is, as data: the plan's ``SourceSpec`` (``realtime.sources.registry`` makes
the source from it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceSpec:
    """Where frames come from. ``kind``: camera, video (a file or URL), image, synthetic.

    ``live``: read with the latest-wins policy at the source's pace (a camera, a stream, the
    demo); otherwise every frame is processed, in order (file and still mode)."""

    kind: str
    target: str | None = None
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    live: bool = True
    loop: bool = False
    until: float | None = None  # video: end at this media time (a looped file job's --duration)
    api: str | None = None  # OpenCV capture backend (camera)
    faces: int = 1  # synthetic: people in the scene
    precompute: int = 0  # synthetic: frames rendered ahead
    face_scale: float = 1.0  # synthetic: relative size of each person (small: far away)
    seed: int = 0
