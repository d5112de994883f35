"""The LiteRT backend: same answers as ONNX Runtime, ONNX names and layout, twins only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import realtime.catalog.manifest as manifest
from realtime.errors import ModelError
from realtime.inference import litert
from realtime.inference.session import ModelNotSupported, SessionOptions, available_backends, open_session

pytest.importorskip("ai_edge_litert")

MODELS = {
    "face_detection_short_range.onnx": (1, 3, 128, 128),
    "face_detection_full_range.onnx": (1, 3, 192, 192),
    "face_landmark.onnx": (1, 3, 192, 192),
}


@pytest.mark.parametrize("file", list(MODELS))
def test_litert_matches_onnxruntime_with_onnx_names_and_layout(file: str) -> None:
    path = manifest.BUNDLED_DIR / file
    lite = open_session(path, prefer="litert", options=SessionOptions(threads=1))
    cpu = open_session(path, prefer="cpu", options=SessionOptions(threads=1))
    assert lite.provider == "litert"
    assert [t.name for t in lite.inputs] == [t.name for t in cpu.inputs]
    assert lite.inputs[0].shape == MODELS[file]
    assert [(t.name, tuple(t.shape)) for t in lite.outputs] == [(t.name, tuple(t.shape)) for t in cpu.outputs]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, MODELS[file]).astype(np.float32)
    a = lite.run({lite.inputs[0].name: x})
    b = cpu.run({cpu.inputs[0].name: x})
    for name in b:
        assert a[name].shape == b[name].shape
        assert np.abs(a[name] - b[name]).max() <= 1e-3


def test_litert_is_chosen_automatically_for_the_bundled_twins() -> None:
    assert available_backends()["litert"] is None
    sess = open_session(manifest.BUNDLED_DIR / "face_landmark.onnx")
    assert sess.provider in {"litert"} | {n for n, why in available_backends().items() if why is None}
    order = [n for n, why in available_backends().items() if why is None]
    if order.index("litert") < order.index("cpu") and order[0] == "litert":
        assert sess.provider == "litert"


def test_a_model_without_a_twin_is_not_supported_and_falls_back(tmp_path: Path) -> None:
    lone = tmp_path / "face_landmark.onnx"
    shutil.copy2(manifest.BUNDLED_DIR / "face_landmark.onnx", lone)
    with pytest.raises(ModelNotSupported):
        litert.LiteRtSession(lone, SessionOptions())
    sess = open_session(lone)
    assert sess.provider != "litert"


def test_an_altered_twin_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in manifest.BUNDLED_DIR.glob("face_landmark.*"):
        shutil.copy2(f, tmp_path / f.name)
    twin = tmp_path / "face_landmark.tflite"
    data = bytearray(twin.read_bytes())
    data[1000] ^= 0x01
    twin.write_bytes(bytes(data))
    monkeypatch.setattr(manifest, "BUNDLED_DIR", tmp_path)
    with pytest.raises(ModelError, match=r"face_landmark\.tflite"):
        litert.LiteRtSession(tmp_path / "face_landmark.onnx", SessionOptions())
