"""Building a neural swapper from the settings.

The identity comes from the ``--face`` photos through our own face analysis: the largest face
(or ``--face-index``) of the best photo gives the image and the 5 keypoints the recognizer
aligns with. ``--reference`` photos are embedded once, here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import InputError, NoFaceError
from realtime.faces.recognize import ArcFaceRecognizer
from realtime.frame import Face
from realtime.images import load_image, photos_of
from realtime.processor import Processor
from realtime.swap.config import SwapConfig
from realtime.swap.neural.identity import ReferenceFilter
from realtime.swap.neural.swapper import NeuralSwapper

log = logging.getLogger(__name__)


def largest_face(paths: list[Path], analyzer: Any, face_index: int | None) -> tuple[np.ndarray, Face]:
    """(photo, face) of the biggest face found across ``paths`` (or the ``face_index``-th)."""
    best: tuple[float, np.ndarray, Face] | None = None
    for path in paths:
        image = load_image(path, what="photo")
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


def embed_reference(config: SwapConfig, analyzer: Any, on_build: Any = None) -> tuple[Any, np.ndarray]:
    """(recognizer, normalised embedding) of the ``--reference`` photos' largest face."""
    rec = ArcFaceRecognizer.load(config.models, on_build=on_build)
    ref_image, ref_face = largest_face([Path(p) for p in config.reference], analyzer, None)
    return rec, rec.embed(ref_image, ref_face.kps)[1]


def reference_filter(
    config: SwapConfig, analyzer: Any, swapper: Any, on_build: Any = None
) -> ReferenceFilter:
    """``swapper`` run on the faces that look like the ``--reference`` photos' person only."""
    recognizer, reference = embed_reference(config, analyzer, on_build)
    return ReferenceFilter(swapper, recognizer, reference)


def build_neural_swapper(name: str, config: SwapConfig, analyzer: Any, on_build: Any = None) -> Processor:
    """The ``NeuralSwapper`` for ``name``."""
    # A folder is one person's photos: the best of them (a neural swapper draws one identity).
    photos = [photo for entry in config.faces for photo in photos_of(entry)]
    image, face = largest_face(photos, analyzer, config.face_index)
    reference = embed_reference(config, analyzer, on_build)[1] if config.pick == "reference" else None
    return NeuralSwapper.load(
        config.models,
        name,
        image,
        face.kps,
        on_build=on_build,
        pick=config.pick,
        reference_embedding=reference,
    )
