"""Masks that decide which pixels of a swapped crop replace the target, and colour matching.

* ``OcclusionMasker`` (xseg): 1 where the face is visible, 0 where a hand or object covers it.
* ``RegionMasker`` (bisenet): 1 on the chosen face-parsing classes (skin, brows, eyes, nose,
  lips...), so hair and background keep the target's pixels.
* ``mouth_keep_mask``: 0 over the target's mouth, so speech shows the real mouth.
* ``FaceMasker`` combines them (pixel-wise minimum) for ``NeuralSwapper(masker=...)``.
* ``color_transfer_lab``: matches the swapped face's LAB mean and spread to the target's.

Pre/post-processing follows FaceFusion's face_masker: the model's mask is resized to the crop,
blurred (sigma 5) and stretched from [0.5, 1] to [0, 1], which erodes and feathers its edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from realtime.catalog.manifest import ModelSpec
from realtime.faces.align import crop_to_tensor
from realtime.inference.models import ModelAccess, open_model
from realtime.inference.session import BuildCallback, InferenceSession

DEFAULT_REGIONS = (
    "skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye", "glasses", "nose", "mouth",
    "upper-lip", "lower-lip",
)  # fmt: skip
MOUTH_REGIONS = ("mouth", "upper-lip", "lower-lip")


def soften(mask: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """Blur, then stretch [0.5, 1] -> [0, 1]: an eroded, feathered edge (FaceFusion's recipe)."""
    blurred = cv2.GaussianBlur(np.clip(mask, 0, 1).astype(np.float32), (0, 0), sigma)
    return ((np.clip(blurred, 0.5, 1.0) - 0.5) * 2.0).astype(np.float32)


def _open(
    name: str, access: ModelAccess, on_build: BuildCallback | None
) -> tuple[ModelSpec, InferenceSession]:
    spec, _path, session = open_model(name, access, on_build)
    return spec, session


class OcclusionMasker:
    """xseg occlusion mask of an aligned crop, at the crop's size."""

    def __init__(self, spec: ModelSpec, session: InferenceSession) -> None:
        self.spec, self.session = spec, session
        self.layout = str(spec.extra.get("layout", "nhwc"))

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = "xseg_1",
        *,
        on_build: BuildCallback | None = None,
    ) -> OcclusionMasker:
        return cls(*_open(name, access, on_build))

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        s = self.spec.crop_size
        x = crop_to_tensor(
            cv2.resize(crop, (s, s)), self.spec.mean, self.spec.std, self.spec.color, self.layout
        )
        out = next(iter(self.session.run({self.spec.inputs[0].name: x}).values()))
        small = np.clip(np.asarray(out, np.float32).reshape(s, s), 0, 1)
        return soften(cv2.resize(small, (crop.shape[1], crop.shape[0])))


class RegionMasker:
    """bisenet face parsing: class map of a crop, and masks of chosen regions."""

    def __init__(
        self, spec: ModelSpec, session: InferenceSession, regions: Sequence[str] = DEFAULT_REGIONS
    ) -> None:
        self.spec, self.session = spec, session
        self.classes: dict[str, int] = {str(k): int(v) for k, v in spec.extra.get("classes", {}).items()}
        unknown = [r for r in regions if r not in self.classes]
        if unknown:
            raise ValueError(f"unknown face regions {unknown}; known: {sorted(self.classes)}")
        self.regions = tuple(regions)

    @classmethod
    def load(
        cls,
        access: ModelAccess,
        name: str = "bisenet_resnet_34",
        *,
        on_build: BuildCallback | None = None,
        regions: Sequence[str] = DEFAULT_REGIONS,
    ) -> RegionMasker:
        return cls(*_open(name, access, on_build), regions=regions)

    def class_map(self, crop: np.ndarray) -> np.ndarray:
        """Per-pixel class id (int32) at the crop's size."""
        s = self.spec.crop_size
        x = crop_to_tensor(cv2.resize(crop, (s, s)), self.spec.mean, self.spec.std, self.spec.color)
        logits = np.asarray(next(iter(self.session.run({self.spec.inputs[0].name: x}).values())))[0]
        cls = logits.argmax(0).astype(np.int32)
        return cv2.resize(cls, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_NEAREST)

    def mask_of(self, class_map: np.ndarray, regions: Sequence[str]) -> np.ndarray:
        ids = [self.classes[r] for r in regions]
        return np.isin(class_map, ids).astype(np.float32)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        return soften(self.mask_of(self.class_map(crop), self.regions))


def mouth_keep_mask(size: int, crop_kps: np.ndarray, scale: float = 1.4) -> np.ndarray:
    """1 everywhere but a feathered ellipse over the mouth (from the two mouth corners): 0 there.

    Multiplied into the swap mask it keeps the target's own mouth, which follows speech
    exactly. The ellipse spans the corners' distance times ``scale``, half as tall, and sits
    slightly below the corners' midpoint, where the lower lip is.
    """
    left, right = np.asarray(crop_kps, np.float64)[3], np.asarray(crop_kps, np.float64)[4]
    width = float(np.linalg.norm(right - left)) * scale
    centre = (left + right) / 2 + np.array([0.0, width * 0.1])
    angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    hole = np.zeros((size, size), np.float32)
    c = (round(float(centre[0])), round(float(centre[1])))
    axes = (max(int(width / 2), 1), max(int(width / 4), 1))
    cv2.ellipse(hole, c, axes, angle, 0, 360, 1.0, -1)
    soft = cv2.GaussianBlur(hole, (0, 0), max(width * 0.08, 1.0))
    return np.clip(1.0 - soft, 0.0, 1.0).astype(np.float32)


def combine_masks(*masks: np.ndarray | None) -> np.ndarray:
    """Pixel-wise minimum of the given masks (None entries are skipped)."""
    present = [np.asarray(m, np.float32) for m in masks if m is not None]
    if not present:
        raise ValueError("combine_masks needs at least one mask")
    return np.clip(np.minimum.reduce(present), 0.0, 1.0)


class FaceMasker:
    """``masker`` for ``NeuralSwapper``: occlusion x regions x mouth-keep, on the aligned crop."""

    def __init__(
        self,
        occlusion: OcclusionMasker | None = None,
        regions: RegionMasker | None = None,
        keep_mouth: bool = False,
    ) -> None:
        self.occlusion, self.regions, self.keep_mouth = occlusion, regions, keep_mouth

    def __call__(self, crop: np.ndarray, crop_kps: np.ndarray) -> np.ndarray:
        size = crop.shape[0]
        masks: list[np.ndarray | None] = [np.ones((size, crop.shape[1]), np.float32)]
        if self.occlusion is not None:
            masks.append(self.occlusion(crop))
        if self.regions is not None:
            masks.append(self.regions(crop))
        if self.keep_mouth:
            masks.append(mouth_keep_mask(size, crop_kps))
        return combine_masks(*masks)


def color_transfer_lab(source: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``source`` (BGR uint8) with its LAB mean and std per channel moved to ``target``'s.

    Statistics are taken where ``mask`` > 0.5 (the face), so background in the crop does not
    pull the skin tone; the transfer itself applies to the whole crop.
    """
    src = cv2.cvtColor(source, cv2.COLOR_BGR2LAB).astype(np.float32)
    tgt = cv2.cvtColor(target, cv2.COLOR_BGR2LAB).astype(np.float32)
    sel = (mask > 0.5) if mask is not None else np.ones(source.shape[:2], bool)
    if sel.sum() < 16:
        return source.copy()
    s_mean, s_std = src[sel].mean(0), src[sel].std(0)
    t_mean, t_std = tgt[sel].mean(0), tgt[sel].std(0)
    out = (src - s_mean) * (t_std / np.maximum(s_std, 1e-3)) + t_mean
    return cv2.cvtColor(np.clip(np.rint(out), 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)
