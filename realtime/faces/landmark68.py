"""68-point landmarks with 2DFAN4, and the 5 alignment keypoints derived from them.

As in FaceFusion: the face box is scaled so its longer side is 195 px and centred in a 256 px
crop; the model returns per-point (x, y, score) in 64 px heatmap coordinates (x 4 to crop
pixels) and the heatmaps, whose per-point maximum gives a confidence (mean of maxima,
mapped [0, 0.9] -> [0, 1]).
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.faces.align import crop_to_tensor, transform_points
from realtime.frame import Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession


def kps5_from_68(points: np.ndarray) -> np.ndarray:
    """Eye centres (mean of each eye's 6 points), nose tip (30), mouth corners (48, 54)."""
    p = np.asarray(points, np.float32)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]).astype(np.float32)


class Fan68Landmarker:
    """68 landmarks of a face box; as a processor (``landmarks68``) it refines each face's kps."""

    name = "landmarks68"
    thread_safe = True  # no state but the session

    def __init__(self, spec: ModelSpec, session: InferenceSession) -> None:
        self.spec, self.session = spec, session
        self.size = spec.crop_size
        self.box_scale = float(spec.extra.get("box_scale", 195.0))
        self.heatmap = int(spec.extra.get("heatmap_size", 64))

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = "2dfan4",
        *,
        on_build: BuildCallback | None = None,
    ) -> Fan68Landmarker:
        spec, _path, session = open_model(name, access, on_build)
        return cls(spec, session)

    def crop_matrix(self, box: np.ndarray) -> np.ndarray:
        b = np.asarray(box, np.float64)
        scale = self.box_scale / max(float((b[2:] - b[:2]).max()), 1.0)
        tx, ty = (self.size - (b[:2] + b[2:]) * scale) * 0.5
        return np.array([[scale, 0.0, tx], [0.0, scale, ty]])

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, float]:
        """(68, 2) points in frame pixels and a confidence in [0, 1]."""
        m = self.crop_matrix(box)
        crop = cv2.warpAffine(image, m, (self.size, self.size), flags=cv2.INTER_LINEAR)
        x = crop_to_tensor(crop, self.spec.mean, self.spec.std, self.spec.color)
        outs = list(self.session.run({self.spec.inputs[0].name: x}).values())
        pts = np.asarray(outs[0], np.float32).reshape(-1, 3)[:, :2] * (self.size / self.heatmap)
        heat = np.asarray(outs[1], np.float32)
        score = float(np.interp(heat.reshape(heat.shape[1], -1).max(1).mean(), [0, 0.9], [0, 1]))
        return transform_points(pts, cv2.invertAffineTransform(m)).astype(np.float32), score

    def __call__(self, frame: Frame) -> Frame:
        faces = []
        for f in frame.faces:
            pts, _score = self.landmarks(frame.image, f.box)
            faces.append(f.with_(kps=kps5_from_68(pts)))
        return frame.with_faces(faces)
