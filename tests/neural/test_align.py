"""Alignment on the reference templates and paste-back, on the bundled photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.transform import SimilarityTransform

from realtime.faces.align import (
    alignment_matrix,
    box_mask,
    estimate_similarity,
    footprint,
    get_template,
    paste_back,
    transform_points,
    warp_face,
)

TEMPLATES = ("arcface_112_v1", "arcface_112_v2", "arcface_128", "ffhq_512")


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("size", [112, 128, 256, 512])
def test_matrix_is_the_least_squares_similarity(photo_kps, template, size) -> None:
    """Our fit equals skimage's SimilarityTransform (what insightface uses) to 1e-6 px."""
    dst = get_template(template) * size
    ref = (
        SimilarityTransform.from_estimate(photo_kps, dst)
        if hasattr(SimilarityTransform, "from_estimate")
        else None
    )
    if ref is None:  # older skimage
        ref = SimilarityTransform()
        ref.estimate(photo_kps, dst)
    m = alignment_matrix(photo_kps, template, size)
    np.testing.assert_allclose(transform_points(photo_kps, m), ref(photo_kps), atol=1e-6)
    # and it is a similarity: equal scale on both axes, no shear
    a = m[:, :2]
    assert abs(a[0, 0] - a[1, 1]) < 1e-9 and abs(a[0, 1] + a[1, 0]) < 1e-9


def test_exact_similarity_lands_exactly_on_template() -> None:
    rng = np.random.default_rng(0)
    for template in TEMPLATES:
        dst = get_template(template) * 256
        ang, s, t = rng.uniform(-0.5, 0.5), rng.uniform(0.3, 3), rng.uniform(-200, 200, 2)
        rot = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        src = (dst - t) @ np.linalg.inv(rot).T  # src -> dst is exactly x @ rot.T + t
        np.testing.assert_allclose(transform_points(src, estimate_similarity(src, dst)), dst, atol=1e-6)


@pytest.mark.parametrize("template,size", [("arcface_128", 128), ("arcface_112_v2", 112), ("ffhq_512", 512)])
def test_warped_landmarks_land_where_the_matrix_says(photo, photo_kps, template, size) -> None:
    """Blobs drawn at the photo's 5 points, warped with the crop, land within 0.5 px of M * kps;
    and M * kps is as close to the scaled template as any similarity can put them."""
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    crops = []
    for k in photo_kps:  # one channel per point, a Gaussian blob 3 px wide
        blob = np.exp(-((xx - k[0]) ** 2 + (yy - k[1]) ** 2) / (2 * 3.0**2)).astype(np.float32)
        crop, m = warp_face(blob, photo_kps, template, size)
        crops.append(crop)
    expected = transform_points(photo_kps, m)
    for crop, e in zip(crops, expected, strict=True):
        cy, cx = np.mgrid[: crop.shape[0], : crop.shape[1]]
        wgt = np.clip(crop, 0, None)
        centroid = np.array([(wgt * cx).sum(), (wgt * cy).sum()]) / wgt.sum()
        assert np.abs(centroid - e).max() < 0.5, (centroid, e)
    # The residual to the template is the irreducible one of the best similarity (real faces
    # are not exact similarity images of a template), not an alignment error.
    dst = get_template(template) * size
    residual = np.linalg.norm(expected - dst, axis=1)
    for _ in range(20):  # no perturbed similarity does better
        jitter = m + np.random.default_rng(_).normal(0, 0.01, m.shape) * [[1, 1, size], [1, 1, size]]
        other = np.linalg.norm(transform_points(photo_kps, jitter) - dst, axis=1)
        assert (other**2).sum() >= (residual**2).sum() - 1e-9
    assert residual.max() < 0.08 * size  # and the points are where a face should be


def test_paste_back_of_identity_swap(photo, photo_kps) -> None:
    """Unchanged outside the mask (bit-exact), within 2 grey levels inside (bicubic round trip)."""
    size = 512
    crop, m = warp_face(photo, photo_kps, "ffhq_512", size)
    mask = box_mask(size, 0.3)
    out = paste_back(photo, crop, m, mask)
    warped_mask = cv2.warpAffine(mask, cv2.invertAffineTransform(m), (photo.shape[1], photo.shape[0]))
    outside = warped_mask == 0
    assert np.array_equal(out[outside], photo[outside])
    inside = warped_mask > 0.999
    assert inside.sum() > 5000
    diff = np.abs(out.astype(int) - photo.astype(int))[inside]
    assert (diff <= 2).mean() > 0.999 and diff.mean() < 0.5, (diff.max(), diff.mean())
    x1, y1, x2, y2 = footprint(m, (size, size), photo.shape)
    untouched = np.ones(photo.shape[:2], bool)
    untouched[y1:y2, x1:x2] = False
    assert np.array_equal(out[untouched], photo[untouched])


def test_paste_back_changes_inside_and_clips_at_borders(photo) -> None:
    kps = np.array([[5, 10], [45, 12], [25, 30], [8, 48], [42, 50]], np.float64)  # face at the corner
    crop, m = warp_face(photo, kps, "arcface_128", 128)
    out = paste_back(photo, np.full_like(crop, 255), m, box_mask(128, 0.1))
    assert out.shape == photo.shape and out.dtype == photo.dtype
    assert (out[20:40, 15:35] == 255).all()  # the face centre took the pasted value
    assert np.array_equal(out[200:, 200:], photo[200:, 200:])


def test_box_mask_is_feathered() -> None:
    m = box_mask(128, 0.3)
    assert m.shape == (128, 128) and m.dtype == np.float32
    assert m[64, 64] == pytest.approx(1.0, abs=1e-3)
    assert m[0, :].max() == 0 and m[:, 0].max() == 0 and m[-1, :].max() == 0 and m[:, -1].max() == 0
    assert 0.1 < m[64, 12] < 0.95  # a soft edge, not a step
