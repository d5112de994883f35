"""What this face looked like a moment ago: an object in front is what has changed since.

A colour model of skin cannot tell a cat's fur or a coffee's crema from a face of the same
hue. A live stream, though, has seen the face before the object came: each track keeps the
look of its own face in a frontal layout of its mesh (a mean and a spread of YCrCb per
point of the layout, read from the half-resolution patch), learned from the frames where
nothing was in front.
A pixel of the face far from what this very point of the face looked like is kept live.

The layout moves with the mesh, so the head may move and turn; triangles turned away from
the camera are neither learned nor checked. The light may change: the whole face's shift
is measured (a robust median) and taken out first. What stays changed (a new light, a
shadow) is learned as the face, slowly, so the check never locks a wrong look in; the price
is that an object held perfectly still for 10-20 s is drawn over too. A still has no past:
there the skin colour check (``occlusion``) is all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from realtime.swap.config import MeshSettings
from realtime.swap.mesh.masks import FACE_OVAL, LIPS_INNER, fill
from realtime.swap.mesh.occlusion import feature_holes, find_occluders
from realtime.swap.mesh.warp import dense_map, frontal_layout, triangulate

# Layout pixels per inter-ocular distance (a face is about 2.3 x 2.8 of them).
SCALE = 48.0
# Frames learned (every other frame is) before a point of the layout is trusted.
MATURE = 8
# The learning rate of each learned frame once mature (about 1.7 s at 30 fps, learning every
# other frame), and where something is in front (10-20 s for the benchmark's objects held
# still: a lasting change of the face is learned, a passing hand is not).
RATE = 0.04
RATE_COVERED = 0.003
# Floors of the spread (8-bit levels): camera noise at half resolution and small shading moves.
FLOOR = np.array([6.0, 3.0, 3.0], np.float32)
# Differences beyond this many spreads widen the spread no more than this one would.
CLAMP = 2.5
# Luma weighs less than chroma: a turn of the head shades the same skin differently.
WEIGHT = np.array([0.6, 1.0, 1.0], np.float32)
# A triangle turned more than this far from the camera (its area over the face's typical) is
# not seen well enough to learn or check.
MIN_FACING = 0.3
# Tracks unseen for this many frames are forgotten.
MAX_AGE = 30


@dataclass
class _Look:
    layout: np.ndarray  # (N, 2) float32, layout pixels
    triangles: np.ndarray  # (T, 3) int32
    flat_area: np.ndarray  # (T,) float32 signed area of each triangle in the layout
    mean: np.ndarray  # (H, W, 3) float32
    var: np.ndarray  # (H, W, 3) float32
    inv: np.ndarray  # (H, W, 3) float32 weight over spread, what the check multiplies by
    count: np.ndarray  # (H, W) float32 frames learned
    mature: np.ndarray  # (H, W) uint8 255 where trusted
    seen: int  # last frame index

    @classmethod
    def start(cls, mesh: np.ndarray, frame_index: int) -> _Look:
        layout, (h, w) = _layout(mesh)
        tris = triangulate(layout)
        return cls(
            layout,
            tris,
            _areas(layout, tris),
            np.zeros((h, w, 3), np.float32),
            np.zeros((h, w, 3), np.float32),
            np.zeros((h, w, 3), np.float32),
            np.zeros((h, w), np.float32),
            np.zeros((h, w), np.uint8),
            frame_index,
        )


def _layout(mesh: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The mesh's frontal layout in layout pixels, its corner at (2, 2); and its shape."""
    flat = frontal_layout(mesh) * SCALE
    flat -= flat.min(axis=0) - 2.0
    w, h = (int(np.ceil(v)) + 3 for v in flat.max(axis=0))
    return flat.astype(np.float32), (h, w)


def _areas(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Signed area (x2) of each triangle of ``points``."""
    p = np.asarray(points, np.float32)[:, :2][tris]  # (T, 3, 2)
    u, v = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


def _facing(live: np.ndarray, look: _Look) -> np.ndarray:
    """The triangles that face the camera well enough: their signed area on the live face
    over their area in the layout is at least ``MIN_FACING`` of the face's median."""
    flat = look.flat_area
    ratio = _areas(live, look.triangles) / np.where(np.abs(flat) < 1e-6, 1e-6, flat)
    typical = float(np.median(ratio))
    if typical <= 0:
        return look.triangles[:0]
    return look.triangles[ratio >= MIN_FACING * typical]


@njit(cache=True, nogil=True)
def _distance(ycc: np.ndarray, mean: np.ndarray, inv: np.ndarray, sure: np.ndarray, out: np.ndarray) -> None:
    """Sets ``out`` to each ``sure`` pixel's squared, weighted distance from ``mean`` after
    the median shift of all sure pixels is taken out (the light of the whole face may
    have changed: that is not an object); 0 elsewhere."""
    h, w = sure.shape
    hist = np.zeros((3, 512), np.int64)
    n = 0
    for y in range(h):
        for x in range(w):
            if sure[y, x]:
                n += 1
                for c in range(3):
                    d = int(np.floor(ycc[y, x, c] - mean[y, x, c] + 0.5))
                    hist[c, min(max(d + 256, 0), 511)] += 1
    shift = np.zeros(3, np.float32)
    for c in range(3):
        acc = 0
        for k in range(512):
            acc += hist[c, k]
            if 2 * acc >= n:
                shift[c] = k - 256
                break
    for y in range(h):
        for x in range(w):
            dist = 0.0
            if sure[y, x]:
                for c in range(3):
                    z = (ycc[y, x, c] - mean[y, x, c] - shift[c]) * inv[y, x, c]
                    dist += z * z
            out[y, x] = dist


@njit(cache=True, nogil=True)
def _learn(
    seen: np.ndarray,
    use: np.ndarray,
    covered: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    inv: np.ndarray,
    count: np.ndarray,
    mature: np.ndarray,
    weight: np.ndarray,
    floor: np.ndarray,
) -> None:
    """One frame into the running mean and spread of each used pixel of the layout. Where
    something was ``covered`` (in front) the mean moves slowly and the spread not at all:
    an object's distance would widen the spread for good."""
    h, w = count.shape
    for y in range(h):
        for x in range(w):
            if not use[y, x]:
                continue
            n = count[y, x]
            slow = covered[y, x] != 0 and n >= MATURE
            r = RATE_COVERED if slow else max(1.0 / (n + 1.0), RATE)
            for c in range(3):
                d = seen[y, x, c] - mean[y, x, c]
                mean[y, x, c] += r * d
                if not slow:
                    # Robustly: a near miss of the check widens the spread by a bounded step,
                    # or a few of them would let an object in for good.
                    bound = CLAMP * max(np.sqrt(var[y, x, c]), 1.0)
                    dc = min(abs(d), bound) if n >= MATURE else d
                    var[y, x, c] = (1.0 - r) * (var[y, x, c] + r * dc * dc)
                inv[y, x, c] = weight[c] / max(np.sqrt(var[y, x, c]), floor[c])
            count[y, x] = min(n + 1.0, 1e6)
            if n + 1.0 >= MATURE:
                mature[y, x] = 255


def _nearest(image: np.ndarray, m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """``image`` through a dense map, nearest pixel, 0 outside."""
    return cv2.remap(image, m1, m2, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _warm_up() -> None:
    """Compile (or load from numba's cache) both kernels on a few pixels: compiling them at
    the first tracked frame would stall a live stream for a second or two."""
    one = np.zeros((2, 2, 3), np.float32)
    mask = np.full((2, 2), 255, np.uint8)
    _distance(np.zeros((2, 2, 3), np.uint8), one, one, mask, np.zeros((2, 2), np.float32))
    stats = (one, one.copy(), one.copy(), np.zeros((2, 2), np.float32), mask.copy())
    _learn(np.zeros((2, 2, 3), np.uint8), mask, mask, *stats, WEIGHT, FLOOR)


class FaceMemory:
    """Per-track looks of the live face; faces without a track (stills) are never checked."""

    def __init__(self) -> None:
        self._looks: dict[int, _Look] = {}
        self._lock = threading.Lock()  # frames of one track may be on two workers at once
        _warm_up()

    def reset(self) -> None:
        with self._lock:
            self._looks.clear()

    def occluders(
        self,
        track_id: int,
        frame_index: int,
        ycc_half: np.ndarray,
        skin_half: np.ndarray,
        target_mesh: np.ndarray,
        drawn_mesh: np.ndarray,
        origin: tuple[int, int],
        size: float,
        settings: MeshSettings,
    ) -> np.ndarray | None:
        """``occlusion.find_occluders`` (skin colour, ``occlusion_threshold``) with, for a
        tracked face, what has changed since it was seen clear (``occlusion_memory``; 0:
        not checked); then this frame is learned (every other frame: half the cost)."""
        colour, limit = settings.occlusion_threshold, settings.occlusion_memory
        if track_id < 0 or limit <= 0:
            return find_occluders(ycc_half, skin_half, target_mesh, drawn_mesh, origin, size, colour)
        # The face but its eyes and brows (blinks; glasses go whole) and the mouth's opening
        # (teeth come and go): the lips are checked, a hand over the mouth is the usual case.
        region = fill(skin_half.shape, target_mesh[FACE_OVAL], origin, 0.5)
        holes = feature_holes(
            (target_mesh, drawn_mesh), skin_half.shape, origin, 0.02 * size, 0.5, 0.06 * size, LIPS_INNER
        )
        region = cv2.bitwise_and(region, cv2.bitwise_not(holes))
        live = np.asarray(target_mesh, np.float32).copy()
        live[:, :2] -= np.asarray(origin, np.float32)
        live *= 0.5
        with self._lock:
            look = self._looks.get(track_id)
            if look is None or abs(frame_index - look.seen) > MAX_AGE:
                # New, or seen again after a while (lit or dressed otherwise): start over.
                look = self._start(track_id, target_mesh, frame_index)
            view = _View.of(look, live, ycc_half, region)
            moved = view.changed(look, limit) if view is not None else None
            occ = find_occluders(ycc_half, skin_half, target_mesh, drawn_mesh, origin, size, colour, moved)
            learn = not frame_index % 2 or look.seen == frame_index  # every other frame, and the first
            look.seen = max(look.seen, frame_index)  # two workers may finish frames out of order
            if view is not None and learn:
                view.learn(look, occ)
        return occ

    def _start(self, track_id: int, mesh: np.ndarray, frame_index: int) -> _Look:
        look = self._looks[track_id] = _Look.start(mesh, frame_index)
        if len(self._looks) > 8:
            for k in [k for k, v in self._looks.items() if abs(frame_index - v.seen) > MAX_AGE]:
                del self._looks[k]
        return look


@dataclass
class _View:
    """One frame of the live face seen in its track's layout: what the check compares and
    what is learned, sampled the same way, so the resampling's blur is on both sides."""

    live: np.ndarray  # (N, 3) mesh in half-resolution patch pixels
    tris: np.ndarray  # the triangles facing the camera
    shape: tuple[int, int]  # the patch's at half resolution
    to_patch: tuple[np.ndarray, np.ndarray]  # dense map: layout pixel -> patch position
    seen: np.ndarray  # (H, W, 3) uint8 the live face in the layout
    use: np.ndarray  # (H, W) uint8 where the layout sees the face's checked region
    far: np.ndarray | None = None  # (H, W) uint8 what the check found far or near, in the layout

    @classmethod
    def of(cls, look: _Look, live: np.ndarray, ycc_half: np.ndarray, region: np.ndarray) -> _View | None:
        tris = _facing(live, look)
        if len(tris) == 0:
            return None
        flat = np.concatenate([look.layout, np.zeros((len(look.layout), 1), np.float32)], axis=1)
        m1, m2, cover = dense_map(flat, live[:, :2], tris, (0, 0), look.count.shape)
        seen = cv2.remap(ycc_half, m1, m2, cv2.INTER_LINEAR)
        use = cv2.bitwise_and(_nearest(region, m1, m2), cover)
        return cls(live, tris, region.shape[:2], (m1, m2), seen, use)

    def changed(self, look: _Look, limit: float) -> np.ndarray | None:
        """uint8 0/255 at half resolution: where the face is farther than ``limit`` spreads
        from its learned look; None while too little of it is learned."""
        sure = cv2.bitwise_and(look.mature, self.use)
        if cv2.countNonZero(sure) < 32:
            return None
        raw = np.empty(sure.shape, np.float32)
        _distance(self.seen, look.mean, look.inv, sure, raw)
        # Averaged over 3 x 3 first: sensor noise speckles an object's distance, not its mean.
        dist = cv2.blur(raw, (3, 3))
        # What is learned slowly: beyond half the limit, before or after the average (an
        # object's own pixels that pass for the face, learned at full rate, would pull its
        # neighbours' average under the limit and wear it away).
        near = cv2.max(raw, dist)
        self.far = cv2.threshold(near, 0.25 * limit * limit, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        # Back to the patch: each patch pixel reads its point of the layout.
        m1, m2, cover = dense_map(self.live, look.layout, self.tris, (0, 0), self.shape)
        back = cv2.remap(dist, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        far = cv2.threshold(back, limit * limit, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        return cv2.bitwise_and(far, cv2.bitwise_and(_nearest(sure, m1, m2), cover))

    def learn(self, look: _Look, occluded_half: np.ndarray | None) -> None:
        """This frame into the look; what is in front (``occluded_half``, or what did not
        match, even a speck the check let go) only slowly."""
        covered = np.zeros_like(self.use) if self.far is None else self.far
        if occluded_half is not None:
            covered = cv2.bitwise_or(covered, _nearest(occluded_half, *self.to_patch))
        _learn(
            self.seen,
            self.use,
            covered,
            look.mean,
            look.var,
            look.inv,
            look.count,
            look.mature,
            WEIGHT,
            FLOOR,
        )
