"""FaceMesh: 468 3-D landmarks on a face crop rotated upright, and the points derived from them.

The crop is a rotated square (``Roi``) around the face, upright along the eye line, so the
model always sees a level face whatever the head roll. The first crop comes from a BlazeFace
detection; while tracking, the next one comes from the previous frame's landmarks.

Index sets below are positions in MediaPipe's canonical face mesh. "Left" follows
``realtime.frame.KPS_NAMES``: the point on the image's left on an upright, unmirrored face,
that is the subject's right (dlib/iBUG 68-point order uses the same convention).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.catalog.manifest import ModelSpec, bundled_model
from realtime.faces.detector import KP_LEFT_EYE, KP_RIGHT_EYE, Detection, to_tensor
from realtime.inference.session import BuildCallback, InferenceSession, SessionOptions, open_session

log = logging.getLogger(__name__)

NUM_LANDMARKS = 468
# Eye contours in the order of dlib's six eye points (outer corner, two upper, inner corner,
# two lower); the mean of each is the eye centre.
EYE_LEFT_IMG = (33, 160, 158, 133, 153, 144)
EYE_RIGHT_IMG = (362, 385, 387, 263, 373, 380)
NOSE_TIP = 1
MOUTH_LEFT_IMG = 61
MOUTH_RIGHT_IMG = 291

# dlib/iBUG 68-point order: jaw 0-16, brows 17-26, nose bridge 27-30, nostrils 31-35,
# eyes 36-47, outer lips 48-59, inner lips 60-67.
MESH_TO_68 = np.array(
    [
        *(127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356),
        *(70, 63, 105, 66, 107, 336, 296, 334, 293, 300),
        *(168, 197, 5, 4),
        *(75, 97, 2, 326, 305),
        *EYE_LEFT_IMG,
        *EYE_RIGHT_IMG,
        *(61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91),
        *(78, 82, 13, 312, 308, 317, 14, 87),
    ],
    dtype=np.intp,
)


def five_points(mesh: np.ndarray) -> np.ndarray:
    """The 5 alignment points (order of ``KPS_NAMES``) from a (468, 2|3) mesh -> (5, 2)."""
    m = np.asarray(mesh, np.float32)[:, :2]
    return np.stack(
        [
            m[list(EYE_LEFT_IMG)].mean(axis=0),
            m[list(EYE_RIGHT_IMG)].mean(axis=0),
            m[NOSE_TIP],
            m[MOUTH_LEFT_IMG],
            m[MOUTH_RIGHT_IMG],
        ]
    ).astype(np.float32)


def points68(mesh: np.ndarray) -> np.ndarray:
    """The dlib/iBUG 68-point subset of a (468, 2|3) mesh -> (68, 2)."""
    return np.asarray(mesh, np.float32)[MESH_TO_68, :2].copy()


@dataclass(frozen=True)
class Roi:
    """A square crop of the frame: centre, side length (pixels) and rotation (radians).

    ``angle`` is the direction of the face's eye line in the image (0 = level, positive =
    clockwise on screen since y points down); the crop is rotated by ``-angle``.
    """

    cx: float
    cy: float
    size: float
    angle: float

    def crop_matrix(self, out: int) -> np.ndarray:
        """2x3 affine map frame pixels -> crop pixels of an ``out`` square."""
        s = out / self.size
        c, si = math.cos(self.angle) * s, math.sin(self.angle) * s
        # crop = R(-angle) * s * (p - centre) + out/2
        return np.array(
            [
                [c, si, out / 2 - c * self.cx - si * self.cy],
                [-si, c, out / 2 + si * self.cx - c * self.cy],
            ],
            np.float64,
        )

    def to_frame(self, pts: np.ndarray, out: int) -> np.ndarray:
        """Crop pixels (N, 2|3) of an ``out`` square -> frame pixels; z scales like x."""
        pts = np.asarray(pts, np.float64)
        s = self.size / out
        c, si = math.cos(self.angle), math.sin(self.angle)
        u = (pts[:, 0] - out / 2) * s
        v = (pts[:, 1] - out / 2) * s
        res = np.empty_like(pts)
        res[:, 0] = self.cx + c * u - si * v
        res[:, 1] = self.cy + si * u + c * v
        if pts.shape[1] > 2:
            res[:, 2:] = pts[:, 2:] * s
        return res.astype(np.float32)

    def corners(self) -> np.ndarray:
        """The crop's four corners in frame pixels (4, 2), for drawing."""
        sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
        return self.to_frame(sq, 1)


def _eye_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """Roll of the eye line from the image-left eye to the image-right eye."""
    d = np.asarray(left_eye, np.float64) - np.asarray(right_eye, np.float64)
    return math.atan2(float(d[1]), float(d[0]))


def roi_from_detection(det: Detection, scale: float = 1.5) -> Roi:
    """MediaPipe's detection-to-ROI: the box centre, its long side times ``scale``, rotated
    to level the two eye keypoints."""
    x1, y1, x2, y2 = (float(v) for v in det.box)
    angle = _eye_angle(det.keypoints[KP_RIGHT_EYE], det.keypoints[KP_LEFT_EYE])
    return Roi((x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * scale, angle)


def roi_from_mesh(mesh: np.ndarray, scale: float = 1.5, eyes: tuple[int, int] = (33, 263)) -> Roi:
    """The next crop from this frame's landmarks: their bounding box in the face's own
    (eye-levelled) frame, so a rolled head gets the same tight crop as an upright one."""
    pts = np.asarray(mesh, np.float64)[:, :2]
    angle = _eye_angle(pts[eyes[0]], pts[eyes[1]])
    c, s = math.cos(angle), math.sin(angle)
    u = pts[:, 0] * c + pts[:, 1] * s  # coordinates along / across the eye line
    v = -pts[:, 0] * s + pts[:, 1] * c
    cu, cv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    size = max(u.max() - u.min(), v.max() - v.min()) * scale
    return Roi(cu * c - cv * s, cu * s + cv * c, size, angle)


def mesh_box(mesh: np.ndarray, width: int, height: int) -> np.ndarray:
    """Axis-aligned bounding box x1 y1 x2 y2 of a mesh, clipped to the frame."""
    pts = np.asarray(mesh)[:, :2]
    lo = np.maximum(pts.min(axis=0), 0)
    hi = np.minimum(pts.max(axis=0), [width, height])
    hi = np.maximum(hi, lo)
    return np.concatenate([lo, hi]).astype(np.float32)


class FaceMesh:
    """Runs the FaceMesh model on one ``Roi``: ``run(image_bgr, roi) -> (mesh, presence)``."""

    def __init__(
        self, *, threads: int = 1, provider: str | None = None, on_build: BuildCallback | None = None
    ) -> None:
        spec, path = bundled_model("face_landmark")
        self.spec: ModelSpec = spec
        self.size = int(spec.crop_size)
        self.roi_scale = float(spec.extra.get("roi_scale", 1.5))
        eyes = spec.extra.get("eye_corners", [33, 263])
        self.eye_corners = (int(eyes[0]), int(eyes[1]))
        self._inv_std = 1.0 / np.asarray(spec.std, np.float32)
        self._mean = np.asarray(spec.mean, np.float32)
        self.session: InferenceSession = open_session(
            path, prefer=provider, options=SessionOptions(threads=threads, on_build=on_build), label=spec.name
        )
        self._input = spec.inputs[0].name
        self._points, self._flag = (o.name for o in spec.outputs)

    def crop(self, image_bgr: np.ndarray, roi: Roi) -> np.ndarray:
        """The upright model input for ``roi`` as an (S, S, 3) BGR uint8 image."""
        m = roi.crop_matrix(self.size)
        return cv2.warpAffine(
            image_bgr, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    def infer_crop(self, crop_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Landmarks (468, 3) in crop pixels and the face-presence probability for a crop."""
        x = to_tensor(crop_bgr, self._mean, self._inv_std, rgb=self.spec.color == "rgb")
        out = self.session.run({self._input: x})
        pts = out[self._points].reshape(NUM_LANDMARKS, 3)
        logit = float(np.clip(out[self._flag].reshape(-1)[0], -80.0, 80.0))
        return pts, 1.0 / (1.0 + math.exp(-logit))

    def run(self, image_bgr: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Landmarks (468, 3) in frame pixels (z scaled like x) and the presence score."""
        pts, presence = self.infer_crop(self.crop(image_bgr, roi))
        return roi.to_frame(pts, self.size), presence

    def roi_from_detection(self, det: Detection) -> Roi:
        return roi_from_detection(det, self.roi_scale)

    def roi_from_mesh(self, mesh: np.ndarray) -> Roi:
        return roi_from_mesh(mesh, self.roi_scale, self.eye_corners)
