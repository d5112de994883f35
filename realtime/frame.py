"""The packet that travels through the pipeline: one frozen ``Frame`` holding ``Face``s.

Stages never mutate a packet; they return a new one (``with_faces``, ``with_image``). Both
classes check shapes and dtypes on creation, so a bad packet fails where it is made and not
three stages later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Order of the 5 keypoints, as in the alignment templates: left eye, right eye, nose tip,
# left mouth corner, right mouth corner, "left" meaning the image's left.
KPS_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
# Flag a swapper sets on a frame in which it chose faces but swapped fewer of them (the
# output guard, ``realtime.pipeline.guard``, then keeps that frame off the air).
SWAP_MISSED = "swap_missed"


def _as_f32(a: object, shape: tuple[int | None, ...], name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


@dataclass(frozen=True, slots=True)
class Face:
    """One face in one frame, in frame pixel coordinates."""

    box: np.ndarray  # (4,) float32: x1, y1, x2, y2
    score: float
    kps: np.ndarray  # (5, 2) float32, order of KPS_NAMES
    track_id: int = -1
    mesh: np.ndarray | None = None  # (468, 3) float32: x, y in pixels, z in pixels (relative)
    embedding: np.ndarray | None = None  # (D,) float32, L2-normalised by the recognizer

    def __post_init__(self) -> None:
        object.__setattr__(self, "box", _as_f32(self.box, (4,), "Face.box"))
        object.__setattr__(self, "kps", _as_f32(self.kps, (5, 2), "Face.kps"))
        if self.mesh is not None:
            object.__setattr__(self, "mesh", _as_f32(self.mesh, (None, 3), "Face.mesh"))
        if self.embedding is not None:
            object.__setattr__(self, "embedding", _as_f32(self.embedding, (None,), "Face.embedding"))
        x1, y1, x2, y2 = (float(v) for v in self.box)
        if x2 < x1 or y2 < y1:
            raise ValueError(f"Face.box must be x1<=x2, y1<=y2, got {self.box.tolist()}")
        object.__setattr__(self, "score", float(self.score))

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2

    def with_(self, **changes: object) -> Face:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image and what the stages learned about it.

    ``captured_at`` is ``time.monotonic()`` at capture: every latency figure is measured from it.
    ``pts`` is the media timestamp in seconds (the stream's own for files, time since start for
    live sources). ``timings`` collects (stage name, milliseconds) as the frame moves on.
    ``swapped`` counts the faces a swap stage replaced in this frame (the benchmark and the
    stats compare it with ``len(faces)``, so a frame with missed faces is seen, not assumed).
    ``flags`` mark states: ``"writable"`` means the stage that holds the frame owns its image
    alone, so a processor may draw into it in place and return it (saving a full-frame copy);
    without it, a processor that changes pixels must return a new image.
    """

    index: int
    captured_at: float
    image: np.ndarray
    faces: tuple[Face, ...] = ()
    pts: float = 0.0
    timings: tuple[tuple[str, float], ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)
    swapped: int = 0

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            raise ValueError(f"Frame.image must be a uint8 ndarray, got {getattr(img, 'dtype', type(img))}")
        if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 1 or img.shape[1] < 1:
            raise ValueError(f"Frame.image must be HxWx3, got {img.shape}")
        if not img.flags.c_contiguous:
            raise ValueError("Frame.image must be C-contiguous")
        if self.index < 0:
            raise ValueError("Frame.index must be >= 0")
        if not isinstance(self.faces, tuple) or not all(isinstance(f, Face) for f in self.faces):
            raise ValueError("Frame.faces must be a tuple of Face")
        if not isinstance(self.swapped, int) or not 0 <= self.swapped <= len(self.faces):
            raise ValueError(f"Frame.swapped must be within [0, {len(self.faces)}], got {self.swapped!r}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def with_faces(self, faces: tuple[Face, ...] | list[Face]) -> Frame:
        return replace(self, faces=tuple(faces))

    def with_image(self, image: np.ndarray) -> Frame:
        return replace(self, image=np.ascontiguousarray(image))

    def with_swapped(self, count: int) -> Frame:
        """This frame with ``count`` of its faces marked as swapped."""
        return replace(self, swapped=int(count))

    def with_timing(self, name: str, ms: float) -> Frame:
        return replace(self, timings=(*self.timings, (name, float(ms))))

    def with_flag(self, flag: str) -> Frame:
        return replace(self, flags=self.flags | {flag})
