"""The source face: prepared once from one or more photos, then drawn onto every target.

Preparation finds the face, keeps a texture crop around it, its 468-point mesh in that crop,
a triangulation of its frontal layout and the per-point weights of the geometry blend, so
the per-frame work is only the warp, the colour match and the blend.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from realtime.errors import InputError, NoFaceError
from realtime.faces.analysis import FaceAnalyzer
from realtime.frame import Face
from realtime.images import load_image
from realtime.swap.mesh.geometry import ShapeWeights, shape_weights
from realtime.swap.mesh.masks import EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS, LIPS_INNER, fill
from realtime.swap.mesh.warp import frontal_layout, triangulate

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)

# Margin of the texture crop around the mesh, as a fraction of the mesh's size: room for
# bilinear sampling at the outline.
CROP_MARGIN = 0.1
# Inter-ocular distance (pixels) from which a source photo counts as full resolution.
FULL_RES_IOD = 60.0
# The smallest face (pixels) kept in the texture pyramid, and the step between its levels.
MIN_LEVEL_PX = 48.0
LEVEL_STEP = math.sqrt(2.0)


def read_image(path: Path) -> np.ndarray:
    """A photo as an HxWx3 uint8 BGR array, or ``InputError`` saying why it cannot be read.

    It goes through ``load_image``, so a photo too large to decode safely is refused from
    its header before any memory is spent on it.
    """
    return load_image(path, what="photo")


@dataclass(frozen=True)
class SourceFace:
    """One prepared source face. Immutable (its arrays are read-only), so a swapper can switch
    to another one between frames by swapping a single reference."""

    texture: np.ndarray  # (h, w, 3) uint8 BGR crop, the mouth's interior filled with lip tone
    mesh: np.ndarray  # (468, 3) float32 in texture pixels
    triangles: np.ndarray  # (T, 3) int32 over the mesh points
    weights: ShapeWeights
    score: float  # the quality it was chosen by (see ``source_quality``)
    path: Path | None = None
    # The texture shrunk by steps of sqrt(2) (area-averaged): a smaller target samples the
    # level just above its own size, since bilinear sampling of a much larger texture aliases
    # (and shimmers in motion), while a level much smaller than needed blurs the face.
    levels: tuple[np.ndarray, ...] = field(init=False, repr=False)
    scales: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base = np.ascontiguousarray(self.texture)
        levels, scales = [base], [1.0]
        h, w = base.shape[:2]
        k = 1
        while self.size * LEVEL_STEP**-k >= MIN_LEVEL_PX and min(h, w) * LEVEL_STEP**-k >= 8:
            f = LEVEL_STEP**-k
            size = (max(1, round(w * f)), max(1, round(h * f)))
            levels.append(cv2.resize(base, size, interpolation=cv2.INTER_AREA))
            scales.append(size[0] / w)
            k += 1
        object.__setattr__(self, "levels", tuple(levels))
        object.__setattr__(self, "scales", tuple(scales))
        for a in (*levels, self.mesh, self.triangles):
            a.flags.writeable = False

    @property
    def size(self) -> float:
        """The face's size in texture pixels: the larger side of its mesh box."""
        return float(max(np.ptp(self.mesh[:, 0]), np.ptp(self.mesh[:, 1])))

    def level_for(self, target_size: float) -> tuple[np.ndarray, float]:
        """The pyramid level to draw a face ``target_size`` pixels big from, and its scale."""
        ratio = self.size / max(target_size, 1.0)
        steps = math.floor(math.log(max(ratio, 1.0), LEVEL_STEP) + 1e-6)
        lvl = int(np.clip(steps, 0, len(self.levels) - 1))
        return self.levels[lvl], self.scales[lvl]


def source_quality(face: Face) -> float:
    """Detection score times frontality times resolution: which photo of several to keep.

    Frontality is the cosine of the head's yaw estimated from the mesh's depth across the
    eyes, resolution saturates at ``FULL_RES_IOD`` pixels between the eyes.
    """
    assert face.mesh is not None
    m = face.mesh.astype(np.float64)
    left = m[list(EYE_LEFT_CORNERS)].mean(axis=0)
    right = m[list(EYE_RIGHT_CORNERS)].mean(axis=0)
    iod = float(np.linalg.norm((right - left)[:2]))
    yaw = math.atan2(abs(float(right[2] - left[2])), max(iod, 1e-6))
    return float(face.score) * math.cos(yaw) * min(1.0, iod / FULL_RES_IOD)


def build_source(image: np.ndarray, face: Face, score: float, path: Path | None = None) -> SourceFace:
    """A ``SourceFace`` from a photo and one of its faces (which must carry a mesh)."""
    if face.mesh is None or face.mesh.shape[0] < 468:
        raise InputError("the source face has no 468-point mesh", fix="analyse it with FaceAnalyzer")
    mesh = face.mesh.astype(np.float32).copy()
    h, w = image.shape[:2]
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    pad = CROP_MARGIN * float(max(hi - lo))
    x0, y0 = (int(max(0, math.floor(v - pad))) for v in lo)
    x1 = int(min(w, math.ceil(hi[0] + pad)))
    y1 = int(min(h, math.ceil(hi[1] + pad)))
    texture = np.ascontiguousarray(image[y0:y1, x0:x1])
    mesh[:, 0] -= x0
    mesh[:, 1] -= y0
    # An open mouth in the photo would leave its teeth on a target whose lips are closed:
    # paint the interior from the lips around it (the target's own mouth replaces it anyway).
    inner = fill(texture.shape[:2], mesh[LIPS_INNER])
    if inner.any():
        inner = cv2.dilate(inner, np.ones((3, 3), np.uint8))
        radius = max(3.0, 0.02 * float(max(hi - lo)))
        texture = cv2.inpaint(texture, inner, radius, cv2.INPAINT_TELEA)
    layout = frontal_layout(mesh)
    return SourceFace(
        texture=texture,
        mesh=mesh,
        triangles=triangulate(layout),
        weights=shape_weights(layout),
        score=float(score),
        path=path,
    )


def prepare_source(
    paths: Sequence[Path] | Path,
    face_index: int | None = None,
    *,
    analyzer: FaceAnalyzer | None = None,
) -> SourceFace:
    """The source face from one or several photos of the same person.

    Each photo gives its largest face (or the ``face_index``-th largest); of several photos
    the best by ``source_quality`` is kept. Raises ``NoFaceError`` when no photo has a face
    and ``InputError`` for a missing/unreadable photo or a bad ``face_index``.
    """
    if isinstance(paths, (str, Path)):
        paths = [Path(paths)]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no source photo given", fix="pass --face PHOTO")
    if face_index is not None and face_index < 0:
        raise InputError(f"face_index must be >= 0, got {face_index}", fix="0 is the largest face")
    if analyzer is None:
        analyzer = FaceAnalyzer()
    best: tuple[float, np.ndarray, Face, Path] | None = None
    faceless: list[str] = []
    for path in paths:
        image = read_image(path)
        faces = analyzer.analyze_image(image)
        faces = [f for f in faces if f.mesh is not None]
        if not faces:
            faceless.append(str(path))
            continue
        if face_index is None:
            if len(faces) > 1:
                log.warning(
                    "%s has %d faces; using the largest (choose another with face_index)",
                    path,
                    len(faces),
                )
            face = faces[0]
        elif face_index < len(faces):
            face = faces[face_index]
        else:
            raise InputError(
                f"{path} has {len(faces)} face(s), face_index {face_index} is out of range",
                fix=f"use a face_index from 0 to {len(faces) - 1}",
            )
        q = source_quality(face)
        log.info("source candidate %s: quality %.3f", path, q)
        if best is None or q > best[0]:
            best = (q, image, face, path)
    if best is None:
        names = ", ".join(faceless)
        raise NoFaceError(
            f"no face found in the source photo{'s' if len(faceless) > 1 else ''} {names}",
            fix="use a clear, well-lit photo with the face looking at the camera",
        )
    if faceless:
        log.warning("no face found in %s; ignored", ", ".join(faceless))
    q, image, face, path = best
    if len(paths) > 1:
        log.info("source face taken from %s (quality %.3f)", path, q)
    return build_source(image, face, q, path)
