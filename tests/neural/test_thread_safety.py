"""Several workers calling one processor object, and a face reload while they do.

The ``quality`` preset runs two workers over the same processor objects. These tests call one
object from several threads with different frames and check each result against the
single-threaded result for that frame. The sessions are real ONNX Runtime sessions on the CPU
provider over the synthetic models, once with plain runs and once with the fixed bound buffers
that CUDA graphs use (``binding="graph"``, which ONNX Runtime also runs on the CPU).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from realtime.catalog.manifest import ModelSpec
from realtime.enhance.enhancer import FaceEnhancer
from realtime.enhance.every_nth import EveryNth
from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.recognize import ArcFaceRecognizer
from realtime.frame import Face, Frame
from realtime.inference.onnxruntime import OrtSession
from realtime.inference.session import SessionOptions
from realtime.processor import is_thread_safe
from realtime.swap.neural.factory import largest_face
from realtime.swap.neural.swapper import FaceSwapModel, NeuralSwapper
from realtime.swap.reload import FaceReloader
from tests.neural.conftest import PHOTO

# The astronaut's 5 points, hand-measured (eye centres, nose tip, mouth corners), and a box.
KPS = np.array([[203, 102], [246, 104], [225, 127], [200, 139], [246, 141]], np.float32)
BOX = np.array([170, 60, 280, 180], np.float32)
THREADS = 4
ROUNDS = 60


def _session(path: Path, binding: str) -> OrtSession:
    return OrtSession(path, SessionOptions(), binding=binding, device="cpu")


def _frames(photo: np.ndarray, count: int = THREADS, two_faces: bool = False) -> list[Frame]:
    """Frames that differ (brightness), each with the astronaut's face (twice side by side)."""
    out = []
    w = photo.shape[1]
    for i in range(count):
        img = np.clip(photo.astype(np.int16) + (i * 40 - 60), 0, 255).astype(np.uint8)
        faces: tuple[Face, ...] = (Face(box=BOX, score=1.0, kps=KPS),)
        if two_faces:
            img = np.hstack([img, img])
            shift = np.array([w, 0], np.float32)
            faces += (Face(box=BOX + np.tile(shift, 2), score=1.0, kps=KPS + shift),)
        out.append(Frame(index=i, captured_at=0.0, image=np.ascontiguousarray(img), faces=faces))
    return out


def _hammer(worker: Callable[[int], None], threads: int = THREADS) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            worker(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("binding", ["none", "graph"])
@pytest.mark.parametrize("name", ["inswapper_128", "hyperswap_1a_256"])
def test_workers_sharing_one_neural_swapper_each_get_their_own_frame_swapped(
    synthetic, photo, binding, name
) -> None:
    folder, specs = synthetic
    spec = specs[name]
    model = FaceSwapModel(spec, folder / spec.file, _session(folder / spec.file, binding))
    rec_spec = specs["arcface_w600k_r50"]
    recognizer = ArcFaceRecognizer(rec_spec, _session(folder / rec_spec.file, binding))
    swapper = NeuralSwapper(model, recognizer, photo, KPS)
    assert is_thread_safe(swapper)
    frames = _frames(photo)
    expected = [swapper(f).image for f in frames]
    assert not np.array_equal(expected[0], expected[1])  # the frames really differ
    wrong = [0] * THREADS

    def worker(i: int) -> None:
        for _ in range(ROUNDS):
            if not np.array_equal(swapper(frames[i]).image, expected[i]):
                wrong[i] += 1

    _hammer(worker)
    assert wrong == [0] * THREADS, f"frames swapped with another worker's crop: {wrong}"


def test_a_bound_session_returns_outputs_the_next_run_does_not_overwrite(synthetic) -> None:
    folder, specs = synthetic
    spec = specs["gfpgan_1.4"]
    sess = _session(folder / spec.file, "graph")
    assert sess.binding == "graph"
    x = np.full((1, 3, 512, 512), 0.25, np.float32)
    first = sess.run({"input": x})[spec.outputs[0].name]
    sess.run({"input": -x})
    assert np.all(first == -0.25)


def test_every_nth_runs_exactly_one_call_in_n_under_concurrency(synthetic, photo) -> None:
    """4 workers share one EveryNth around the (synthetic) enhancer: 1 + M // n runs."""
    folder, specs = synthetic
    spec = specs["gfpgan_1.4"]
    enhancer = FaceEnhancer(spec, _session(folder / spec.file, "graph"))
    runs = [0]
    lock = threading.Lock()

    class Counted:
        name = "enhance"
        thread_safe = True

        def __call__(self, frame: Frame) -> Frame:
            with lock:
                runs[0] += 1
            return enhancer(frame)

    n = 3
    every = EveryNth(Counted(), n)
    assert every.thread_safe and every.name == "enhance"
    frames = _frames(photo)
    every(frames[0])  # the first call is due and stores the face's result
    per_thread = 30
    outputs: list[list[np.ndarray]] = [[] for _ in range(THREADS)]

    def worker(i: int) -> None:
        for _ in range(per_thread):
            outputs[i].append(every(frames[i]).image)

    _hammer(worker)
    calls = THREADS * per_thread
    assert runs[0] == 1 + calls // n
    # Every output is either enhanced or re-uses an enhanced face: none is the raw frame.
    for i, outs in enumerate(outputs):
        assert all(not np.array_equal(o, frames[i].image) for o in outs)


def test_every_nth_is_as_thread_safe_as_what_it_wraps() -> None:
    class Plain:
        name = "plain"

        def __call__(self, frame: Frame) -> Frame:
            return frame

    assert EveryNth(Plain(), 2).thread_safe is False  # type: ignore[arg-type]


# --- the face changes while frames are swapped -------------------------------------------


def _colour_recognizer(spec: ModelSpec, path: Path) -> None:
    """An 'ArcFace' whose embedding follows the crop's colour: ``mean(R) - mean(B)`` drives the
    first component, so a photo and its channel-swapped copy are two distinct identities."""
    s = spec.crop_size
    w = np.full((3, 512), 0.001, np.float32)
    w[0, 0], w[2, 0] = 10.0, -10.0  # RGB input: R minus B
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["means", "w"], ["mw"]),
        helper.make_node("Add", ["mw", "b"], [spec.outputs[0].name]),
    ]
    bias = np.full((1, 512), 0.001, np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")]
    graph = helper.make_graph(
        nodes,
        "colour_arcface",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, s, s])],
        [helper.make_tensor_value_info(spec.outputs[0].name, TensorProto.FLOAT, [1, 512])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("binding", ["none", "graph"])
def test_a_face_reload_never_mixes_identities_within_a_frame(synthetic, photo, tmp_path, binding) -> None:
    """Workers swap two-face frames while the reload thread switches between two identities:
    every frame comes out wholly in the old or wholly in the new identity."""
    folder, specs = synthetic
    spec = specs["hyperswap_1a_256"]
    model = FaceSwapModel(spec, folder / spec.file, _session(folder / spec.file, binding))
    rec_spec = specs["arcface_w600k_r50"]
    _colour_recognizer(rec_spec, tmp_path / "colour_arcface.onnx")
    recognizer = ArcFaceRecognizer(rec_spec, _session(tmp_path / "colour_arcface.onnx", binding))

    photo_a, photo_b = tmp_path / "a.png", tmp_path / "b.png"
    shutil.copy(PHOTO, photo_a)
    cv2.imwrite(str(photo_b), np.ascontiguousarray(photo[:, :, ::-1]))
    analyzer = FaceAnalyzer()
    image_a, face_a = largest_face([photo_a], analyzer, None)
    image_b, face_b = largest_face([photo_b], analyzer, None)

    swapper = NeuralSwapper(model, recognizer, image_a, face_a.kps)
    frames = _frames(photo, count=2, two_faces=True)
    as_a = [swapper(f).image for f in frames]
    swapper.set_source_face(image_b, face_b.kps)
    as_b = [swapper(f).image for f in frames]
    assert not np.array_equal(as_a[0], as_b[0])  # two identities that give different pixels

    current = tmp_path / "face.png"
    shutil.copy(photo_a, current)
    reloader = FaceReloader([current], swapper, analyzer)
    assert reloader.reload()
    stop = threading.Event()
    seen = {"a": 0, "b": 0, "mixed": 0}
    lock = threading.Lock()

    def reload_loop() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            shutil.copy(photo_b if turn % 2 else photo_a, current)
            assert reloader.reload()

    def worker(i: int) -> None:
        for _ in range(ROUNDS):
            out = swapper(frames[i]).image
            kind = "a" if np.array_equal(out, as_a[i]) else "b" if np.array_equal(out, as_b[i]) else "mixed"
            with lock:
                seen[kind] += 1

    reloading = threading.Thread(target=reload_loop)
    reloading.start()
    try:
        _hammer(worker, threads=2)
    finally:
        stop.set()
        reloading.join()
    assert reloader.reloads >= 3
    assert seen["mixed"] == 0, f"frames that mixed two identities or another worker's crop: {seen}"
    assert seen["a"] and seen["b"], seen  # the switch really happened while frames were swapped
