"""Neural face detectors with 5 keypoints: SCRFD / RetinaFace (anchor decoding) and YOLOFace.

The frame is scaled to fit the model's square input (aspect kept) and placed in its top-left
corner on black, as FaceFusion does, so decoded coordinates map back by one scale factor.

* ``scrfd`` decoding (scrfd_2.5g, retinaface_10g): 9 outputs, read by position - scores, box
  distances and keypoint offsets for strides 8, 16, 32, two anchors per cell. Anchor centres are
  (x, y) * stride with x fastest; box = centre -/+ distance * stride (left, top, right, bottom);
  keypoint = centre + offset * stride.
* ``yolo`` decoding (yoloface_8n): one (1, 20, N) output; per anchor cx, cy, w, h, score, then
  5 x (x, y, visibility), already in input pixels.

Both keep scores >= the manifest's ``score_threshold`` and apply NMS at ``nms_threshold``.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.errors import ModelError
from realtime.faces.align import crop_to_tensor
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession

NEURAL_DETECTORS = ("scrfd_2.5g", "retinaface_10g", "yoloface_8n")


def anchor_centres(size: int, stride: int, per_cell: int) -> np.ndarray:
    """(N, 2) anchor centres in input pixels, x fastest, each repeated ``per_cell`` times."""
    n = size // stride
    ys, xs = np.mgrid[:n, :n]
    centres = np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, per_cell, axis=0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression (IoU > ``threshold`` suppressed)."""
    order = list(np.argsort(-scores))
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        keep.append(int(i))
        rest = np.array(order, dtype=int)
        if rest.size == 0:
            break
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = [int(j) for j, o in zip(rest, iou, strict=True) if o <= threshold]
    return keep


class NeuralDetector:
    """Processor ``detect``: replaces the frame's faces with this detector's."""

    name = "detect"
    thread_safe = True  # anchors are read-only after __init__

    def __init__(
        self, spec: ModelSpec, session: InferenceSession, *, score_threshold: float | None = None
    ) -> None:
        self.spec, self.session = spec, session
        self.size = spec.crop_size
        self.decoder = str(spec.extra.get("decoder", ""))
        if self.decoder not in ("scrfd", "yolo"):
            raise ModelError(f"detector {spec.name!r} has unknown extra.decoder {self.decoder!r}")
        self.score_threshold = float(
            spec.extra.get("score_threshold", 0.5) if score_threshold is None else score_threshold
        )
        self.nms_threshold = float(spec.extra.get("nms_threshold", 0.4))
        self.strides = [int(s) for s in spec.extra.get("strides", (8, 16, 32))]
        self.per_cell = int(spec.extra.get("anchors_per_cell", 2))
        self._anchors = {s: anchor_centres(self.size, s, self.per_cell) for s in self.strides}

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = "scrfd_2.5g",
        *,
        on_build: BuildCallback | None = None,
    ) -> NeuralDetector:
        spec, _path, session = open_model(name, access, on_build)
        return cls(spec, session)

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        scale = min(self.size / h, self.size / w)
        nh, nw = max(round(h * scale), 1), max(round(w * scale), 1)
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(
            image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        return canvas, scale

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (BGR) in frame pixels, best score first."""
        canvas, scale = self._letterbox(image)
        x = crop_to_tensor(canvas, self.spec.mean, self.spec.std, self.spec.color)
        outs = [np.asarray(o, np.float32) for o in self.session.run({self.spec.inputs[0].name: x}).values()]
        boxes, scores, kps = self._decode_scrfd(outs) if self.decoder == "scrfd" else self._decode_yolo(outs)
        if scores.size == 0:
            return []
        keep = nms(boxes, scores, self.nms_threshold)
        h, w = image.shape[:2]
        faces = []
        for i in keep:
            b = boxes[i] / scale
            b = np.array([np.clip(b[0], 0, w), np.clip(b[1], 0, h), np.clip(b[2], 0, w), np.clip(b[3], 0, h)])
            faces.append(Face(box=b, score=float(scores[i]), kps=kps[i] / scale))
        return faces

    def _decode_scrfd(self, outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = len(self.strides)
        if len(outs) < 3 * k:
            raise ModelError(f"detector {self.spec.name!r} gave {len(outs)} outputs, expected {3 * k}")
        boxes, scores, kps = [], [], []
        for i, stride in enumerate(self.strides):
            sc = outs[i].reshape(-1)
            keep = np.nonzero(sc >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            anchors = self._anchors[stride][keep]
            d = outs[i + k].reshape(-1, 4)[keep] * stride
            boxes.append(np.concatenate([anchors - d[:, :2], anchors + d[:, 2:]], 1))
            o = outs[i + 2 * k].reshape(-1, 10)[keep].reshape(-1, 5, 2) * stride
            kps.append(anchors[:, None, :] + o)
            scores.append(sc[keep])
        if not scores:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(kps)

    def _decode_yolo(self, outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        det = outs[0].reshape(outs[0].shape[-2], outs[0].shape[-1]).T  # (N, 20)
        keep = np.nonzero(det[:, 4] >= self.score_threshold)[0]
        det = det[keep]
        cx, cy, bw, bh = det[:, 0], det[:, 1], det[:, 2], det[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        kps = det[:, 5:20].reshape(-1, 5, 3)[:, :, :2]
        return boxes, det[:, 4], kps

    def __call__(self, frame: Frame) -> Frame:
        return frame.with_faces(self.detect(frame.image))
