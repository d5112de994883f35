"""Runs the mesh swapper on the bundled photos and scores it with the judge.

Shared by the quality tests and tools/eval_quality.py, so that the numbers the tool prints
are the ones the tests assert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from realtime.faces.analysis import FaceAnalyzer
from realtime.frame import Frame
from realtime.swap.mesh.photo import SourceFace, prepare_source
from realtime.swap.mesh.swapper import MeshSettings, MeshSwapper
from tools.quality.judge import (
    PHOTOS,
    Judge,
    face_region,
    flicker_ratio,
    judge_sequence,
    judge_still,
    load_photo,
    moving_sequence,
    noisy_still,
    seam_energy,
)

DIRECTIONS = (("astronaut", "grace_hopper"), ("grace_hopper", "astronaut"))


def run_sequence(
    frames: Sequence[np.ndarray], processors: Sequence[Callable[[Frame], Frame]], fps: float = 30.0
) -> list[np.ndarray]:
    """Frames through a processor chain (FaceAnalyzer then MeshSwapper) as a live stream at
    ``fps``; the output images."""
    out = []
    for i, img in enumerate(frames):
        fr = Frame(i, i / fps, np.ascontiguousarray(img), pts=i / fps)
        for p in processors:
            fr = p(fr)
        out.append(fr.image)
    return out


def sources(analyzer: FaceAnalyzer) -> dict[str, SourceFace]:
    return {name: prepare_source(path, analyzer=analyzer) for name, path in PHOTOS.items()}


def swap_still(
    analyzer: FaceAnalyzer, source: SourceFace, target: np.ndarray, settings: MeshSettings
) -> np.ndarray:
    """One still swapped the way ``swap_image`` does it."""
    faces = analyzer.analyze_image(target)
    return MeshSwapper(source, settings)(Frame(0, 0.0, np.ascontiguousarray(target), tuple(faces))).image


def swap_stream(
    analyzer: FaceAnalyzer, source: SourceFace, frames: Sequence[np.ndarray], settings: MeshSettings
) -> list[np.ndarray]:
    """A clip swapped as a live stream, with a tracker and a swapper of its own (no clip
    inherits another's tracks, smoothing or memory of the face)."""
    return run_sequence(frames, [FaceAnalyzer(analyzer.settings), MeshSwapper(source, settings)])


def evaluate_direction(
    judge: Judge,
    analyzer: FaceAnalyzer,
    source: SourceFace,
    source_name: str,
    target_name: str,
    settings: MeshSettings,
    *,
    frames: int = 24,
    noise_frames: int = 16,
) -> dict[str, Any]:
    """Still identity and expression, the moving sequence and the noisy-still flicker of one
    direction (source photo -> target photo)."""
    s_img, t_img = load_photo(source_name), load_photo(target_name)
    out: dict[str, Any] = {"source": source_name, "target": target_name}
    still = judge_still(judge, s_img, t_img, swap_still(analyzer, source, t_img, settings))
    out["still"] = asdict(still)
    t_face = judge.face(t_img)
    assert t_face is not None
    if frames > 0:
        l, t, r, b = t_face.rect
        seq = list(moving_sequence(t_img, frames, ((l + r) / 2, (t + b) / 2)))
        res = swap_stream(analyzer, source, seq, settings)
        out["moving"] = asdict(judge_sequence(judge, s_img, seq, res))
    if noise_frames > 1:
        noisy = list(noisy_still(t_img, noise_frames))
        res = swap_stream(analyzer, source, noisy, settings)
        out["flicker"] = flicker_ratio(noisy, res, face_region(t_face.points, t_img.shape[:2]))
    return out


def seam_comparison(
    analyzer: FaceAnalyzer, source: SourceFace, target: np.ndarray, **options: Any
) -> dict[str, float]:
    """``seam_energy`` of the feather and the multi-band blend on one still (``options``:
    other ``MeshSettings`` fields, e.g. a weakened colour match that leaves a tone step)."""
    outs = [
        swap_still(analyzer, source, target, MeshSettings(blend_mode=mode, **options))
        for mode in ("feather", "multiband")
    ]
    feather, multiband = seam_energy(outs, target)
    return {"feather": feather, "multiband": multiband}
