"""Synthetic stand-ins for every downloadable model of the manifests, built with onnx.helper.

Each file has the real model's input and output names, shapes and dtypes and computes something
simple whose result a test can predict exactly:

* swappers: ``output = target + SWAP_OFFSET + SWAP_GAIN * source[0, 0]`` (in the model's own
  normalised units); inswappers carry a known ``EMAP`` as their LAST initializer, the fp16 one
  computes in float16 and stores its emap as float16.
* arcface: ``embedding = ARCFACE_DIRECTION * (1 + mean(input))`` - a fixed direction.
* crossface_simswap: ``output = input @ CONVERTER_MATRIX``.
* scrfd / retinaface: constant outputs with one face (two overlapping anchors, NMS keeps one)
  at ``DETECTOR_BOX`` / ``DETECTOR_KPS`` in 640 px input space; yoloface: the same face.
* 2dfan4: constant ``FAN_POINTS`` (heatmap pixels) and heatmaps of value ``FAN_HEAT``.
* gfpgan: ``output = -input`` (so the enhanced crop is the photographic negative).
* xseg: ``output = input[..., 2]`` (the red channel of its BGR input, in [0, 1]).
* bisenet: 1x1 convolution: class ``mouth`` where red clearly exceeds green, else ``skin``.

``write_synthetic_models(models_dir)`` writes them and returns the manifests' specs with sha256
and size replaced by the synthetic files', to pass as ``ModelAccess(specs=...)`` to any ``load``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from realtime.catalog.manifest import ModelSpec, load_manifests

OPSET = 17
SWAP_OFFSET = 0.1
SWAP_GAIN = 0.05
_rng = np.random.default_rng(1234)
EMAP = (_rng.standard_normal((512, 512)) / np.sqrt(512)).astype(np.float32)
ARCFACE_DIRECTION = _rng.standard_normal(512).astype(np.float32)
CONVERTER_MATRIX = (np.eye(512, dtype=np.float32)[::-1] * 2.0).astype(np.float32)
# One face in detector input pixels (640 x 640), and its 5 keypoints in KPS order.
DETECTOR_BOX = np.array([270.0, 180.0, 370.0, 310.0], np.float32)
DETECTOR_KPS = np.array([[300, 220], [340, 220], [320, 245], [305, 270], [335, 270]], np.float32)
DETECTOR_SCORE = 0.9
FAN_POINTS = (np.stack([np.linspace(10, 54, 68), np.linspace(12, 52, 68)], 1)).astype(np.float32)
FAN_HEAT = 0.45
MOUTH_CLASS, SKIN_CLASS = 11, 1


def _vi(name: str, shape: Iterable[int], dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, list(shape))


def _save(path: Path, nodes: list, inputs: list, outputs: list, inits: list) -> None:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="synthetic"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _zero_of(inp: str, tag: str) -> tuple[list, str]:
    """Nodes giving a scalar 0 that depends on ``inp`` (so the input is genuinely consumed)."""
    return [
        helper.make_node("ReduceMean", [inp], [f"{tag}_mean"], keepdims=0),
        helper.make_node("Mul", [f"{tag}_mean", "zero"], [f"{tag}_zero"]),
    ], f"{tag}_zero"


def _scalar(name: str, v: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.float32), name)


def _swapper(spec: ModelSpec, path: Path) -> None:
    s = spec.crop_size
    fp16 = spec.name.endswith("fp16")
    nodes = [
        helper.make_node("Slice", ["source", "s0", "s1", "s1"], ["src0"]),
        helper.make_node("Reshape", ["src0", "shape4"], ["src4"]),
        helper.make_node("Mul", ["src4", "gain"], ["gsrc"]),
        helper.make_node("Add", ["gsrc", "offset"], ["shift"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "s0"),
        numpy_helper.from_array(np.array([1], np.int64), "s1"),
        numpy_helper.from_array(np.array([1, 1, 1, 1], np.int64), "shape4"),
        _scalar("gain", SWAP_GAIN),
        _scalar("offset", SWAP_OFFSET),
    ]
    if fp16:  # compute in half precision, keep float32 I/O like the real fp16 export
        nodes += [
            helper.make_node("Cast", ["target"], ["t16"], to=TensorProto.FLOAT16),
            helper.make_node("Cast", ["shift"], ["shift16"], to=TensorProto.FLOAT16),
            helper.make_node("Add", ["t16", "shift16"], ["o16"]),
            helper.make_node("Cast", ["o16"], ["output"], to=TensorProto.FLOAT),
        ]
    else:
        nodes.append(helper.make_node("Add", ["target", "shift"], ["output"]))
    if spec.extra.get("source") == "emap":  # the emap goes LAST, as in the real file
        inits.append(numpy_helper.from_array(EMAP.astype(np.float16) if fp16 else EMAP, "emap"))
    _save(
        path,
        nodes,
        [_vi("target", [1, 3, s, s]), _vi("source", [1, 512])],
        [_vi(spec.outputs[0].name, [1, 3, s, s])],
        inits,
    )


def _arcface(spec: ModelSpec, path: Path) -> None:
    s = spec.crop_size
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], keepdims=0),
        helper.make_node("Add", ["m", "one"], ["m1"]),
        helper.make_node("Mul", ["direction", "m1"], [spec.outputs[0].name]),
    ]
    inits = [_scalar("one", 1.0), numpy_helper.from_array(ARCFACE_DIRECTION[None], "direction")]
    _save(path, nodes, [_vi("input", [1, 3, s, s])], [_vi(spec.outputs[0].name, [1, 512])], inits)


def _converter(spec: ModelSpec, path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["input", "w"], [spec.outputs[0].name])]
    inits = [numpy_helper.from_array(CONVERTER_MATRIX, "w")]
    _save(path, nodes, [_vi("input", [1, 512])], [_vi(spec.outputs[0].name, [1, 512])], inits)


def _constant_outputs(spec: ModelSpec, path: Path, values: list[np.ndarray]) -> None:
    """Outputs = constants + 0 * mean(input), with the manifest's input and output names."""
    inp = spec.inputs[0]
    zero_nodes, z = _zero_of(inp.name, "in")
    nodes = list(zero_nodes)
    inits = [_scalar("zero", 0.0)]
    outs = []
    for t, v in zip(spec.outputs, values, strict=True):
        inits.append(numpy_helper.from_array(v.astype(np.float32), f"c_{t.name}"))
        nodes.append(helper.make_node("Add", [f"c_{t.name}", z], [t.name]))
        outs.append(_vi(t.name, v.shape))
    _save(path, nodes, [_vi(inp.name, inp.shape)], outs, inits)


def scrfd_outputs(size: int = 640) -> list[np.ndarray]:
    """The 9 SCRFD outputs (scores, boxes, kps for strides 8, 16, 32) holding one face."""
    strides, per = (8, 16, 32), 2
    scores, boxes, kpss = [], [], []
    for st in strides:
        n = (size // st) ** 2 * per
        scores.append(np.zeros((n, 1), np.float32))
        boxes.append(np.zeros((n, 4), np.float32))
        kpss.append(np.zeros((n, 10), np.float32))
    st, i = 16, 1
    cx, cy = (DETECTOR_BOX[0] + DETECTOR_BOX[2]) / 2, (DETECTOR_BOX[1] + DETECTOR_BOX[3]) / 2
    gx, gy = int(cx // st), int(cy // st)
    ax, ay = gx * st, gy * st
    idx = (gy * (size // st) + gx) * per
    dist = np.array([ax - DETECTOR_BOX[0], ay - DETECTOR_BOX[1], DETECTOR_BOX[2] - ax, DETECTOR_BOX[3] - ay])
    kd = (DETECTOR_KPS - [ax, ay]).ravel()
    scores[i][idx, 0] = DETECTOR_SCORE
    boxes[i][idx] = dist / st
    kpss[i][idx] = kd / st
    # A second, slightly shifted detection of the same face on the cell's other anchor.
    scores[i][idx + 1, 0] = DETECTOR_SCORE - 0.1
    boxes[i][idx + 1] = (dist + np.array([2.0, 2.0, -2.0, -2.0])) / st
    kpss[i][idx + 1] = kd / st
    return scores + boxes + kpss


def yolo_output(n: int = 8400) -> np.ndarray:
    out = np.zeros((1, 20, n), np.float32)
    b = DETECTOR_BOX
    col = 1234
    out[0, :5, col] = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1], DETECTOR_SCORE]
    out[0, 5:, col] = np.concatenate([DETECTOR_KPS, np.ones((5, 1))], 1).ravel()
    return out


def _gfpgan(spec: ModelSpec, path: Path) -> None:
    s = spec.crop_size
    nodes = [helper.make_node("Neg", ["input"], [spec.outputs[0].name])]
    _save(path, nodes, [_vi("input", [1, 3, s, s])], [_vi(spec.outputs[0].name, [1, 3, s, s])], [])


def _xseg(spec: ModelSpec, path: Path) -> None:
    s = spec.crop_size
    nodes = [helper.make_node("Slice", ["input", "c2", "c3", "ax"], [spec.outputs[0].name])]
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "c2"),
        numpy_helper.from_array(np.array([3], np.int64), "c3"),
        numpy_helper.from_array(np.array([3], np.int64), "ax"),
    ]
    _save(path, nodes, [_vi("input", [1, s, s, 3])], [_vi(spec.outputs[0].name, [1, s, s, 1])], inits)


def _bisenet(spec: ModelSpec, path: Path) -> None:
    s = spec.crop_size
    w = np.zeros((19, 3, 1, 1), np.float32)
    b = np.full(19, -10.0, np.float32)
    b[SKIN_CLASS] = 0.0
    w[MOUTH_CLASS, 0, 0, 0], w[MOUTH_CLASS, 1, 0, 0], b[MOUTH_CLASS] = 5.0, -5.0, -2.0  # 5 (R - G) - 2
    nodes = [helper.make_node("Conv", ["input", "w", "b"], [spec.outputs[0].name])]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    _save(path, nodes, [_vi("input", [1, 3, s, s])], [_vi(spec.outputs[0].name, [1, 19, s, s])], inits)


def _write(spec: ModelSpec, path: Path) -> None:
    if spec.kind == "swapper":
        _swapper(spec, path)
    elif spec.kind == "recognizer":
        _arcface(spec, path)
    elif spec.kind == "converter":
        _converter(spec, path)
    elif spec.kind == "detector" and spec.extra.get("decoder") == "scrfd":
        _constant_outputs(spec, path, scrfd_outputs(spec.crop_size))
    elif spec.kind == "detector" and spec.extra.get("decoder") == "yolo":
        _constant_outputs(spec, path, [yolo_output()])
    elif spec.kind == "landmarker":
        pts = np.concatenate([FAN_POINTS, np.ones((68, 1), np.float32)], 1)[None]
        _constant_outputs(spec, path, [pts, np.full((1, 68, 64, 64), FAN_HEAT, np.float32)])
    elif spec.kind == "enhancer":
        _gfpgan(spec, path)
    elif spec.kind == "mask" and spec.extra.get("layout") == "nhwc":
        _xseg(spec, path)
    elif spec.kind == "mask":
        _bisenet(spec, path)
    else:
        raise ValueError(f"no synthetic builder for {spec.name} ({spec.kind})")


def write_synthetic_models(models_dir: Path, names: Iterable[str] | None = None) -> dict[str, ModelSpec]:
    """Write synthetic ONNX files into ``models_dir``; return all specs, the written ones with
    sha256 and size of the synthetic files (so ``store.verify`` passes on them)."""
    specs = load_manifests()
    wanted = [n for n, s in specs.items() if not s.bundled] if names is None else list(names)
    models_dir.mkdir(parents=True, exist_ok=True)
    out = dict(specs)
    for name in wanted:
        spec = specs[name]
        path = models_dir / spec.file
        _write(spec, path)
        data = path.read_bytes()
        out[name] = dataclasses.replace(spec, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    return out
