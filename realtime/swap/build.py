"""Building a neural swapper (and its optional enhancer) from the settings.

The identity comes from the ``--face`` photos through our own face analysis: the largest face
(or ``--face-index``) of the best photo gives the image and the 5 keypoints the recognizer
aligns with. ``--reference`` photos are embedded once, here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ConfigError, InputError, NoFaceError
from realtime.frame import Face
from realtime.processor import Processor
from realtime.sources.image import load_image

log = logging.getLogger(__name__)


def largest_face(paths: list[Path], analyzer: Any, face_index: int | None) -> tuple[np.ndarray, Face]:
    """(photo, face) of the biggest face found across ``paths`` (or the ``face_index``-th)."""
    best: tuple[float, np.ndarray, Face] | None = None
    for path in paths:
        image = load_image(path)
        faces = analyzer.analyze_image(image)
        if not faces:
            log.warning("no face found in %s", path)
            continue
        if face_index is not None and face_index >= len(faces):
            raise InputError(
                f"{path} has {len(faces)} face(s), --face-index {face_index} is out of range",
                fix=f"use 0 to {len(faces) - 1}",
            )
        face = faces[face_index or 0]
        score = face.score * face.area
        if best is None or score > best[0]:
            best = (score, image, face)
    if best is None:
        raise NoFaceError(
            f"no face found in {', '.join(str(p) for p in paths)}",
            fix="use a clear, well-lit photo with the face looking at the camera",
        )
    return best[1], best[2]


def remote_options(settings: Any) -> dict[str, Any]:
    """``SessionOptions`` fields for ``--remote``: the server URL, and the time a call may
    take: two frames live (then the newest frame wins), ten seconds in a file job."""
    remote = getattr(settings, "remote", None)
    if not remote:
        return {}
    from realtime.app import mode_of

    budget = 2000.0 / settings.source.fps if mode_of(settings) == "live" else 10000.0
    return {"remote": remote, "remote_budget_ms": budget}


def build_neural_swapper(
    name: str, face_paths: list[Path], settings: Any, analyzer: Any, on_build: Any = None
) -> Processor:
    """The ``NeuralSwapper`` for ``name``, wrapped with the enhancer when one is asked for."""
    from realtime.inference.session import SessionOptions
    from realtime.swap.neural import NeuralSwapper

    image, face = largest_face(face_paths, analyzer, settings.face_index)
    options = SessionOptions(threads=1, on_build=on_build, **remote_options(settings))
    common: dict[str, Any] = {"prefer": settings.provider, "options": options}
    reference = None
    if settings.face_select == "reference":
        if not settings.reference:
            raise ConfigError("--face-select reference needs --reference PHOTO")
        from realtime.faces.recognize import ArcFaceRecognizer

        rec = ArcFaceRecognizer.from_models_dir(
            settings.models_dir, trust_unverified=settings.trust_unverified, **common
        )
        ref_image, ref_face = largest_face([Path(p) for p in settings.reference], analyzer, None)
        reference = rec.embed(ref_image, ref_face.kps)[1]
    elif settings.reference:
        raise ConfigError("--reference is only used with --face-select reference")
    swapper = NeuralSwapper.from_models_dir(
        name,
        image,
        face.kps,
        settings.models_dir,
        trust_unverified=settings.trust_unverified,
        face_select=settings.face_select,
        reference_embedding=reference,
        **common,
    )
    return swapper


def build_enhancer(settings: Any, on_build: Any = None) -> Processor:
    """The face enhancer, run on every ``enhance_every``-th frame (its cost shows in stats)."""
    from realtime.inference.session import SessionOptions
    from realtime.swap.enhance import FaceEnhancer
    from realtime.swap.every_nth import EveryNth

    enhancer = FaceEnhancer.from_models_dir(
        settings.models_dir,
        settings.enhance,
        prefer=settings.provider,
        options=SessionOptions(threads=1, on_build=on_build, **remote_options(settings)),
    )
    if settings.enhance_every > 1:
        return EveryNth(enhancer, settings.enhance_every)
    return enhancer
