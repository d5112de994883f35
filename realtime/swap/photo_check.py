"""How a source photo will hold up as a swapped face, and what to do about it.

The mesh swapper draws the photo's own pixels onto the camera's face, so what is wrong with
the photo shows in every frame: a small face is soft next to the camera's (it has to be
enlarged), glasses and anything over the face are pasted on as texture, closed eyes stay
closed, a turned head stretches its far side, blur stays blur, and a hard light or clipped
highlights fight the camera's light. Each check measures one of these on the photo's
468-point mesh and pixels; ``realtime face check PHOTO`` prints them, and the same
report can be logged at start-up (``log_report``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from realtime.errors import InputError, NoFaceError
from realtime.frame import Face
from realtime.images import photos_of
from realtime.swap.mesh.masks import EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS, FACE_OVAL, fill, skin_mask
from realtime.swap.mesh.occlusion import find_occluders
from realtime.swap.mesh.photo import read_image

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)

# The face's size (larger side of its mesh box, pixels) in a 1280x720 webcam picture at
# about 60 cm: what a photo is drawn at in a typical call.
TYPICAL_CAMERA_FACE = 260.0
# Below this share of the camera's face size the swapped face is visibly softer (the
# quality benchmark's sharpness falls under 0.85 of the camera's).
SIZE_WARN = 0.85
# Eye opening (lid gap over eye width) under which eyes count as closed.
EYES_CLOSED = 0.12
# Head turn (degrees) from which the far side of the face is stretched when drawn frontally.
TURN_WARN = 20.0
# Detail (variance of the Laplacian of the face brought to 160 px) under which it is blurred.
BLUR_WARN = 30.0
# Share of skin pixels clipped to white or black, and the ratio of the two cheeks' brightness.
CLIPPED_WARN = 0.04
SIDE_LIGHT_WARN = 1.7
# Share of the face (outside eyes, brows, lips) that does not look like its skin.
COVERED_WARN = 0.03
# Horizontal over vertical edge strength on the nose bridge between the eyes: a bare nose
# has its edges along it (0.45-0.52 on the astronaut), a glasses' bridge runs across it
# (1.3 on Grace Hopper).
GLASSES_WARN = 0.9

# FaceMesh points: upper and lower lid of each eye, the nose bridge between the eyes.
LIDS = ((159, 145), (386, 374))
BRIDGE = 168


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    value: float
    message: str
    advice: str = ""


@dataclass(frozen=True)
class PhotoReport:
    path: str
    face_size: float
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "face_size": self.face_size,
            "ok": self.ok,
            "findings": [asdict(f) for f in self.findings],
        }


def _eye_opening(m: np.ndarray) -> float:
    out = []
    for (up, lo), (a, b) in zip(LIDS, (EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS)):
        width = float(np.linalg.norm(m[a, :2] - m[b, :2]))
        out.append(float(np.linalg.norm(m[up, :2] - m[lo, :2])) / max(width, 1e-6))
    return float(np.mean(out))


def _turn_degrees(m: np.ndarray) -> float:
    """Yaw from the depth difference across the eyes (as ``source_quality`` does)."""
    left = m[list(EYE_LEFT_CORNERS)].mean(axis=0)
    right = m[list(EYE_RIGHT_CORNERS)].mean(axis=0)
    iod = float(np.linalg.norm((right - left)[:2]))
    return math.degrees(math.atan2(abs(float(right[2] - left[2])), max(iod, 1e-6)))


def _face_crop(image: np.ndarray, m: np.ndarray, width: int = 160) -> np.ndarray:
    lo = np.floor(m[:, :2].min(axis=0)).astype(int)
    hi = np.ceil(m[:, :2].max(axis=0)).astype(int)
    x0, y0 = max(0, lo[0]), max(0, lo[1])
    crop = image[y0 : hi[1], x0 : hi[0]]
    if crop.size == 0:
        return crop
    f = width / crop.shape[1]
    return cv2.resize(crop, (width, max(1, round(crop.shape[0] * f))), interpolation=cv2.INTER_AREA)


def _across(gray: np.ndarray, centre: np.ndarray, r: int) -> float:
    """Mean |d/dy| over mean |d/dx| in a box of radius ``r``: edges across, not along."""
    x, y = int(centre[0]), int(centre[1])
    box = gray[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].astype(np.float32)
    if box.shape[0] < 3 or box.shape[1] < 3:
        return 0.0
    gy = float(np.abs(cv2.Sobel(box, cv2.CV_32F, 0, 1)).mean())
    gx = float(np.abs(cv2.Sobel(box, cv2.CV_32F, 1, 0)).mean())
    return gy / (gx + 1.0)


def check_face(image: np.ndarray, face: Face, camera_face: float = TYPICAL_CAMERA_FACE) -> list[Finding]:
    """Every check of one photo's face (which must carry a 468-point mesh)."""
    assert face.mesh is not None
    m = face.mesh.astype(np.float64)
    size = float(max(np.ptp(m[:, 0]), np.ptp(m[:, 1])))
    out = []
    share = size / camera_face
    out.append(
        Finding(
            "size",
            share >= SIZE_WARN,
            share,
            f"face is {size:.0f} px, {share:.2f} of a typical camera face ({camera_face:.0f} px at 720p)",
            ""
            if share >= SIZE_WARN
            else f"use a photo where the face is at least {SIZE_WARN * camera_face:.0f} px "
            "tall: an enlarged face looks softer than the camera's",
        )
    )
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    iod = float(np.linalg.norm(m[EYE_LEFT_CORNERS[0], :2] - m[EYE_RIGHT_CORNERS[0], :2]))
    ratio = _across(gray, m[BRIDGE, :2], max(3, round(0.1 * iod)))
    glasses = ratio >= GLASSES_WARN
    out.append(
        Finding(
            "glasses",
            not glasses,
            ratio,
            "glasses likely (frame edges across the nose bridge)" if glasses else "no glasses seen",
            "use a photo without glasses: they are drawn on as part of the skin" if glasses else "",
        )
    )
    eyes = _eye_opening(m)
    out.append(
        Finding(
            "eyes",
            eyes >= EYES_CLOSED,
            eyes,
            f"eyes {'closed' if eyes < EYES_CLOSED else 'open'} (opening {eyes:.2f})",
            "use a photo with open eyes, or set keep_eyes = true" if eyes < EYES_CLOSED else "",
        )
    )
    turn = _turn_degrees(m)
    out.append(
        Finding(
            "turn",
            turn < TURN_WARN,
            turn,
            f"head turned {turn:.0f} degrees",
            "use a photo looking at the camera: the far side of a turned face is stretched"
            if turn >= TURN_WARN
            else "",
        )
    )
    crop = _face_crop(gray, m)
    detail = float(cv2.Laplacian(crop, cv2.CV_32F).var()) if crop.size else 0.0
    out.append(
        Finding(
            "blur",
            detail >= BLUR_WARN,
            detail,
            f"detail {detail:.0f} (variance of the Laplacian at 160 px)",
            "use a sharper photo (in focus, no motion blur, not upscaled)" if detail < BLUR_WARN else "",
        )
    )
    h, w = image.shape[:2]
    skin = skin_mask(m, (h, w), (0, 0), 0.03 * size) > 0
    luma = gray[skin]
    clipped = float(((luma >= 250) | (luma <= 5)).mean()) if luma.size else 0.0
    sides = [gray[(fill((h, w), m[FACE_OVAL]) > 0) & skin & half] for half in _halves(m, (h, w))]
    lit = [float(s.mean()) if s.size else 0.0 for s in sides]
    side = max(lit) / max(min(lit), 1.0)
    harsh = clipped >= CLIPPED_WARN or side >= SIDE_LIGHT_WARN
    out.append(
        Finding(
            "light",
            not harsh,
            max(clipped / CLIPPED_WARN, side / SIDE_LIGHT_WARN),
            f"{clipped:.0%} of the skin clipped, one side {side:.1f}x brighter",
            "use a photo in soft, even light: hard shadows and blown highlights are drawn on"
            if harsh
            else "",
        )
    )
    x0, y0 = max(0, int(m[:, 0].min()) // 2 * 2), max(0, int(m[:, 1].min()) // 2 * 2)
    x1, y1 = min(w, int(m[:, 0].max()) + 2) // 2 * 2, min(h, int(m[:, 1].max()) + 2) // 2 * 2
    covered = 0.0
    if x1 - x0 >= 8 and y1 - y0 >= 8:
        patch = image[y0:y1, x0:x1]
        ycc = cv2.cvtColor(
            cv2.resize(patch, ((x1 - x0) // 2, (y1 - y0) // 2), interpolation=cv2.INTER_AREA),
            cv2.COLOR_BGR2YCrCb,
        )
        skin_half = skin_mask(m, ycc.shape[:2], (x0, y0), 0.02 * size, 0.5)
        occ = find_occluders(ycc, skin_half, face.mesh, face.mesh, (x0, y0), size, 4.0)
        if occ is not None and skin_half.any():
            covered = float((occ[skin_half > 0] > 0).mean())
    out.append(
        Finding(
            "covered",
            covered < COVERED_WARN,
            covered,
            f"{covered:.0%} of the face does not look like its skin (hair, a hand, a mask, shadow)",
            "use a photo with nothing over the face" if covered >= COVERED_WARN else "",
        )
    )
    return out


def _halves(m: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The image split along the face's vertical midline (nose bridge to chin)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    a, b = m[168, :2], m[152, :2]
    side = (b[0] - a[0]) * (yy - a[1]) - (b[1] - a[1]) * (xx - a[0])
    return side > 0, side <= 0


def photo_report(
    path: Path, analyzer: FaceAnalyzer | None = None, camera_face: float = TYPICAL_CAMERA_FACE
) -> PhotoReport:
    """The checks of the largest face in the photo at ``path``; ``NoFaceError`` when there
    is none, ``InputError`` when it cannot be read."""
    if analyzer is None:  # opening the face models takes a moment: only when asked
        from realtime.faces.analysis import FaceAnalyzer

        analyzer = FaceAnalyzer()
    image = read_image(Path(path))
    faces = [f for f in analyzer.analyze_image(image) if f.mesh is not None]
    if not faces:
        raise NoFaceError(
            f"no face found in {path}", fix="use a clear, well-lit photo with the face looking at the camera"
        )
    mesh = faces[0].mesh
    assert mesh is not None
    size = float(max(np.ptp(mesh[:, 0]), np.ptp(mesh[:, 1])))
    return PhotoReport(str(path), size, check_face(image, faces[0], camera_face))


def log_report(report: PhotoReport) -> None:
    """The report in the log: one line when the photo is fine, a warning per problem."""
    bad = [f for f in report.findings if not f.ok]
    if not bad:
        log.info("face photo %s looks fine (face %.0f px)", report.path, report.face_size)
    for f in bad:
        log.warning("face photo %s: %s; %s", report.path, f.message, f.advice)


def log_photo_checks(
    paths: list[Path] | tuple[Path, ...], analyzer: FaceAnalyzer | None = None
) -> list[PhotoReport]:
    """Check every ``--face`` photo and log what is found (for start-up: never raises; a
    photo that cannot be checked is left to ``prepare_source`` to refuse)."""
    reports = []
    for p in [photo for entry in paths for photo in _photos(entry)]:
        try:
            report = photo_report(Path(p), analyzer)
        except Exception as exc:  # the swap's own preparation reports unusable photos
            log.debug("face photo %s not checked: %r", p, exc)
            continue
        log_report(report)
        reports.append(report)
    return reports


def _photos(entry: Path) -> list[Path]:
    """A folder's photos (one person, ``realtime.images.photos_of``); nothing if it has none."""
    try:
        return photos_of(entry)
    except InputError:
        return []
