"""Recognizer, detectors, landmarker, enhancer and masks on synthetic models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.enhance.enhancer import FaceEnhancer
from realtime.faces.align import transform_points, warp_face
from realtime.faces.landmark68 import Fan68Landmarker, kps5_from_68
from realtime.faces.neural_detectors import NeuralDetector, anchor_centres, nms
from realtime.faces.recognize import ArcFaceRecognizer, RecognizeFaces
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess
from realtime.swap.neural.masks import (
    FaceMasker,
    OcclusionMasker,
    RegionMasker,
    color_transfer_lab,
    combine_masks,
    mouth_keep_mask,
)
from tests.neural.synthetic_models import (
    ARCFACE_DIRECTION,
    DETECTOR_BOX,
    DETECTOR_KPS,
    DETECTOR_SCORE,
    FAN_HEAT,
    FAN_POINTS,
    MOUTH_CLASS,
    SKIN_CLASS,
)


def test_arcface_embedding_direction_and_recognize_processor(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    rec = ArcFaceRecognizer.load(ModelAccess(models_dir=folder, specs=specs))
    raw, normed = rec.embed(photo, photo_kps)
    crop, _ = warp_face(photo, photo_kps, rec.template, 112)
    mean = ((crop[:, :, ::-1].astype(np.float64) - 127.5) / 127.5).mean()  # the model's input mean
    np.testing.assert_allclose(raw, ARCFACE_DIRECTION * (1 + mean), rtol=1e-4)
    np.testing.assert_allclose(normed, ARCFACE_DIRECTION / np.linalg.norm(ARCFACE_DIRECTION), atol=1e-6)
    frame = Frame(0, 0.0, photo.copy(), (Face(np.array([175, 76, 265, 166]), 0.9, photo_kps),))
    out = RecognizeFaces(rec)(frame)
    np.testing.assert_allclose(out.faces[0].embedding, normed, atol=1e-6)


@pytest.mark.parametrize("name", ["scrfd_2.5g", "retinaface_10g", "yoloface_8n"])
@pytest.mark.parametrize("shape", [(480, 640), (960, 1280), (640, 480)])
def test_detectors_decode_the_known_face(synthetic, name, shape) -> None:
    folder, specs = synthetic
    det = NeuralDetector.load(ModelAccess(models_dir=folder, specs=specs), name)
    image = np.full((*shape, 3), 90, np.uint8)
    faces = det.detect(image)
    assert len(faces) == 1  # the overlapping second anchor was suppressed by NMS
    scale = min(640 / shape[0], 640 / shape[1])
    f = faces[0]
    assert f.score == pytest.approx(DETECTOR_SCORE, abs=1e-6)
    np.testing.assert_allclose(f.box, np.minimum(DETECTOR_BOX / scale, [shape[1], shape[0]] * 2), atol=1e-3)
    np.testing.assert_allclose(f.kps, DETECTOR_KPS / scale, atol=1e-3)
    assert f.kps[0, 0] < f.kps[1, 0]  # image-left eye first
    out = det(Frame(0, 0.0, image))
    assert len(out.faces) == 1


def test_detector_threshold_drops_weak_faces(synthetic) -> None:
    folder, specs = synthetic
    det = NeuralDetector.load(ModelAccess(models_dir=folder, specs=specs), "scrfd_2.5g")
    det.score_threshold = 0.95
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_anchor_layout_and_nms() -> None:
    a = anchor_centres(640, 16, 2)
    assert a.shape == (40 * 40 * 2, 2)
    np.testing.assert_array_equal(a[:6], [[0, 0], [0, 0], [16, 0], [16, 0], [32, 0], [32, 0]])  # x fastest
    np.testing.assert_array_equal(a[80], [0, 16])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.7]), 0.4) == [1, 2]


def test_fan68_landmarks_and_kps(synthetic, photo) -> None:
    folder, specs = synthetic
    fan = Fan68Landmarker.load(ModelAccess(models_dir=folder, specs=specs))
    box = np.array([175.0, 76.0, 265.0, 166.0])
    pts, score = fan.landmarks(photo, box)
    m = fan.crop_matrix(box)
    scale = 195 / 90
    assert m[0, 0] == pytest.approx(scale)
    expected = (FAN_POINTS * 4 - m[:, 2]) / scale  # heatmap px -> crop px -> frame px
    np.testing.assert_allclose(pts, expected, atol=1e-3)
    assert score == pytest.approx(FAN_HEAT / 0.9, abs=1e-6)
    k5 = kps5_from_68(pts)
    np.testing.assert_allclose(k5[2], pts[30]) and np.testing.assert_allclose(k5[0], pts[36:42].mean(0))
    frame = fan(Frame(0, 0.0, photo, (Face(box, 0.9, np.zeros((5, 2))),)))
    np.testing.assert_allclose(frame.faces[0].kps, k5, atol=1e-4)


def test_enhancer_blend(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    face = Face(np.array([175, 76, 265, 166]), 0.9, photo_kps)
    frame = Frame(0, 0.0, photo.copy(), (face,))
    full = FaceEnhancer.load(ModelAccess(models_dir=folder, specs=specs), blend=1.0)
    assert full.name == "enhance"
    out = full(frame).image
    c = np.round(photo_kps[2]).astype(int)  # nose tip: inside the mask's flat top
    patch = (slice(c[1] - 3, c[1] + 3), slice(c[0] - 3, c[0] + 3))
    negative = 255.0 - photo[patch].astype(float)  # the synthetic GFPGAN returns -input
    assert np.abs(out[patch].astype(float) - negative).mean() < 3
    half = FaceEnhancer.load(ModelAccess(models_dir=folder, specs=specs), blend=0.5)(frame).image
    mid = (photo[patch].astype(float) + negative) / 2
    assert np.abs(half[patch].astype(float) - mid).mean() < 3
    none = FaceEnhancer.load(ModelAccess(models_dir=folder, specs=specs), blend=0.0)(frame).image
    assert np.array_equal(none, photo)
    assert np.array_equal(out[300:], photo[300:])


def test_occlusion_and_region_masks(synthetic) -> None:
    folder, specs = synthetic
    crop = np.full((128, 128, 3), 128, np.uint8)
    crop[:, 64:, 2] = 255  # red right half (BGR)
    crop[:, 64:, 1] = 0
    crop[:, :64, 2] = 0  # no red on the left: occluded for the synthetic xseg, skin for bisenet
    occ = OcclusionMasker.load(ModelAccess(models_dir=folder, specs=specs))(
        crop
    )  # synthetic xseg = red / 255
    assert occ.shape == (128, 128)
    assert occ[64, 120] == pytest.approx(1.0, abs=1e-3) and occ[64, 20] == pytest.approx(0.0, abs=1e-3)
    parser = RegionMasker.load(ModelAccess(models_dir=folder, specs=specs))
    cls = parser.class_map(crop)
    assert (cls[:, :60] == SKIN_CLASS).all() and (cls[:, 68:] == MOUTH_CLASS).all()
    no_mouth = RegionMasker(parser.spec, parser.session, regions=("skin",))(crop)
    assert no_mouth[64, 10] > 0.99 and no_mouth[64, 120] < 0.01
    with pytest.raises(ValueError, match="unknown face regions"):
        RegionMasker(parser.spec, parser.session, regions=("beard",))


def test_mouth_keep_and_combined_masks(photo, photo_kps) -> None:
    crop, m = warp_face(photo, photo_kps, "arcface_128", 128)
    ck = transform_points(photo_kps, m)
    keep = mouth_keep_mask(128, ck)
    mouth = np.round((ck[3] + ck[4]) / 2).astype(int)
    assert keep[mouth[1] + 2, mouth[0]] < 0.05  # the target's mouth is kept
    assert keep[int(ck[0, 1]), int(ck[0, 0])] > 0.99  # the eyes are swapped
    both = FaceMasker(keep_mouth=True)(crop, ck)
    np.testing.assert_allclose(both, combine_masks(np.ones((128, 128)), keep))
    with pytest.raises(ValueError):
        combine_masks(None)


def test_lab_colour_transfer_matches_statistics() -> None:
    rng = np.random.default_rng(3)
    src = np.clip(rng.normal(90, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    tgt = np.clip(rng.normal(170, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
    out = color_transfer_lab(src, tgt)
    lab_out = cv2.cvtColor(out, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(float)
    lab_tgt = cv2.cvtColor(tgt, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(float)
    np.testing.assert_allclose(lab_out.mean(0), lab_tgt.mean(0), atol=1.5)
    np.testing.assert_allclose(lab_out.std(0), lab_tgt.std(0), atol=1.5)
