"""Identity selection, swapper choice and EveryNth."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.enhance.every_nth import EveryNth
from realtime.errors import ConfigError, ModelError
from realtime.frame import Face, Frame
from realtime.swap.choose import choose_swapper, neural_swappers
from realtime.swap.neural.identity import cosine_similarity, select_by_reference, select_faces


def face(x: float, size: float = 40, emb: np.ndarray | None = None, track: int = -1) -> Face:
    kps = np.array([[x + 10, 20], [x + 30, 20], [x + 20, 30], [x + 12, 40], [x + 28, 40]], np.float32)
    return Face(np.array([x, 0, x + size, size], np.float32), 0.9, kps, track_id=track, embedding=emb)


def test_select_by_reference_threshold() -> None:
    ref = np.array([1.0, 0.0, 0.0])
    near = face(0, emb=np.array([0.9, 0.3, 0.0]))  # cos 0.949
    far = face(50, emb=np.array([0.3, 0.9, 0.1]))  # cos 0.315
    assert cosine_similarity(near.embedding, ref) == pytest.approx(0.9 / np.hypot(0.9, 0.3))
    assert select_by_reference([near, far], ref, 0.4) == [near]
    assert select_by_reference([near, far], ref, 0.3) == [near, far]
    assert select_by_reference([near, far], ref, 0.95) == []
    with pytest.raises(ValueError, match="embeddings"):
        select_by_reference([face(0)], ref, 0.4)


def test_select_modes() -> None:
    small, big = face(0, 30), face(50, 60)
    assert select_faces([small, big], "one") == [big]
    assert select_faces([small, big], "many") == [small, big]
    assert select_faces([], "one") == []
    with pytest.raises(ConfigError):
        select_faces([small], "reference")
    with pytest.raises(ConfigError, match="unknown face pick"):
        select_faces([small], "all")


def test_auto_picks_mesh_without_gpu(synthetic) -> None:
    folder, specs = synthetic
    name, why = choose_swapper("auto", folder, ["CPUExecutionProvider"], specs=specs)
    assert name == "mesh" and "no GPU" in why


def test_auto_picks_best_present_neural_swapper_on_gpu(synthetic, tmp_path) -> None:
    folder, specs = synthetic
    best = neural_swappers(specs)[0]
    assert best == "hyperswap_1a_256"
    name, why = choose_swapper("auto", folder, ["CUDAExecutionProvider", "CPUExecutionProvider"], specs=specs)
    assert name == best and "CUDAExecutionProvider" in why
    # Only inswapper_128 (and its recognizer) present: auto settles for it.
    for n in ("arcface_w600k_r50", "inswapper_128"):
        (tmp_path / specs[n].file).write_bytes((folder / specs[n].file).read_bytes())
    assert choose_swapper("auto", tmp_path, ["tensorrt"], specs=specs)[0] == "inswapper_128"
    name, why = choose_swapper("auto", tmp_path / "empty", ["tensorrt"], specs=specs)
    assert name == "mesh" and f"realtime models fetch {best}" in why


def test_requested_absent_neural_swapper_says_how_to_get_it(tmp_path) -> None:
    with pytest.raises(ModelError) as err:
        choose_swapper("inswapper_128", tmp_path, ["CPUExecutionProvider"])
    msg = str(err.value)
    assert "realtime models fetch inswapper_128 arcface_w600k_r50" in msg
    assert str(tmp_path / "inswapper_128.onnx") in msg and str(tmp_path / "arcface_w600k_r50.onnx") in msg
    assert "https://" in msg
    assert choose_swapper("mesh", tmp_path, []) == ("mesh", "requested")
    with pytest.raises(ConfigError, match="unknown swapper"):
        choose_swapper("deepfake9000", tmp_path, [])


class Brighten:
    """A 'slow' processor: adds 50 inside each face box and counts its calls."""

    name = "enhance"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, frame: Frame) -> Frame:
        self.calls += 1
        img = frame.image.copy()
        for f in frame.faces:
            x1, y1, x2, y2 = (int(v) for v in f.box)
            img[y1:y2, x1:x2] = np.clip(img[y1:y2, x1:x2].astype(int) + 50, 0, 255)
        return frame.with_image(img)


def test_every_nth_runs_one_in_n_and_reuses_the_face_region() -> None:
    inner = Brighten()
    wrapped = EveryNth(inner, 3)
    assert wrapped.name == "enhance"
    img = np.full((120, 200, 3), 100, np.uint8)
    outs = []
    for i in range(6):
        f = face(20 + 4 * i, 40, track=7)  # the face drifts right
        outs.append(wrapped(Frame(i, 0.0, img, (f,))))
    assert inner.calls == 2  # frames 0 and 3
    for i, out in enumerate(outs):
        x = 20 + 4 * i
        assert out.image[20, x + 20, 0] == 150  # the face centre is processed on every frame
        assert out.image[100, 180, 0] == 100  # far away: untouched
    with pytest.raises(ValueError):
        EveryNth(inner, 0)


def test_every_nth_can_change_n_while_running() -> None:
    inner = Brighten()
    wrapped = EveryNth(inner, 1)
    img = np.full((120, 200, 3), 100, np.uint8)
    for i in range(3):
        wrapped(Frame(i, 0.0, img, (face(20, 40, track=1),)))
    assert inner.calls == 3  # every frame
    wrapped.set_every(4)
    for i in range(3, 11):
        wrapped(Frame(i, 0.0, img, (face(20, 40, track=1),)))
    assert inner.calls == 5  # frames 3 and 7 of those 8
    with pytest.raises(ValueError):
        wrapped.set_every(0)


def test_every_nth_runs_at_once_for_a_new_face() -> None:
    inner = Brighten()
    wrapped = EveryNth(inner, 10)
    img = np.full((120, 300, 3), 100, np.uint8)
    wrapped(Frame(0, 0.0, img, (face(10),)))
    out = wrapped(Frame(1, 0.0, img, (face(10), face(200))))  # a second face appears
    assert inner.calls == 2 and out.image[20, 220, 0] == 150
    assert wrapped(Frame(2, 0.0, img, ())).image is img  # no faces: nothing to do
