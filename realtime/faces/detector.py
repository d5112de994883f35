"""BlazeFace face detection (MediaPipe short- and full-range models) with SSD anchor decoding.

The image is letterboxed into the model's square input so a face's aspect ratio never
distorts; boxes and the six keypoints are decoded against the anchor grid, scored with a
sigmoid, merged by weighted non-maximum suppression and mapped back to frame pixels.

Anchor counts follow from MediaPipe's SSD anchor options: the short-range model (128 px) has
one stride-8 layer (16x16 cells) and three stride-16 layers that share an 8x8 grid, each layer
giving 2 anchors per cell (aspect ratio 1 plus the interpolated scale): 16*16*2 + 8*8*3*2 = 896.
The full-range model (192 px) has a single stride-4 layer (48x48 cells) with one anchor per
cell: 48*48 = 2304. Those numbers match the models' output shapes and are checked on load.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.catalog.manifest import ModelSpec, bundled_model
from realtime.errors import ConfigError, ModelError
from realtime.faces.config import DETECTOR_MODELS
from realtime.inference import litert as _litert  # noqa: F401  (registers the LiteRT backend)
from realtime.inference.session import BuildCallback, InferenceSession, SessionOptions, open_session

log = logging.getLogger(__name__)


# Keypoint order of BlazeFace: the subject's right eye (image left on an upright, unmirrored
# face), left eye, nose tip, mouth centre, right ear tragion, left ear tragion.
KP_RIGHT_EYE, KP_LEFT_EYE, KP_NOSE, KP_MOUTH, KP_RIGHT_EAR, KP_LEFT_EAR = range(6)


@dataclass(frozen=True)
class Detection:
    """One detected face in frame pixels: box x1, y1, x2, y2, score and 6 keypoints."""

    box: np.ndarray  # (4,) float32
    score: float
    keypoints: np.ndarray  # (6, 2) float32, BlazeFace order


def ssd_anchors(
    input_size: int, strides: Sequence[int], offset: float = 0.5, interpolated_ratio: float = 1.0
) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], in MediaPipe's order (layer, row, column, anchor).

    With ``fixed_anchor_size`` (both face models) only the centres matter: width and height
    are 1. Consecutive layers of equal stride share one grid and stack their anchors per cell.
    """
    out: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        j = i
        per_cell = 0
        while j < len(strides) and strides[j] == strides[i]:
            per_cell += 1 + (1 if interpolated_ratio > 0 else 0)  # aspect ratio 1.0 (+ interp.)
            j += 1
        cells = math.ceil(input_size / strides[i])
        grid = (np.arange(cells, dtype=np.float32) + offset) / cells
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        i = j
    return np.concatenate(out, axis=0).astype(np.float32)


def to_tensor(image: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, *, rgb: bool) -> np.ndarray:
    """(H, W, 3) uint8 BGR -> (1, 3, H, W) float32 ``(x - mean) * inv_std``, channels in RGB
    order when ``rgb``. One strided pass per channel: several times faster than numpy's
    flip + astype + transpose chain, which matters at ~1 ms of a 10 ms frame budget."""
    h, w = image.shape[:2]
    out = np.empty((1, 3, h, w), np.float32)
    for c in range(3):
        ch = out[0, c]
        np.subtract(image[:, :, 2 - c if rgb else c], np.float32(mean[c]), out=ch, dtype=np.float32)
        ch *= np.float32(inv_std[c])
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pairwise intersection areas (N, M), areas of ``a`` (N,), areas of ``b`` (M,))."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter, (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4), x1 y1 x2 y2 -> (N, M)."""
    inter, area_a, area_b = _overlap(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def box_cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area (N, M): 1 when one box lies inside
    the other, however different their sizes (where IoU stays low)."""
    inter, area_a, area_b = _overlap(a, b)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-9), 0.0).astype(np.float32)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) is merged
    into a score-weighted mean box and keypoints, scored by its best member. Averaging
    overlapping anchors is steadier than keeping one of them."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), dtype=bool)
    out: list[tuple[np.ndarray, np.ndarray, float]] = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        iou = box_iou(boxes[i : i + 1], boxes)[0]
        members = alive & (iou > threshold)
        members[i] = True
        w = scores[members]
        wsum = float(w.sum())
        box = (boxes[members] * w[:, None]).sum(axis=0) / wsum
        kps = (keypoints[members] * w[:, None, None]).sum(axis=0) / wsum
        out.append((box.astype(np.float32), kps.astype(np.float32), float(scores[i])))
        alive &= ~members
    return out


def decode_raw(
    regressors: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    *,
    box_scale: float,
    num_keypoints: int = 6,
    score_clip: float = 100.0,
    score_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BlazeFace outputs -> boxes (N, 4) x1 y1 x2 y2, keypoints (N, K, 2) in [0, 1] input
    units and sigmoid scores, for the anchors scoring at least ``score_threshold``.

    Each regressor row is (dx, dy, w, h, kx0, ky0, ...) in input pixels relative to its
    anchor centre (anchor size is fixed at 1, so ``box_scale`` is the input size).
    """
    raw = regressors.reshape(len(anchors), -1)
    logit = np.clip(logits.reshape(-1).astype(np.float64), -score_clip, score_clip)
    scores = 1.0 / (1.0 + np.exp(-logit))
    keep = scores >= score_threshold
    raw, kept_anchors, scores = raw[keep], anchors[keep], scores[keep]
    centre = raw[:, 0:2] / box_scale + kept_anchors
    half = raw[:, 2:4] / box_scale / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    k = num_keypoints
    kps = raw[:, 4 : 4 + 2 * k].reshape(-1, k, 2) / box_scale + kept_anchors[:, None, :]
    return boxes.astype(np.float32), kps.astype(np.float32), scores.astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square model input: ``model = image * scale + pad``
    per axis (the two scales differ only by the rounding of the resized size)."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Model-input pixels -> image pixels (works on any (..., 2) array)."""
        pad = np.array([self.pad_x, self.pad_y], np.float32)
        return (pts - pad) / np.array([self.scale_x, self.scale_y], np.float32)


def _shrink(image: np.ndarray, nw: int, nh: int) -> tuple[np.ndarray, int, int]:
    """Resize to (nw, nh) with area averaging, cheaply: OpenCV's area resize is fast only for
    whole-number factors, so average by the largest whole factor first (dropping the < k
    leftover pixels at the right and bottom), then finish on the small image. Returns the
    image and the width and height of the source region it covers."""
    h, w = image.shape[:2]
    k = min(w // nw, h // nh)
    if k >= 2:
        w, h = (w // k) * k, (h // k) * k
        image = cv2.resize(image[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
    if image.shape[1] != nw or image.shape[0] != nh:
        shrink = image.shape[1] > nw or image.shape[0] > nh
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return image, w, h


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize ``image`` to fit a ``size`` square keeping its aspect ratio, centred on black."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small, sw, sh = _shrink(image, nw, nh)
    px, py = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), np.uint8)
    out[py : py + nh, px : px + nw] = small
    return out, Letterbox(nw / sw, nh / sh, float(px), float(py))


Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels


def tile_grid(width: int, height: int, rows: int, overlap: float = 0.25) -> list[Region]:
    """Square tiles covering a ``width`` x ``height`` frame in ``rows`` rows, neighbours
    overlapping by at least ``overlap`` of a tile (so a face on a seam is whole in one of
    them), row by row from the top left. A face ``f`` pixels wide fills ``f / side`` of its
    tile instead of ``f / width`` of the frame: that is what lets a detector trained on near
    faces find distant ones."""
    rows = max(1, int(rows))
    side = min(width, height, math.ceil(height / (rows - (rows - 1) * overlap)))

    def starts(length: int) -> list[int]:
        if side >= length:
            return [0]
        n = max(2, math.ceil((length - side) / (side * (1.0 - overlap))) + 1)
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


class FaceDetector:
    """BlazeFace on one image: ``detect(image_bgr) -> list[Detection]``, best first."""

    def __init__(
        self,
        model: str = "short",
        *,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
        max_faces: int = 0,
        threads: int = 1,
        provider: str | None = None,
        on_build: BuildCallback | None = None,
    ) -> None:
        if model not in DETECTOR_MODELS:
            raise ConfigError(
                f"unknown face detector {model!r}", fix=f"use one of {', '.join(DETECTOR_MODELS)}"
            )
        spec, path = bundled_model(DETECTOR_MODELS[model])
        self.spec: ModelSpec = spec
        ex = spec.extra
        self.size = int(spec.crop_size)
        self.anchors = ssd_anchors(
            self.size,
            [int(s) for s in ex["strides"]],
            float(ex.get("anchor_offset", 0.5)),
            float(ex.get("interpolated_scale_aspect_ratio", 1.0)),
        )
        self.num_keypoints = int(ex.get("num_keypoints", 6))
        self.box_scale = float(ex.get("box_scale", self.size))
        self.score_clip = float(ex.get("score_clip", 100.0))
        self.score_threshold = float(ex.get("min_score", 0.5) if score_threshold is None else score_threshold)
        self.nms_threshold = float(ex.get("nms_threshold", 0.3) if nms_threshold is None else nms_threshold)
        self.max_faces = int(max_faces)
        self._mean = np.asarray(spec.mean, np.float32)
        self._inv_std = 1.0 / np.asarray(spec.std, np.float32)
        self.session: InferenceSession = open_session(
            path, prefer=provider, options=SessionOptions(threads=threads, on_build=on_build), label=spec.name
        )
        self._run_lock = threading.Lock()
        self._input = spec.inputs[0].name
        self._regressors, self._classifiers = (o.name for o in spec.outputs)
        n_out = spec.outputs[0].shape[1]
        if n_out != len(self.anchors):
            raise ModelError(
                f"{spec.file}: {n_out} outputs but {len(self.anchors)} anchors",
                fix="the manifest's anchor options do not match the model file",
            )

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterboxed RGB NCHW tensor normalised by the manifest's mean/std."""
        boxed, lb = letterbox(image_bgr, self.size)
        return to_tensor(boxed, self._mean, self._inv_std, rgb=self.spec.color == "rgb"), lb

    def decode(self, regressors: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw outputs -> boxes (N, 4), keypoints (N, K, 2) in [0, 1] input units, scores."""
        return decode_raw(
            regressors,
            logits,
            self.anchors,
            box_scale=self.box_scale,
            num_keypoints=self.num_keypoints,
            score_clip=self.score_clip,
            score_threshold=self.score_threshold,
        )

    def detect_region(self, image_bgr: np.ndarray, region: Region) -> list[Detection]:
        """Faces inside ``region`` of ``image_bgr``, in frame pixels, highest score first."""
        x0, y0, x1, y1 = region
        dets = self.detect(image_bgr[y0:y1, x0:x1])
        off = np.array([x0, y0], np.float32)
        return [Detection(d.box + np.tile(off, 2), d.score, d.keypoints + off) for d in dets]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces in ``image_bgr`` (H, W, 3 uint8), highest score first."""
        x, lb = self.preprocess(image_bgr)
        with self._run_lock:  # live tracking detects on a thread of its own (``faces.tracker``)
            out = self.session.run({self._input: x})
        boxes, kps, scores = self.decode(out[self._regressors], out[self._classifiers])
        if len(scores) == 0:
            return []
        merged = weighted_nms(boxes, kps, scores, self.nms_threshold)
        h, w = image_bgr.shape[:2]
        dets: list[Detection] = []
        for box, pts, score in merged:
            corners = lb.to_image(box.reshape(2, 2) * self.size)
            corners[:, 0] = np.clip(corners[:, 0], 0, w)
            corners[:, 1] = np.clip(corners[:, 1], 0, h)
            if corners[1, 0] - corners[0, 0] < 2 or corners[1, 1] - corners[0, 1] < 2:
                continue
            dets.append(Detection(corners.reshape(4), score, lb.to_image(pts * self.size)))
        if self.max_faces > 0:
            dets = dets[: self.max_faces]
        return dets
