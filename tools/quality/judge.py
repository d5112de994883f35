"""An independent judge of swap quality: dlib's face recognition and 68-point models.

The swapper never sees these models at run time, so they measure the result without
sharing its blind spots. Used by tools/eval_quality.py and the quality tests in tests/swap.

- identity score = d(R, T) / (d(R, S) + d(R, T)), d the dlib descriptor distance: above 0.5
  the result looks more like the source than like the target;
- expression: mouth-opening and eye-opening ratios of the result vs the target;
- flicker: frame-to-frame change inside the face of the output over that of the input.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parents[2] / "realtime" / "assets" / "faces"
PHOTOS = {"astronaut": ASSETS / "astronaut.jpg", "grace_hopper": ASSETS / "grace_hopper.jpg"}


def _model_dir() -> Path:
    """face_recognition_models' data folder, found without importing the package (its
    ``__init__`` needs ``pkg_resources``, which recent setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@dataclass(frozen=True)
class JudgedFace:
    rect: tuple[int, int, int, int]  # left, top, right, bottom
    points: np.ndarray  # (68, 2) float64
    descriptor: np.ndarray  # (128,) float64


class Judge:
    """dlib's HOG detector, 68-point shape predictor and ResNet face descriptor."""

    def __init__(self) -> None:
        import dlib

        d = _model_dir()
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(d / "shape_predictor_68_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat"))

    def face(self, image_bgr: np.ndarray, hint: tuple[int, int, int, int] | None = None) -> JudgedFace | None:
        """The largest face (or, when none is detected, the face in ``hint``)."""
        dlib = self._dlib
        rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
        dets = list(self.detector(rgb, 1))
        if dets:
            r = max(dets, key=lambda d: d.area())
        elif hint is not None:
            r = dlib.rectangle(*hint)
        else:
            return None
        shape = self.predictor(rgb, r)
        pts = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        desc = np.array(self.encoder.compute_face_descriptor(rgb, shape), np.float64)
        return JudgedFace((r.left(), r.top(), r.right(), r.bottom()), pts, desc)


def distance(a: JudgedFace, b: JudgedFace) -> float:
    return float(np.linalg.norm(a.descriptor - b.descriptor))


def identity_score(result: JudgedFace, source: JudgedFace, target: JudgedFace) -> float:
    """d(R, T) / (d(R, S) + d(R, T)): 1 = the source's identity, 0 = the target's."""
    ds, dt = distance(result, source), distance(result, target)
    return dt / max(ds + dt, 1e-12)


def mouth_open_ratio(p: np.ndarray) -> float:
    """Mean inner-lip gap (points 61-67, 62-66, 63-65) over the inner mouth width (60-64)."""
    gap = np.linalg.norm(p[[61, 62, 63]] - p[[67, 66, 65]], axis=1).mean()
    return float(gap / max(np.linalg.norm(p[60] - p[64]), 1e-9))


def eye_open_ratio(p: np.ndarray) -> float:
    """The eye aspect ratio (lid gaps over eye width) averaged over both eyes."""
    out = []
    for e in (36, 42):
        gap = np.linalg.norm(p[[e + 1, e + 2]] - p[[e + 5, e + 4]], axis=1).mean()
        out.append(gap / max(np.linalg.norm(p[e] - p[e + 3]), 1e-9))
    return float(np.mean(out))


def face_region(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the face: the hull of the 68 points, which spans jaw and brows."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask > 0


def flicker_ratio(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], region: np.ndarray) -> float:
    """Mean |frame-to-frame difference| in ``region`` of the output over that of the input."""

    def mean_diff(frames: Sequence[np.ndarray]) -> float:
        diffs = [
            np.abs(b.astype(np.float32) - a.astype(np.float32))[region].mean()
            for a, b in zip(frames[:-1], frames[1:])
        ]
        return float(np.mean(diffs))

    return mean_diff(outputs) / max(mean_diff(inputs), 1e-9)


def moving_sequence(image: np.ndarray, n: int, center: tuple[float, float]) -> Iterator[np.ndarray]:
    """``n`` frames of a photo moving smoothly: rotation ±10°, scale ±8 %, shift ±6 % of the
    width / ±4 % of the height, each on its own period so the motion never repeats exactly."""
    h, w = image.shape[:2]
    for i in range(n):
        t = 2 * math.pi * i / n
        m = cv2.getRotationMatrix2D(center, 10 * math.sin(t), 1 + 0.08 * math.sin(2 * t + 1))
        m[0, 2] += 0.06 * w * math.sin(t + 0.5)
        m[1, 2] += 0.04 * h * math.cos(1.5 * t)
        yield cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def noisy_still(image: np.ndarray, n: int, sigma: float = 3.0, seed: int = 0) -> Iterator[np.ndarray]:
    """``n`` copies of a photo, each with fresh Gaussian noise of ``sigma`` grey levels."""
    rng = np.random.default_rng(seed)
    base = image.astype(np.float32)
    for _ in range(n):
        yield np.clip(base + rng.normal(0.0, sigma, image.shape), 0, 255).round().astype(np.uint8)


@cache
def load_photo(name: str) -> np.ndarray:
    img = cv2.imread(str(PHOTOS[name]))
    if img is None:
        raise FileNotFoundError(PHOTOS[name])
    img.flags.writeable = False
    return img


@dataclass(frozen=True)
class StillReport:
    identity: float
    d_source: float
    d_target: float
    mouth_result: float
    mouth_target: float
    eyes_result: float
    eyes_target: float


def judge_still(judge: Judge, source: np.ndarray, target: np.ndarray, result: np.ndarray) -> StillReport:
    """Identity and expression of one swapped still."""
    s = judge.face(source)
    t = judge.face(target)
    if s is None or t is None:
        raise RuntimeError("the judge found no face in the source or target photo")
    r = judge.face(result, hint=t.rect)
    assert r is not None
    return StillReport(
        identity=identity_score(r, s, t),
        d_source=distance(r, s),
        d_target=distance(r, t),
        mouth_result=mouth_open_ratio(r.points),
        mouth_target=mouth_open_ratio(t.points),
        eyes_result=eye_open_ratio(r.points),
        eyes_target=eye_open_ratio(t.points),
    )


@dataclass(frozen=True)
class SequenceReport:
    frames: int
    closer_to_source: float  # fraction of frames with d(R, S) < d(R, T)
    identity_mean: float
    mouth_error_mean: float  # mean |mouth ratio R - T| over frames
    mouth_error_max: float
    swapped: float  # fraction of frames in which the output differs from the input


def judge_sequence(
    judge: Judge, source: np.ndarray, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
) -> SequenceReport:
    """Per-frame identity of a swapped sequence against the source photo and each input."""
    s = judge.face(source)
    if s is None:
        raise RuntimeError("the judge found no face in the source photo")
    closer, ids, mouth_err, swapped = [], [], [], []
    for t_img, r_img in zip(inputs, outputs):
        t = judge.face(t_img)
        if t is None:
            continue
        r = judge.face(r_img, hint=t.rect)
        assert r is not None
        closer.append(distance(r, s) < distance(r, t))
        ids.append(identity_score(r, s, t))
        mouth_err.append(abs(mouth_open_ratio(r.points) - mouth_open_ratio(t.points)))
        swapped.append(not np.array_equal(t_img, r_img))
    n = len(closer)
    return SequenceReport(
        frames=n,
        closer_to_source=float(np.mean(closer)) if n else 0.0,
        identity_mean=float(np.mean(ids)) if n else 0.0,
        mouth_error_mean=float(np.mean(mouth_err)) if n else math.inf,
        mouth_error_max=float(np.max(mouth_err)) if n else math.inf,
        swapped=float(np.mean(swapped)) if n else 0.0,
    )


def seam_energy(
    results: Sequence[np.ndarray], target: np.ndarray, core: float = 0.2, sigma: float = 2.0
) -> list[float]:
    """How much edge each result adds where its blend fades out, relative to the target.

    The zone compared is the same for all results: every pixel any of them changed, less a
    core deeper than ``core`` times the face's size inside the first one's changed region
    (where all are fully swapped). Gradients are taken on a blurred luma (``sigma``) so that
    texture and noise count less than a seam's step. Lower is smoother; 1.0 is the target's.
    """
    changed = [np.any(r != target, axis=2).astype(np.uint8) for r in results]
    union = np.bitwise_or.reduce(changed)
    size = math.sqrt(max(int(changed[0].sum()), 1))
    deep = cv2.distanceTransform(changed[0], cv2.DIST_L2, cv2.DIST_MASK_3) > core * size
    zone = (union > 0) & ~deep
    if not zone.any():
        return [1.0 for _ in results]

    def energy(img: np.ndarray) -> float:
        y = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32), (0, 0), sigma)
        gx, gy = cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)
        return float(np.hypot(gx, gy)[zone].mean())

    base = max(energy(target), 1e-6)
    return [energy(r) / base for r in results]
