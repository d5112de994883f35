"""The dense piecewise-affine map: exact on affine motion, z-buffered, bounded to its box."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from realtime.frame import Face
from realtime.swap.mesh.warp import dense_map, frontal_layout, triangulate, warp_texture

PhotoFaces = dict[str, tuple[np.ndarray, Face]]


def _float_maps(map1: np.ndarray, map2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv2.convertMaps(map1, map2, cv2.CV_32FC1)


def test_triangulation_tiles_the_hull_without_overlap(photo_faces: PhotoFaces) -> None:
    mesh = photo_faces["astronaut"][1].mesh
    assert mesh is not None
    layout = frontal_layout(mesh)
    tris = triangulate(layout)
    assert tris.dtype == np.int32 and tris.shape[1] == 3
    assert tris.min() >= 0 and tris.max() < len(layout)
    assert len(np.unique(tris)) == len(layout)  # every point is used
    p = layout.astype(np.float64)
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    areas = 0.5 * np.abs(cross)
    hull = cv2.contourArea(cv2.convexHull(layout.astype(np.float32)))
    assert areas.sum() == pytest.approx(hull, rel=1e-3)  # a tiling: no gap, no overlap


def test_frontal_layout_ignores_head_pose(photo_faces: PhotoFaces) -> None:
    mesh = photo_faces["grace_hopper"][1].mesh
    assert mesh is not None
    yaw, roll = math.radians(25), math.radians(15)
    ry = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    rz = np.array([[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1]])
    turned = (mesh - mesh.mean(axis=0)) @ (rz @ ry).T * 1.7 + 40
    np.testing.assert_allclose(frontal_layout(turned), frontal_layout(mesh), atol=1e-4)


def _grid(n: int = 6, size: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) * (size / (n - 1))
    pts = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n, np.float32)], axis=1)
    return pts, triangulate(pts[:, :2])


def test_map_is_exact_for_an_affine_motion() -> None:
    src, tris = _grid()
    a = np.array([[1.3, 0.2], [-0.15, 0.9]], np.float32)
    dst = src.copy()
    dst[:, :2] = src[:, :2] @ a.T + (17.0, 9.0)
    origin, shape = (10, 5), (80, 90)
    map1, map2, cover = dense_map(dst, src[:, :2], tris, origin, shape)
    mx, my = _float_maps(map1, map2)
    ys, xs = np.nonzero(cover)
    assert len(ys) > 0.9 * cv2.contourArea(cv2.convexHull(np.ascontiguousarray(dst[:, :2])))
    frame = np.stack([xs + origin[0], ys + origin[1]], axis=1).astype(np.float64) - (17.0, 9.0)
    expect = frame @ np.linalg.inv(a.astype(np.float64)).T
    assert np.abs(mx[ys, xs] - expect[:, 0]).max() <= 1 / 32 + 1e-3
    assert np.abs(my[ys, xs] - expect[:, 1]).max() <= 1 / 32 + 1e-3


def test_nearer_surface_wins_where_the_mesh_folds() -> None:
    # Two triangles over the same pixels, mapping to different texture places.
    dst = np.array([[0, 0, 5], [20, 0, 5], [0, 20, 5], [0, 0, -5], [20, 0, -5], [0, 20, -5]], np.float32)
    src = np.array([[0, 0], [10, 0], [0, 10], [100, 100], [110, 100], [100, 110]], np.float32)
    for order in ([[0, 1, 2], [3, 4, 5]], [[3, 4, 5], [0, 1, 2]]):
        map1, map2, cover = dense_map(dst, src, np.array(order, np.int32), (0, 0), (21, 21))
        mx, _ = _float_maps(map1, map2)
        assert cover[5, 5] == 255
        assert mx[5, 5] >= 100  # z = -5 is nearer: its texture shows, whatever the order


def test_map_stays_inside_its_region_and_marks_uncovered_pixels() -> None:
    src, tris = _grid()
    dst = src.copy()
    dst[:, :2] -= 20  # half of the mesh left of and above the region
    map1, map2, cover = dense_map(dst, src[:, :2], tris, (0, 0), (40, 40))
    assert cover.shape == (40, 40) and cover.dtype == np.uint8
    assert cover[:30, :30].all() and not cover[31:, :].any() and not cover[:, 31:].any()
    tex = np.full((60, 60, 3), 200, np.uint8)
    warped = warp_texture(tex, map1, map2)
    assert (warped[cover == 0] == 0).all() and (warped[:29, :29] == 200).all()
