"""Several photos of one person, the one drawn chosen per frame by head pose and size.

``--face FOLDER`` gives one person all the photos in the folder (``--face me/``, with
``me/front.jpg``, ``me/left.jpg``, ``me/up.jpg`` ...). One photo can only be drawn well near the
pose it was taken in: a face turned 30 degrees away needs the side of the face that a frontal
photo stretches. Each frame, each person gets the photo whose head pose is nearest the live
face's, a photo smaller than the live face costing as much as some pose (it would be soft).
A track keeps its photo until another is clearly nearer (``MARGIN``), so the face does not
flicker between two photos at a pose halfway between them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from realtime.errors import InputError, NoFaceError
from realtime.images import photos_of
from realtime.swap.mesh.photo import SourceFace, prepare_source

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)

# FaceMesh points: the nose tip, the outer eye corners, the chin.
NOSE, EYE_A, EYE_B, CHIN = 1, 33, 263, 152
MARGIN = 0.08  # how much nearer (in pose units) another photo must be to take over a track
SIZE_WEIGHT = 0.25  # pose units a photo costs when it is half the live face's size


def head_pose(mesh: np.ndarray) -> np.ndarray:
    """(turn, tilt) of a face from its landmarks, both about 0 for a frontal face: ``turn`` is
    how far the nose tip sits from the middle of the eyes, across, in eye distances (about
    +-0.5 at 30 degrees); ``tilt`` the same down the face, from its usual place. Roll is
    taken out first, so a tilted head is not read as turned."""
    pts = np.asarray(mesh, np.float64)[:, :2]
    a, b = pts[EYE_A], pts[EYE_B]
    mid, axis = (a + b) / 2.0, b - a
    dist = max(float(np.hypot(*axis)), 1e-6)
    across = axis / dist
    down = np.array([-across[1], across[0]])
    if np.dot(pts[CHIN] - mid, down) < 0:  # the chin is below the eyes, whatever the order
        down = -down
    nose = pts[NOSE] - mid
    chin = max(float(np.dot(pts[CHIN] - mid, down)), 1e-6)
    return np.array([np.dot(nose, across) / dist, np.dot(nose, down) / chin - 0.45])


class Variants:
    """The photos of one person with their head poses; ``pick`` says which to draw."""

    def __init__(self, faces: Sequence[SourceFace]) -> None:
        if not faces:
            raise InputError("a person needs at least one photo", fix="pass --face PHOTO")
        self.faces = tuple(faces)
        self.poses = np.stack([head_pose(f.mesh) for f in self.faces])
        self.sizes = np.array([f.size for f in self.faces], np.float64)

    def __len__(self) -> int:
        return len(self.faces)

    def costs(self, mesh: np.ndarray, size: float) -> np.ndarray:
        """How poorly each photo fits a live face of landmarks ``mesh`` and ``size`` pixels."""
        pose = np.linalg.norm(self.poses - head_pose(mesh), axis=1)
        short = np.clip(np.log2(np.maximum(size, 1.0) / self.sizes), 0.0, None)  # smaller: softer
        return pose + SIZE_WEIGHT * short

    def pick(self, mesh: np.ndarray, size: float, current: int | None = None) -> int:
        """The photo to draw for this face; ``current`` (the track's photo) is kept unless
        another is nearer by more than ``MARGIN``."""
        if len(self.faces) == 1:
            return 0
        cost = self.costs(mesh, size)
        best = int(np.argmin(cost))
        if current is not None and 0 <= current < len(cost) and cost[current] <= cost[best] + MARGIN:
            return current
        return best


def prepare_cast(
    faces: Sequence[Path] | Path, face_index: int | None = None, *, analyzer: FaceAnalyzer | None = None
) -> list[list[SourceFace]]:
    """The photos of each person, in the given order (``realtime.swap.mesh.cast`` maps them
    to people): a photo is one person, a folder one person in several photos
    (``realtime.swap.mesh.variants``)."""
    entries = [Path(faces)] if isinstance(faces, (str, Path)) else [Path(p) for p in faces]
    people = []
    for entry in entries:
        photos = photos_of(entry)
        if len(photos) == 1:
            people.append([prepare_source(photos, face_index, analyzer=analyzer)])
            continue
        found = []
        for photo in photos:  # a folder: every photo with a face (one without is said)
            try:
                found.append(prepare_source([photo], face_index, analyzer=analyzer))
            except NoFaceError as exc:
                log.warning("%s: ignored", exc)
        if not found:
            raise NoFaceError(f"no face found in the photos of {entry}", fix="add clear photos of the face")
        log.info("%s: %d photos of one person, drawn by head pose", entry, len(found))
        people.append(found)
    return people


def people_of(source: SourceFace | Sequence[SourceFace | Sequence[SourceFace]]) -> tuple[Variants, ...]:
    """Each person's photos from one face, one face per person, or several per person."""
    items = [source] if isinstance(source, SourceFace) else list(source)
    if not items:
        raise InputError("the mesh swapper needs a source face", fix="pass --face PHOTO")
    return tuple(Variants([item] if isinstance(item, SourceFace) else list(item)) for item in items)
