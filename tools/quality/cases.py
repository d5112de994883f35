"""The cases of the quality benchmark, built from public photos only: the bundled faces,
scikit-image's astronaut and matplotlib's Grace Hopper (flips, crops and scale changes of
them), scikit-image's object photos (a coffee cup, Chelsea the cat, a rocket) as occluders,
and clips of a target with sensor noise or a slow, noiseless move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.quality.judge import load_photo


def _skimage_astronaut() -> np.ndarray:
    import skimage.data  # optional test dependency, imported only for the benchmark

    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])


def _matplotlib_grace() -> np.ndarray:
    import matplotlib  # optional test dependency, imported only for the benchmark

    img = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    if img is None:
        raise FileNotFoundError("matplotlib's sample_data/grace_hopper.jpg")
    return img


def _scaled(img: np.ndarray, f: float) -> np.ndarray:
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, None, fx=f, fy=f, interpolation=interp)


def _crop(img: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """A crop given in fractions of the image's width and height."""
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)])


# name: (how the source photo is made, how the target frame is made). The first two are the
# bundled pairs the identity and mouth targets are set on.
PAIRS: dict[str, tuple[Callable[[], np.ndarray], Callable[[], np.ndarray]]] = {
    "astronaut->grace_hopper": (lambda: load_photo("astronaut"), lambda: load_photo("grace_hopper")),
    "grace_hopper->astronaut": (lambda: load_photo("grace_hopper"), lambda: load_photo("astronaut")),
    # scikit-image's astronaut, mirrored, onto a smaller Grace Hopper: the photo's face is larger.
    "skimage_astronaut_flip->grace_small": (
        lambda: np.ascontiguousarray(_skimage_astronaut()[:, ::-1]),
        lambda: _scaled(load_photo("grace_hopper"), 0.6),
    ),
    # matplotlib's Grace Hopper at half size onto the astronaut enlarged: the photo's face is
    # much smaller than the camera's (the case the photo check warns about).
    "grace_half->astronaut_large": (
        lambda: _scaled(_matplotlib_grace(), 0.5),
        lambda: _scaled(_crop(load_photo("astronaut"), 0.2, 0.0, 0.8, 0.6), 2.0),
    ),
    # matplotlib's Grace Hopper at 0.6 onto the astronaut: a photo face a little larger.
    "grace_0.6->astronaut": (lambda: _scaled(_matplotlib_grace(), 0.6), lambda: load_photo("astronaut")),
    # Grace Hopper onto a smaller astronaut: a photo face 2.6 times the target's (the texture
    # pyramid's coarser level).
    "grace_hopper->astronaut_small": (
        lambda: load_photo("grace_hopper"),
        lambda: _scaled(load_photo("astronaut"), 0.75),
    ),
    # Grace Hopper mirrored onto the astronaut mirrored and cropped.
    "grace_flip->astronaut_flip_crop": (
        lambda: np.ascontiguousarray(load_photo("grace_hopper")[:, ::-1]),
        lambda: np.ascontiguousarray(_crop(load_photo("astronaut"), 0.0, 0.0, 0.9, 0.8)[:, ::-1]),
    ),
}
BUNDLED = ("astronaut->grace_hopper", "grace_hopper->astronaut")


@dataclass(frozen=True)
class Occluder:
    """An object cut from a real photo: its pixels and a soft 0..1 mask."""

    name: str
    pixels: np.ndarray
    mask: np.ndarray


def _ellipse_mask(shape: tuple[int, int], center: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, center, axes, 0, 0, 360, 255, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(m, (0, 0), 1.0).astype(np.float32) / 255.0


def occluders() -> list[Occluder]:
    """A coffee cup on its saucer, Chelsea the cat's head (fur of a skin-like colour), and a
    rocket on its pad (thin and upright, like a microphone)."""
    import skimage.data  # optional test dependency, imported only for the benchmark

    out = []
    cup = np.ascontiguousarray(skimage.data.coffee()[:, :, ::-1])
    out.append(Occluder("coffee_cup", cup, _ellipse_mask(cup.shape[:2], (280, 215), (205, 170))))
    cat = np.ascontiguousarray(skimage.data.chelsea()[:, :, ::-1])
    out.append(Occluder("chelsea_cat", cat, _ellipse_mask(cat.shape[:2], (240, 160), (200, 135))))
    rocket = np.ascontiguousarray(skimage.data.rocket()[:, :, ::-1])
    m = np.zeros(rocket.shape[:2], np.uint8)
    cv2.rectangle(m, (300, 135), (340, 410), 255, -1)
    cv2.ellipse(m, (320, 140), (20, 16), 0, 180, 360, 255, -1)
    out.append(Occluder("rocket", rocket, cv2.GaussianBlur(m, (0, 0), 1.0).astype(np.float32) / 255.0))
    return out


def place_occluder(
    image: np.ndarray, occ: Occluder, points: np.ndarray, width: float, anchor: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with ``occ`` composited over its face (dlib's 68 ``points``): scaled to
    ``width`` times the face's width, its centre at ``anchor`` (fractions across the face
    box from the left and down from the nose tip to the chin). Returns the image and the
    occluder's hard mask (bool) in it."""
    x0, x1 = points[:, 0].min(), points[:, 0].max()
    nose, chin = points[30], points[8]
    f = width * (x1 - x0) / occ.pixels.shape[1]
    pix = cv2.resize(occ.pixels, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    msk = cv2.resize(occ.mask, (pix.shape[1], pix.shape[0]), interpolation=cv2.INTER_AREA)
    cx = x0 + anchor[0] * (x1 - x0)
    cy = nose[1] + anchor[1] * (chin[1] - nose[1])
    ox, oy = round(cx - pix.shape[1] / 2), round(cy - pix.shape[0] / 2)
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    alpha = np.zeros((h, w), np.float32)
    sx0, sy0 = max(0, -ox), max(0, -oy)
    dx0, dy0 = max(0, ox), max(0, oy)
    dx1, dy1 = min(w, ox + pix.shape[1]), min(h, oy + pix.shape[0])
    alpha[dy0:dy1, dx0:dx1] = msk[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    top = np.zeros_like(out)
    top[dy0:dy1, dx0:dx1] = pix[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    out += alpha[:, :, None] * (top - out)
    return np.clip(out.round(), 0, 255).astype(np.uint8), alpha > 0.99


# (occluder, width in face widths, anchor): the cup held below the mouth, the cat over one
# side of the mouth and chin, the rocket upright over the mouth like a microphone.
PLACEMENTS = {
    "coffee_cup": (0.75, (0.5, 1.05)),
    "chelsea_cat": (0.55, (0.78, 0.75)),
    "rocket": (0.9, (0.45, 0.8)),
}


def noisy_clip(image: np.ndarray, n: int, sigma: float, seed: int = 0) -> list[np.ndarray]:
    """``n`` copies of a still, each with fresh Gaussian sensor noise of ``sigma`` grey levels."""
    rng = np.random.default_rng(seed)
    base = image.astype(np.float32)
    return [with_noise(base, rng, sigma) for _ in range(n)]


def with_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """``image`` (any dtype) with fresh Gaussian sensor noise of ``sigma`` grey levels, as uint8."""
    return np.clip(image + rng.normal(0.0, sigma, image.shape), 0, 255).round().astype(np.uint8)


def slow_move(image: np.ndarray, n: int, center: tuple[float, float]) -> list[np.ndarray]:
    """``n`` noiseless frames of a slow head move: about 0.4 px and 0.15 degrees a frame."""
    h, w = image.shape[:2]
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        m = cv2.getRotationMatrix2D(center, 0.15 * i, 1.0 + 0.002 * i)
        m[0, 2] += 0.4 * i
        m[1, 2] += 0.25 * i * math.cos(t)
        out.append(cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return out


def object_enters(
    image: np.ndarray,
    occ: Occluder,
    points: np.ndarray,
    placement: tuple[float, tuple[float, float]],
    clear: int = 20,
    entering: int = 6,
    held: int = 6,
    sigma: float = 2.0,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """A stream in which ``occ`` is raised in front of the face (dlib's 68 ``points``):
    ``clear`` frames of the face alone, then the object slides up from 1.5 nose-to-chin
    heights below its place over ``entering`` frames and is held there for ``held``; every
    frame has fresh sensor noise of ``sigma``. Returns the frames and each one's occluder
    mask (None while the object is not there)."""
    width, (ax, ay) = placement
    # One generator for the whole stream: no frame repeats another's noise.
    rng = np.random.default_rng(seed)
    base = image.astype(np.float32)
    frames, masks = [with_noise(base, rng, sigma) for _ in range(clear)], [None] * clear
    for k in range(entering + held):
        comp, mask = place_occluder(image, occ, points, width, (ax, ay + 1.5 * max(0.0, 1 - k / entering)))
        frames.append(with_noise(comp, rng, sigma))
        masks.append(mask)
    return frames, masks


def light_change(image: np.ndarray, n: int, side: float, gain: float, sigma: float = 2.0) -> list[np.ndarray]:
    """``n`` frames of a still face whose light changes at frame ``n // 3`` at once (a lamp
    switched on): the whole picture times ``gain`` and, across it, from ``1 - side`` at the
    left edge to ``1 + side`` at the right; fresh sensor noise of ``sigma`` each frame."""
    w = image.shape[1]
    across = (1.0 + side * np.linspace(-1.0, 1.0, w, dtype=np.float32))[None, :, None] * gain
    rng = np.random.default_rng(7)
    base = image.astype(np.float32)
    out = []
    for i in range(n):
        lit = base * across if i >= n // 3 else base
        out.append(with_noise(lit, rng, sigma))
    return out
