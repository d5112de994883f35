"""The source registry: a ``SourceSpec.kind`` -> the function that makes its source from the
spec; ``register_source`` adds one, ``make_source`` is what ``realtime.build`` calls.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime.errors import ConfigError
from realtime.sources.base import Source
from realtime.sources.camera import CameraSource
from realtime.sources.image import ImageSource
from realtime.sources.spec import SourceSpec
from realtime.sources.synthetic import SyntheticSource
from realtime.sources.video import VideoSource

SourceFactory = Callable[[SourceSpec], Source]
SOURCES: dict[str, SourceFactory] = {}


def register_source(kind: str, factory: SourceFactory) -> None:
    """Make sources of ``SourceSpec(kind=...)`` with ``factory(spec)``."""
    SOURCES[kind] = factory


def make_source(spec: SourceSpec) -> Source:
    """The frame source the spec names, not yet opened."""
    factory = SOURCES.get(spec.kind)
    if factory is None:
        raise ConfigError(f"unknown source kind {spec.kind!r}", fix=f"use one of {', '.join(SOURCES)}")
    return factory(spec)


def _target(spec: SourceSpec) -> str:
    if spec.target is None:
        raise ConfigError(f"a {spec.kind} source needs a target")
    return spec.target


def _camera(spec: SourceSpec) -> Source:
    target = _target(spec)
    device: int | str = int(target) if target.isdigit() else target
    return CameraSource(device, width=spec.width, height=spec.height, fps=spec.fps, api=spec.api)


register_source("camera", _camera)
register_source("video", lambda s: VideoSource(_target(s), realtime=s.live, loop=s.loop, until=s.until))
register_source("image", lambda s: ImageSource(_target(s), fps=s.fps, once=not s.live))
register_source(
    "synthetic",
    lambda s: SyntheticSource(
        width=s.width,
        height=s.height,
        fps=s.fps,
        live=s.live,
        seed=s.seed,
        faces=s.faces,
        precompute=s.precompute,
        face_scale=s.face_scale,
    ),
)
