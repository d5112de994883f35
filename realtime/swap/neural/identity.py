"""Which faces to swap: the largest one, all of them, or those that look like a reference person.

``reference`` compares ArcFace embeddings by cosine similarity. For w600k_r50, photos of the
same person typically score well above 0.4 and different people near 0 to 0.3, so 0.4 is
the default threshold; FaceFusion's default (a distance of 0.3, i.e. similarity 0.7) is
stricter and misses the same person under webcam lighting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from realtime.errors import ConfigError
from realtime.frame import Face, Frame
from realtime.swap.config import FACE_SELECT

DEFAULT_THRESHOLD = 0.4


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"embeddings differ in size: {a.shape[0]} vs {b.shape[0]}")
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(a @ b / (na * nb))


def select_by_reference(
    faces: Sequence[Face], ref_embedding: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> list[Face]:
    """The faces whose embedding's cosine similarity to ``ref_embedding`` exceeds ``threshold``.

    Every face must carry an embedding (run the recognizer first); a face without one is an
    error rather than silently skipped, because skipping would show the person unswapped.
    """
    out = []
    for f in faces:
        if f.embedding is None:
            raise ValueError("select_by_reference needs faces with embeddings; run the recognizer first")
        if cosine_similarity(f.embedding, ref_embedding) > threshold:
            out.append(f)
    return out


def select_faces(
    faces: Sequence[Face],
    mode: str,
    ref_embedding: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Face]:
    """The faces ``mode`` picks (``FACE_SELECT``): ``one`` (the largest face), ``many`` (all) or
    ``reference`` (those that look like ``ref_embedding``)."""
    if mode not in FACE_SELECT:
        raise ConfigError(f"unknown face pick {mode!r}", fix=f"choose one of {', '.join(FACE_SELECT)}")
    if not faces:
        return []
    if mode == "many":
        return list(faces)
    if mode == "one":
        return [max(faces, key=lambda f: f.area)]
    if ref_embedding is None:
        raise ConfigError("picking by reference needs a reference face", fix="pass --reference PHOTO")
    return select_by_reference(faces, ref_embedding, threshold)


class ReferenceFilter:
    """Runs a swapper on the faces that look like the reference person only (a reference
    pick for swappers that do not select by identity themselves, such as the mesh)."""

    name = "swap"
    thread_safe = False

    def __init__(
        self, swapper: Any, recognizer: Any, reference: np.ndarray, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        self.swapper = swapper
        self.recognizer = recognizer
        self.reference = reference
        self.threshold = threshold

    def __getattr__(self, name: str) -> Any:  # set_source, reset, ... of the swapper
        return getattr(self.swapper, name)

    def __call__(self, frame: Frame) -> Frame:
        if not frame.faces:
            return frame
        faces = self.recognizer.embed_faces(frame.image, frame.faces)
        chosen = select_by_reference(faces, self.reference, self.threshold)
        if not chosen:
            return frame.with_faces(faces)
        out = self.swapper(frame.with_faces(tuple(chosen)))
        return out.with_faces(faces)  # keeps ``swapped``: the chosen faces are among ``faces``
