"""Debug view: draw what face analysis found (boxes, track ids, mesh, 5 keypoints).

A processor like any other, placed after the analyzer (``--draw-landmarks``). It draws on a
copy: the frame it was given is never changed.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from realtime.frame import Face, Frame

log = logging.getLogger(__name__)

# BGR colours cycled by track id, so one face keeps its colour while it is tracked.
PALETTE = (
    (80, 220, 80),
    (255, 160, 40),
    (60, 60, 240),
    (240, 80, 240),
    (40, 220, 240),
    (240, 240, 60),
)
# One colour per keypoint of KPS_NAMES: eyes, nose, mouth corners.
KPS_COLORS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))


def track_color(track_id: int) -> tuple[int, int, int]:
    return PALETTE[track_id % len(PALETTE)] if track_id >= 0 else (200, 200, 200)


def draw_face(
    image: np.ndarray, face: Face, *, mesh: bool = True, kps: bool = True, label: bool = True
) -> None:
    """Draw one face on ``image`` in place (callers pass a copy)."""
    h, w = image.shape[:2]
    color = track_color(face.track_id)
    thick = max(1, round(max(h, w) / 640))
    x1, y1, x2, y2 = (round(float(v)) for v in face.box)
    cv2.rectangle(image, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
    if label:
        text = f"#{face.track_id} {face.score:.2f}" if face.track_id >= 0 else f"{face.score:.2f}"
        scale = 0.5 * thick
        (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y1 - base - 2 if y1 - th - base - 2 >= 0 else y2 + th + 2
        cv2.putText(image, text, (x1, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    if mesh and face.mesh is not None:
        pts = np.rint(face.mesh[:, :2]).astype(np.int32)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        pts = pts[inside]
        image[pts[:, 1], pts[:, 0]] = color
        if thick > 1:  # widen the dots on large frames so they stay visible
            xs = np.clip(pts[:, 0] + 1, 0, w - 1)
            ys = np.clip(pts[:, 1] + 1, 0, h - 1)
            image[pts[:, 1], xs] = color
            image[ys, pts[:, 0]] = color
            image[ys, xs] = color
    if kps:
        r = 2 + thick
        for (x, y), c in zip(face.kps, KPS_COLORS):
            cv2.circle(image, (round(float(x)), round(float(y))), r, c, -1, cv2.LINE_AA)


class LandmarkOverlay:
    """Processor that overlays each face's box, id, score, mesh and keypoints."""

    name = "overlay"
    thread_safe = True  # draws on its own copy of the image

    def __init__(self, *, mesh: bool = True, kps: bool = True, labels: bool = True) -> None:
        self.mesh = mesh
        self.kps = kps
        self.labels = labels

    def __call__(self, frame: Frame) -> Frame:
        if not frame.faces:
            return frame
        image = frame.image.copy()
        for face in frame.faces:
            draw_face(image, face, mesh=self.mesh, kps=self.kps, label=self.labels)
        return frame.with_image(image)
