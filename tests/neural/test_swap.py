"""Neural swappers on synthetic models: emap latent, per-family numbers, the processor."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from realtime.errors import ConfigError, ModelError
from realtime.faces.align import box_mask, get_template, warp_face
from realtime.faces.recognize import ArcFaceRecognizer
from realtime.frame import Face, Frame
from realtime.inference.models import ModelAccess, open_model
from realtime.swap.neural.swapper import FaceSwapModel, NeuralSwapper, inswapper_latent, read_last_initializer
from tests.neural.synthetic_models import (
    ARCFACE_DIRECTION,
    CONVERTER_MATRIX,
    EMAP,
    SWAP_GAIN,
    SWAP_OFFSET,
)

SWAPPERS = ("inswapper_128", "inswapper_128_fp16", "hyperswap_1a_256", "simswap_256")


def test_emap_is_read_from_the_last_initializer(synthetic) -> None:
    folder, _specs = synthetic
    assert np.array_equal(read_last_initializer(folder / "inswapper_128.onnx"), EMAP)
    half = read_last_initializer(folder / "inswapper_128_fp16.onnx")
    assert np.array_equal(half, EMAP.astype(np.float16).astype(np.float32))


def test_emap_reader_handles_float_data_and_picks_the_last(tmp_path) -> None:
    """Initializers stored as float_data (not raw_data), several of them: the last one wins."""
    first = helper.make_tensor("a", TensorProto.FLOAT, [2, 2], [9.0, 9.0, 9.0, 9.0])
    last = helper.make_tensor("b", TensorProto.FLOAT, [2, 3], [1.0, -2.0, 3.5, 0.0, 5.0, 6.25])
    node = helper.make_node("Identity", ["x"], ["y"])
    g = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], initializer=[first, last],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g), str(path))
    np.testing.assert_array_equal(read_last_initializer(path), [[1.0, -2.0, 3.5], [0.0, 5.0, 6.25]])
    path.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match="emap"):
        read_last_initializer(path)


def test_latent_equals_hand_computed_value() -> None:
    emb = np.random.default_rng(7).standard_normal(512).astype(np.float32) * 23.0  # raw scale
    n = emb.astype(np.float64) / np.sqrt((emb.astype(np.float64) ** 2).sum())
    lat = np.array([sum(n[i] * float(EMAP[i, j]) for i in range(512)) for j in range(0, 512, 37)])
    full = n @ EMAP.astype(np.float64)
    lat_norm = np.sqrt((full**2).sum())
    got = inswapper_latent(emb, EMAP)
    assert got.shape == (1, 512) and got.dtype == np.float32
    np.testing.assert_allclose(got[0, ::37], lat / lat_norm, rtol=1e-5, atol=1e-6)
    assert abs(np.linalg.norm(got) - 1.0) < 1e-5
    # FaceFusion's variant (no final normalisation) differs by exactly that norm.
    facefusion = (emb @ EMAP) / np.linalg.norm(emb)
    np.testing.assert_allclose(facefusion, got[0] * lat_norm, rtol=1e-4, atol=1e-5)


def _expected_pixels(spec, crop: np.ndarray, src0: float) -> np.ndarray:
    """What the synthetic swapper returns for ``crop``, via the manifest's normalisation."""
    rgb = crop[:, :, ::-1].astype(np.float64)
    x = (rgb - np.array(spec.mean)) / np.array(spec.std)
    y = x + SWAP_OFFSET + SWAP_GAIN * src0
    px = np.clip(y * spec.extra["output_std"] + spec.extra["output_mean"], 0, 255)
    return np.rint(px[:, :, ::-1])


@pytest.mark.parametrize("name", SWAPPERS)
def test_swap_crop_numbers(synthetic, photo, photo_kps, name) -> None:
    folder, specs = synthetic
    model = FaceSwapModel.load(ModelAccess(models_dir=folder, specs=specs), name)
    raw = ARCFACE_DIRECTION * 3.0
    src = model.source_vector(raw)
    unit = ARCFACE_DIRECTION / np.linalg.norm(ARCFACE_DIRECTION)
    if name.startswith("inswapper"):
        emap = read_last_initializer(folder / specs[name].file)
        np.testing.assert_allclose(src, inswapper_latent(raw, emap), atol=1e-6)
    elif name.startswith("hyperswap"):
        np.testing.assert_allclose(src[0], unit, atol=1e-6)
    else:  # simswap: normalize(converter(raw))
        conv = raw @ CONVERTER_MATRIX
        np.testing.assert_allclose(src[0], conv / np.linalg.norm(conv), atol=1e-6)
    crop, _m = warp_face(photo, photo_kps, get_template(specs[name].template), specs[name].crop_size)
    out = model.swap_crop(crop, src)
    assert out is not None and out.shape == crop.shape and out.dtype == np.uint8
    expected = _expected_pixels(specs[name], crop, float(src[0, 0]))
    tol = 1.0 if name.endswith("fp16") else 0.51  # half-precision arithmetic inside
    assert np.abs(out.astype(float) - expected).max() <= tol


def test_processor_swaps_each_face_and_nothing_else(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    model = FaceSwapModel.load(ModelAccess(models_dir=folder, specs=specs), "inswapper_128")
    rec = ArcFaceRecognizer.load(ModelAccess(models_dir=folder, specs=specs))
    swapper = NeuralSwapper(model, rec, photo, photo_kps)
    assert swapper.name == "swap"
    box = np.array([175, 76, 265, 166], np.float32)
    frame = Frame(index=0, captured_at=0.0, image=photo.copy(), faces=(Face(box, 0.9, photo_kps),))
    out = swapper(frame)
    assert out.index == frame.index and out.faces == frame.faces
    assert np.array_equal(frame.image, photo)  # the input packet is untouched
    delta = 255 * (SWAP_OFFSET + SWAP_GAIN * float(swapper.source[0, 0]))
    centre = np.round(np.array(photo_kps).mean(0)).astype(int)
    patch = (slice(centre[1] - 8, centre[1] + 8), slice(centre[0] - 8, centre[0] + 8))
    shift = out.image[patch].astype(float) - photo[patch].astype(float)
    unsaturated = photo[patch] < 255 - delta - 3
    assert abs(shift[unsaturated].mean() - delta) < 2.0
    assert np.array_equal(out.image[300:, :], photo[300:, :])  # far from the face: untouched
    assert np.array_equal(swapper(frame.with_faces(())).image, photo)  # no face: no change


def test_face_select_modes(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    model = FaceSwapModel.load(ModelAccess(models_dir=folder, specs=specs), "hyperswap_1a_256")
    rec = ArcFaceRecognizer.load(ModelAccess(models_dir=folder, specs=specs))
    box = np.array([175, 76, 265, 166], np.float32)
    frame = Frame(index=0, captured_at=0.0, image=photo.copy(), faces=(Face(box, 0.9, photo_kps),))
    unit = ARCFACE_DIRECTION / np.linalg.norm(ARCFACE_DIRECTION)
    same = NeuralSwapper(model, rec, photo, photo_kps, pick="reference", reference_embedding=unit)
    out = same(frame)
    assert out.faces[0].embedding is not None  # target embeddings were computed for selection
    assert not np.array_equal(out.image, photo)
    other = np.roll(unit, 1)
    other -= (other @ unit) * unit  # orthogonal to every synthetic embedding
    nobody = NeuralSwapper(model, rec, photo, photo_kps, pick="reference", reference_embedding=other)
    assert np.array_equal(nobody(frame).image, photo)
    with pytest.raises(ConfigError, match="reference"):
        NeuralSwapper(model, rec, photo, photo_kps, pick="reference")
    with pytest.raises(ConfigError, match="unknown face pick 'largest'"):
        NeuralSwapper(model, rec, photo, photo_kps, pick="largest")


def test_nan_output_leaves_face_unswapped(synthetic, photo, photo_kps, monkeypatch) -> None:
    folder, specs = synthetic
    model = FaceSwapModel.load(ModelAccess(models_dir=folder, specs=specs), "inswapper_128")
    rec = ArcFaceRecognizer.load(ModelAccess(models_dir=folder, specs=specs))
    swapper = NeuralSwapper(model, rec, photo, photo_kps)
    real_run = model.session.run
    monkeypatch.setattr(
        model.session, "run", lambda feeds: {k: v * np.nan for k, v in real_run(feeds).items()}
    )
    assert np.array_equal(swapper.swap_face(photo, Face(np.zeros(4), 1.0, photo_kps)), photo)
    assert swapper.nan_faces == 1


def test_missing_model_error_names_fetch_command_and_path(tmp_path) -> None:
    with pytest.raises(ModelError) as err:
        FaceSwapModel.load(ModelAccess(models_dir=tmp_path), "inswapper_128")
    msg = str(err.value)
    assert "realtime models fetch inswapper_128" in msg and str(tmp_path / "inswapper_128.onnx") in msg


def test_file_that_is_not_the_manifests_model_is_refused(synthetic, tmp_path) -> None:
    folder, specs = synthetic
    # A recognizer file presented as a swapper: verified by hash, but its inputs are wrong.
    data = (folder / "arcface_w600k_r50.onnx").read_bytes()
    (tmp_path / "inswapper_128.onnx").write_bytes(data)
    import hashlib

    fake = dataclasses.replace(
        specs["inswapper_128"], sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    with pytest.raises(ModelError, match="manifest expects 'target'"):
        open_model("inswapper_128", ModelAccess(models_dir=tmp_path, specs={**specs, "inswapper_128": fake}))


def test_box_mask_used_by_processor_matches_model_size(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    model = FaceSwapModel.load(ModelAccess(models_dir=folder, specs=specs), "simswap_256")
    rec = ArcFaceRecognizer.load(ModelAccess(models_dir=folder, specs=specs))
    s = NeuralSwapper(model, rec, photo, photo_kps, mask_blur=0.2)
    assert s.mask.shape == (256, 256) and np.array_equal(s.mask, box_mask(256, 0.2))


def test_load_with_masks_and_colour(synthetic, photo, photo_kps) -> None:
    from realtime.swap.neural.masks import FaceMasker

    folder, specs = synthetic
    access = ModelAccess(models_dir=folder, specs=specs)
    plain = NeuralSwapper.load(access, "inswapper_128", photo, photo_kps)
    keep = NeuralSwapper.load(access, "inswapper_128", photo, photo_kps, masker=FaceMasker(keep_mouth=True))
    face = Face(np.array([175, 76, 265, 166], np.float32), 0.9, photo_kps)
    a, b = plain.swap_face(photo, face), keep.swap_face(photo, face)
    mouth = np.round((photo_kps[3] + photo_kps[4]) / 2 + [0, 2]).astype(int)
    eye = np.round(photo_kps[0]).astype(int)
    px = lambda img, p: img[p[1], p[0]].astype(int)  # noqa: E731
    assert np.abs(px(b, mouth) - px(photo, mouth)).max() <= 3  # the target's mouth is kept
    assert np.abs(px(a, mouth) - px(photo, mouth)).max() > 10  # ... which the plain swap replaces
    assert np.array_equal(px(a, eye), px(b, eye))  # elsewhere both swap alike
    matched = NeuralSwapper.load(
        ModelAccess(models_dir=folder, specs=specs), "inswapper_128", photo, photo_kps, color_match=True
    )
    c = matched.swap_face(photo, face)
    centre = (slice(110, 130), slice(215, 235))
    # The swap brightened the face; colour matching pulls it back towards the target's tone.
    assert abs(c[centre].mean() - photo[centre].mean()) < abs(a[centre].mean() - photo[centre].mean())


def test_set_source_face_changes_identity(synthetic, photo, photo_kps) -> None:
    folder, specs = synthetic
    s = NeuralSwapper.load(ModelAccess(models_dir=folder, specs=specs), "simswap_256", photo, photo_kps)
    before = s.source.copy()
    dark = (photo // 4).astype(np.uint8)  # another input mean: another raw embedding scale
    s.set_source_face(dark, photo_kps)
    # simswap's converter sees the raw embedding; its normalised output keeps the direction
    np.testing.assert_allclose(s.source, before, atol=1e-5)
    assert s.source.shape == (1, 512)
