"""BlazeFace: anchors, decoding, NMS, letterboxing, and detection on real and empty images."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.detector import (
    FaceDetector,
    box_iou,
    decode_raw,
    letterbox,
    ssd_anchors,
    weighted_nms,
)

from .conftest import WALL, SensorNoise, face_crop, warp_photo


def test_short_range_anchor_grid_matches_896_outputs() -> None:
    a = ssd_anchors(128, [8, 16, 16, 16], 0.5, 1.0)
    assert a.shape == (896, 2)
    # stride 8: 16x16 cells, 2 anchors each, row-major, centred in their cells
    np.testing.assert_allclose(a[0], a[1])
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[32], [0.5 / 16, 1.5 / 16])
    # three stride-16 layers share the 8x8 grid: 6 anchors per cell
    np.testing.assert_allclose(a[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(a[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchor_grid_matches_2304_outputs() -> None:
    a = ssd_anchors(192, [4], 0.5, 0.0)
    assert a.shape == (2304, 2)
    np.testing.assert_allclose(a[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[1], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[48], [0.5 / 48, 1.5 / 48])


def test_decode_places_box_and_keypoints_relative_to_anchor() -> None:
    anchors = np.array([[0.25, 0.5], [0.75, 0.5]], np.float32)
    reg = np.zeros((2, 16), np.float32)
    reg[1, :4] = [12.8, -6.4, 25.6, 51.2]  # dx, dy, w, h in input pixels (input 128)
    reg[1, 4:6] = [-12.8, 0.0]  # first keypoint
    logits = np.array([-5.0, 3.0], np.float32)
    boxes, kps, scores = decode_raw(reg, logits, anchors, box_scale=128.0, score_threshold=0.5)
    assert len(scores) == 1
    np.testing.assert_allclose(scores[0], 1 / (1 + np.exp(-3.0)), rtol=1e-6)
    cx, cy = 0.75 + 0.1, 0.5 - 0.05
    np.testing.assert_allclose(boxes[0], [cx - 0.1, cy - 0.2, cx + 0.1, cy + 0.2], atol=1e-6)
    np.testing.assert_allclose(kps[0, 0], [0.65, 0.5], atol=1e-6)
    np.testing.assert_allclose(kps[0, 1], [0.75, 0.5], atol=1e-6)


def test_weighted_nms_merges_overlaps_by_score_and_keeps_separate_faces() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[1] += 3.0
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    out = weighted_nms(boxes, kps, scores, 0.3)
    assert len(out) == 2
    box, pts, score = out[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.25, 0, 10.25, 10], atol=1e-5)  # (0.9*0 + 0.3*1) / 1.2
    np.testing.assert_allclose(pts[0], [0.75, 0.75], atol=1e-5)
    np.testing.assert_allclose(out[1][0], boxes[2])


def test_box_iou() -> None:
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou[0], [1.0, 1 / 3, 0.0], atol=1e-6)


@pytest.mark.parametrize("shape", [(720, 1280), (1280, 720), (333, 517), (128, 128)])
def test_letterbox_keeps_aspect_and_maps_back(shape: tuple[int, int]) -> None:
    h, w = shape
    img = np.zeros((h, w, 3), np.uint8)
    img[h // 4 : h // 2, w // 3 : w // 2] = 255  # a white block
    out, lb = letterbox(img, 128)
    assert out.shape == (128, 128, 3)
    assert lb.scale_x == pytest.approx(lb.scale_y, rel=0.02)  # no distortion
    ys, xs = np.nonzero(out[:, :, 0] > 127)
    corners = lb.to_image(np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.max() + 1]], np.float32))
    tol = 1.5 / lb.scale_x  # a model pixel, in image pixels
    np.testing.assert_allclose(corners[0], [w // 3, h // 4], atol=tol)
    np.testing.assert_allclose(corners[1], [w // 2, h // 2], atol=tol)


@pytest.fixture(scope="module")
def short() -> FaceDetector:
    return FaceDetector("short")


@pytest.fixture(scope="module")
def full() -> FaceDetector:
    return FaceDetector("full")


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_detector_finds_the_face_with_keypoints_in_it(short: FaceDetector, photos, name: str) -> None:
    dets = short.detect(photos[name])
    assert len(dets) == 1
    d = dets[0]
    assert d.score > 0.8
    x1, y1, x2, y2 = d.box
    assert d.keypoints.shape == (6, 2)
    eyes_nose_mouth = d.keypoints[:4]
    assert np.all((eyes_nose_mouth[:, 0] > x1) & (eyes_nose_mouth[:, 0] < x2))
    assert np.all((eyes_nose_mouth[:, 1] > y1) & (eyes_nose_mouth[:, 1] < y2))
    assert d.keypoints[0, 0] < d.keypoints[1, 0]  # subject's right eye on the image left


def test_wide_frame_is_letterboxed_not_squashed(short: FaceDetector, photos) -> None:
    """The same face in a 16:9 frame gives the same box shape as in its square photo."""
    img = photos["grace_hopper"]
    ref = short.detect(img)[0]
    wide, m = warp_photo(img, shift=(500, 60), size=(1280, 720))
    det = short.detect(wide)
    assert len(det) == 1
    expect = ref.box + np.array([m[0, 2], m[1, 2], m[0, 2], m[1, 2]], np.float32)
    np.testing.assert_allclose(det[0].box, expect, atol=0.04 * (ref.box[2] - ref.box[0]))
    ratio = (det[0].box[2] - det[0].box[0]) / (det[0].box[3] - det[0].box[1])
    assert ratio == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("model", ["short", "full"])
def test_several_faces_per_frame(short: FaceDetector, full: FaceDetector, photos, model: str) -> None:
    canvas = np.empty((720, 1280, 3), np.uint8)
    canvas[:] = WALL
    canvas[160:560, 150:550] = face_crop(photos["astronaut"], 225, 130, 120, 400)
    canvas[160:560, 730:1130] = face_crop(photos["grace_hopper"], 262, 240, 170, 400)
    dets = (short if model == "short" else full).detect(canvas)
    assert len(dets) == 2
    xs = sorted(float(d.box[0] + d.box[2]) / 2 for d in dets)
    assert 150 < xs[0] < 550 and 730 < xs[1] < 1130


def test_full_range_finds_a_distant_face_the_short_range_model_misses(short, full, photos) -> None:
    small, _ = warp_photo(photos["grace_hopper"], scale=0.45, shift=(700, 200), size=(1280, 720))
    assert len(short.detect(small)) == 0
    dets = full.detect(small)
    assert len(dets) == 1
    assert 700 < dets[0].box[0] < dets[0].box[2] < 700 + 512 * 0.45


def test_score_threshold_setting(photos) -> None:
    img = photos["grace_hopper"]
    score = FaceDetector("short", score_threshold=0.05).detect(img)[0].score
    assert len(FaceDetector("short", score_threshold=min(0.999, score + 0.01)).detect(img)) == 0


@pytest.mark.parametrize("kind", ["noise", "blank", "black"])
def test_no_face_in_noise_or_a_blank_wall(short: FaceDetector, full: FaceDetector, kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "noise":
        img = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    elif kind == "blank":
        img = SensorNoise(1)(np.full((720, 1280, 3), WALL, np.uint8))
    else:
        img = np.zeros((480, 640, 3), np.uint8)
    assert short.detect(img) == []
    assert full.detect(img) == []
