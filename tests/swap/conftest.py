"""Fixtures of the mesh-swapper tests: one face analyser, the prepared bundled faces, and the
meshes of the bundled photos (analysed once per session; the models are slow to open)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.frame import Face
from realtime.swap.mesh.photo import SourceFace
from tools.quality.harness import sources
from tools.quality.judge import PHOTOS, Judge, JudgedFace, load_photo


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="session")
def bundled_sources(analyzer: FaceAnalyzer) -> dict[str, SourceFace]:
    return sources(analyzer)


@pytest.fixture(scope="session")
def photo_faces(analyzer: FaceAnalyzer) -> dict[str, tuple[np.ndarray, Face]]:
    """Each bundled photo with its largest analysed face."""
    out = {}
    for name in PHOTOS:
        img = load_photo(name)
        faces = analyzer.analyze_image(img)
        assert faces, f"no face found in the bundled photo {name}"
        out[name] = (img, faces[0])
    return out


@pytest.fixture(scope="session")
def grace_hopper() -> tuple[np.ndarray, JudgedFace]:
    """Grace Hopper's photo, the target of the object and grain tests, and the judge's face
    of it (dlib's 68 points place the objects and bound the measures)."""
    target = load_photo("grace_hopper")
    target.flags.writeable = False  # shared by the session's tests: none may draw on it
    face = Judge().face(target)
    assert face is not None
    return target, face
