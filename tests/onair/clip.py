"""A clip in which a real face photo turns 90 degrees and back, then jumps aside, with the face
box of every frame: what the fail-closed tests feed the real CLI and judge its output against.

The turn is a perspective warp of the photo about its vertical axis (the face narrows to an
edge at 90 degrees, as a head seen in profile leaves no frontal face to track); the jump moves
the face a third of the frame in one frame, faster than any tracker follows.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FACE = ROOT / "realtime" / "assets" / "faces" / "grace_hopper.jpg"
W, H, FPS = 640, 480, 25
BACKGROUND = (118, 122, 126)


def _schedule(n_still: int, n_turn: int, n_profile: int, n_after: int) -> list[tuple[float, float]]:
    """(yaw in degrees, x offset in pixels) per frame: still, turn to 90 degrees, stay in
    profile, turn back, still, then jump aside and stay there."""
    out: list[tuple[float, float]] = [(0.0, 0.0)] * n_still
    out += [(90.0 * i / n_turn, 0.0) for i in range(n_turn)]
    out += [(90.0, 0.0)] * n_profile
    out += [(90.0 * (1 - i / n_turn), 0.0) for i in range(n_turn)]
    out += [(0.0, 0.0)] * n_still
    out += [(0.0, W / 3)] * n_after  # the jump aside
    return out


def _sprite() -> np.ndarray:
    img = cv2.imread(str(FACE))
    assert img is not None
    h = int(H * 0.75)
    w = int(img.shape[1] * h / img.shape[0])
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def render(yaw: float, dx: float, sprite: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One frame and the box of the (warped) photo's face area in it."""
    frame = np.empty((H, W, 3), np.uint8)
    frame[...] = BACKGROUND
    sh, sw = sprite.shape[:2]
    cx = W / 2 - W / 6 + dx
    top = (H - sh) / 2
    half = sw / 2 * max(math.cos(math.radians(yaw)), 0.02)
    # The far edge shrinks in height as the photo turns away (perspective).
    shrink = 0.25 * math.sin(math.radians(yaw)) * sh / 2
    src = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    dst = np.float32(
        [
            [cx - half, top],
            [cx + half, top + shrink],
            [cx + half, top + sh - shrink],
            [cx - half, top + sh],
        ]
    )
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(sprite, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), m, (W, H))
    frame[mask > 0] = warped[mask > 0]
    # The face's own area in the photo: its central part (hair and collar left out).
    fx1, fx2, fy1, fy2 = 0.30, 0.70, 0.22, 0.62
    pts = cv2.perspectiveTransform(
        np.float32(
            [[[fx1 * sw, fy1 * sh], [fx2 * sw, fy1 * sh], [fx2 * sw, fy2 * sh], [fx1 * sw, fy2 * sh]]]
        ),
        m,
    )[0]
    x1, y1 = np.floor(pts.min(axis=0)).astype(int)
    x2, y2 = np.ceil(pts.max(axis=0)).astype(int)
    return frame, (max(x1, 0), max(y1, 0), min(x2, W), min(y2, H))


def make_clip(
    path: Path, n_still: int = 15, n_turn: int = 15, n_profile: int = 30, n_after: int = 25
) -> list[tuple[int, int, int, int]]:
    """Write the clip (H.264, near-lossless) and return the face box of each frame."""
    sprite = _sprite()
    boxes = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for yaw, dx in _schedule(n_still, n_turn, n_profile, n_after):
            img, box = render(yaw, dx, sprite)
            boxes.append(box)
            for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return boxes


def read_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="bgr24") for fr in f.decode(video=0)]


def region_diff(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Mean absolute difference of two frames inside ``box`` (0 to 255)."""
    x1, y1, x2, y2 = box
    if x2 - x1 < 1 or y2 - y1 < 1:
        return float("inf")
    pa = a[y1:y2, x1:x2].astype(np.int16)
    pb = b[y1:y2, x1:x2].astype(np.int16)
    return float(np.abs(pa - pb).mean())
