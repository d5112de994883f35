"""Piecewise-affine warp over a fixed triangulation of the 468 mesh points, as one dense map.

The map is rasterised once per face with numba (target pixel -> source texture pixel, with a
z-buffer so a fold of the mesh, e.g. the far side of the nose on a turned head, shows the
near surface), and the texture is then sampled by a single ``cv2.remap`` over the face's
bounding box only.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numba import njit

from realtime.swap.mesh.masks import CHIN, EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS, FOREHEAD


def frontal_layout(mesh: np.ndarray) -> np.ndarray:
    """The mesh turned to face the camera and projected to 2-D, in inter-ocular units.

    Triangulating this layout rather than the photo's own projection gives well-shaped
    triangles whatever the source photo's head pose.
    """
    p = np.asarray(mesh, np.float64)
    eye_l = p[list(EYE_LEFT_CORNERS)].mean(axis=0)
    eye_r = p[list(EYE_RIGHT_CORNERS)].mean(axis=0)
    x = eye_r - eye_l
    iod = float(np.linalg.norm(x))
    if not math.isfinite(iod) or iod < 1e-6:
        raise ValueError("mesh has coincident eyes")
    x /= iod
    up = p[CHIN] - p[FOREHEAD]
    n = np.cross(x, up)
    n /= max(float(np.linalg.norm(n)), 1e-12)
    y = np.cross(n, x)
    c = p - (eye_l + eye_r) / 2
    return (np.stack([c @ x, c @ y], axis=1) / iod).astype(np.float32)


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) int32 of distinct 2-D points, as indices into ``points``."""
    pts = np.asarray(points, np.float32)[:, :2]
    lo = pts.min(axis=0) - 1.0
    hi = pts.max(axis=0) + 1.0
    scale = 1000.0 / float(max(hi - lo))  # Subdiv2D works in float32 pixels: give it room
    q = ((pts - lo) * scale).astype(np.float32)
    size = ((hi - lo) * scale).astype(np.float64)
    subdiv = cv2.Subdiv2D((0, 0, math.ceil(size[0]) + 1, math.ceil(size[1]) + 1))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(q):
        index.setdefault((float(x), float(y)), i)
        subdiv.insert((float(x), float(y)))
    tris = []
    for t in subdiv.getTriangleList():
        ids = [index.get((float(np.float32(t[k])), float(np.float32(t[k + 1])))) for k in (0, 2, 4)]
        if None not in ids and len(set(ids)) == 3:
            tris.append(ids)
    return np.asarray(tris, np.int32).reshape(-1, 3)


# cv2.remap's fixed-point maps: integer source pixel in map1, and in map2 the index of the
# fractional position on a 32 x 32 grid (OpenCV's INTER_TAB_SIZE), which is what remap
# converts float maps to on every call anyway.
TAB_BITS = 5
TAB_SIZE = 1 << TAB_BITS


@njit(cache=True, nogil=True)
def _rasterise(
    dst: np.ndarray,
    src: np.ndarray,
    tris: np.ndarray,
    x0: float,
    y0: float,
    map1: np.ndarray,
    map2: np.ndarray,
    zbuf: np.ndarray,
    cover: np.ndarray,
) -> None:
    h, w = zbuf.shape
    for t in range(tris.shape[0]):
        i0, i1, i2 = tris[t, 0], tris[t, 1], tris[t, 2]
        ax, ay, az = dst[i0, 0] - x0, dst[i0, 1] - y0, dst[i0, 2]
        bx, by, bz = dst[i1, 0] - x0, dst[i1, 1] - y0, dst[i1, 2]
        cx, cy, cz = dst[i2, 0] - x0, dst[i2, 1] - y0, dst[i2, 2]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-6:
            continue
        inv = 1.0 / area
        ymin = max(math.ceil(min(ay, by, cy)), 0)
        ymax = min(math.floor(max(ay, by, cy)), h - 1)
        # Source position and depth are affine in (x, y): p = p0 + x * px + y * py.
        su0, sv0 = src[i0, 0] * TAB_SIZE, src[i0, 1] * TAB_SIZE
        su1, sv1 = src[i1, 0] * TAB_SIZE, src[i1, 1] * TAB_SIZE
        su2, sv2 = src[i2, 0] * TAB_SIZE, src[i2, 1] * TAB_SIZE
        # Barycentric weight of vertex 0 and 1 as affine functions of (x, y).
        w0x, w0y = (by - cy) * inv, (cx - bx) * inv
        w1x, w1y = (cy - ay) * inv, (ax - cx) * inv
        w0c = (bx * cy - cx * by) * inv
        w1c = (cx * ay - ax * cy) * inv
        ux, uy, uc = (
            w0x * (su0 - su2) + w1x * (su1 - su2),
            w0y * (su0 - su2) + w1y * (su1 - su2),
            w0c * (su0 - su2) + w1c * (su1 - su2) + su2,
        )
        vx, vy, vc = (
            w0x * (sv0 - sv2) + w1x * (sv1 - sv2),
            w0y * (sv0 - sv2) + w1y * (sv1 - sv2),
            w0c * (sv0 - sv2) + w1c * (sv1 - sv2) + sv2,
        )
        zx, zy, zc = (
            w0x * (az - cz) + w1x * (bz - cz),
            w0y * (az - cz) + w1y * (bz - cz),
            w0c * (az - cz) + w1c * (bz - cz) + cz,
        )
        eps = 1e-5
        for y in range(ymin, ymax + 1):
            fy = float(y)
            # The row's span inside the triangle: where all three weights are >= 0.
            lo, hi = -1e30, 1e30
            for ex, ec in (
                (w0x, w0y * fy + w0c),
                (w1x, w1y * fy + w1c),
                (-w0x - w1x, 1.0 - (w0y + w1y) * fy - w0c - w1c),
            ):
                if ex > 1e-12:
                    lo = max(lo, (-eps - ec) / ex)
                elif ex < -1e-12:
                    hi = min(hi, (-eps - ec) / ex)
                elif ec < -eps:
                    lo, hi = 1.0, 0.0
            xs = max(math.ceil(lo), 0)
            xe = min(math.floor(hi), w - 1)
            # Stepped along the row; +0.5 and floor round to the nearest 1/32 pixel.
            z = zc + zy * fy + zx * xs
            u = uc + uy * fy + ux * xs + 0.5
            v = vc + vy * fy + vx * xs + 0.5
            for x in range(xs, xe + 1):
                if z < zbuf[y, x]:
                    zbuf[y, x] = z
                    iu = math.floor(u)
                    iv = math.floor(v)
                    map1[y, x, 0] = iu >> TAB_BITS
                    map1[y, x, 1] = iv >> TAB_BITS
                    map2[y, x] = (iv & (TAB_SIZE - 1)) * TAB_SIZE + (iu & (TAB_SIZE - 1))
                    cover[y, x] = 255
                z += zx
                u += ux
                v += vx


def dense_map(
    dst: np.ndarray,
    src: np.ndarray,
    tris: np.ndarray,
    origin: tuple[int, int],
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The remap tables of a ``shape`` region at ``origin`` (x, y) of the target frame.

    ``dst`` (N, 3) is the target mesh in frame pixels (z: smaller is nearer), ``src`` (N, 2) the
    same points in the texture (within int16 range). Returns cv2.remap's fixed-point maps
    (``map1`` int16 (h, w, 2), ``map2`` uint16 (h, w); uncovered pixels point outside the
    texture) and the coverage as a uint8 0/255 mask.
    """
    h, w = shape
    map1 = np.full((h, w, 2), -4, np.int16)
    map2 = np.zeros((h, w), np.uint16)
    zbuf = np.full((h, w), np.inf, np.float32)
    cover = np.zeros((h, w), np.uint8)
    _rasterise(
        np.ascontiguousarray(dst, np.float32),
        np.ascontiguousarray(src, np.float32),
        np.ascontiguousarray(tris, np.int32),
        float(origin[0]),
        float(origin[1]),
        map1,
        map2,
        zbuf,
        cover,
    )
    return map1, map2, cover


def warp_texture(texture: np.ndarray, map1: np.ndarray, map2: np.ndarray, sharp: bool = False) -> np.ndarray:
    """Sample the texture through a dense map; uncovered pixels come out black. ``sharp``
    samples bicubically (about twice the cost): worth it where the texture is shrunk, since
    bilinear sampling between two pyramid levels softens the photo's detail."""
    interp = cv2.INTER_CUBIC if sharp else cv2.INTER_LINEAR
    return cv2.remap(texture, map1, map2, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
