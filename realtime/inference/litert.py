"""LiteRT (TensorFlow Lite) interpreter with XNNPACK on the CPU, behind the same Protocol.

Measured on this project's 2-core CPU with one thread, FaceMesh runs ~3x faster here than in
ONNX Runtime (tools/bench_faces.py), so models that ship a ``.tflite`` twin next to their
``.onnx`` file run on LiteRT. The session speaks the ONNX model's language: the same tensor
names, and NCHW layout for 4-D inputs and outputs (transposed to and from LiteRT's NHWC),
so callers never know which backend ran. A model without a twin is refused with
``ModelNotSupported``, and ``open_session`` quietly moves on to the next backend.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from realtime.catalog.manifest import load_manifests, sha256_file
from realtime.errors import ModelError
from realtime.inference.session import (
    ModelNotSupported,
    SessionOptions,
    TensorInfo,
    register_backend,
)

log = logging.getLogger(__name__)


def _interpreter_class() -> Any:  # imported lazily so `realtime --help` stays fast
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def tflite_twin(model: Path) -> Path | None:
    """The ``.tflite`` file that computes the same thing as ``model``, when one exists."""
    twin = model if model.suffix == ".tflite" else model.with_suffix(".tflite")
    return twin if twin.is_file() else None


def _verify_twin(twin: Path) -> None:
    """A twin listed in a manifest must match its recorded size and sha256."""
    for spec in load_manifests().values():
        if spec.file == twin.name and spec.bundled and spec.bundled_path == twin.resolve():
            if twin.stat().st_size != spec.size or sha256_file(twin) != spec.sha256:
                raise ModelError(
                    f"bundled model file is altered or corrupt: {twin} (sha256 mismatch)",
                    fix="reinstall realtime, or rerun tools/convert_mediapipe.py",
                )
            return


_STDERR_LOCK = threading.Lock()


@contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what the C++ runtime prints on fd 2 meanwhile (its "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU." on every interpreter) into our log: INFO lines at debug level,
    anything else as a warning, so nothing real is lost and the console stays clean."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode(errors="replace")
    for line in text.splitlines():
        if line.strip():
            log.log(logging.DEBUG if line.startswith("INFO:") else logging.WARNING, "LiteRT: %s", line)


class LiteRtSession:
    """An ``InferenceSession`` running a ``.tflite`` file in ``ai_edge_litert``'s interpreter."""

    def __init__(self, model: Path, options: SessionOptions) -> None:
        twin = tflite_twin(model)
        if twin is None:
            raise ModelNotSupported(f"no .tflite twin of {model.name} (LiteRT runs only those)")
        _verify_twin(twin)
        self._nchw = model.suffix != ".tflite"  # present the ONNX model's layout
        try:
            with _native_stderr_to_log():
                self._interp = _interpreter_class()(model_path=str(twin), num_threads=max(1, options.threads))
                self._interp.allocate_tensors()
        except ValueError as exc:
            raise ModelError(f"model file is corrupt: {twin}", fix="delete it and reinstall") from exc
        self.provider = "litert"  # the registry name, like every backend
        self._in = {d["name"]: d for d in self._interp.get_input_details()}
        self._out = [(d["name"], d["index"]) for d in self._interp.get_output_details()]
        self.inputs = tuple(
            TensorInfo(n, self._shape(d["shape"]), "tensor(float)") for n, d in self._in.items()
        )
        self.outputs = tuple(
            TensorInfo(d["name"], self._shape(d["shape"]), "tensor(float)")
            for d in self._interp.get_output_details()
        )
        self._lock = threading.Lock()  # an interpreter is not safe to share between threads

    def _shape(self, shape: Any) -> tuple[int, ...]:
        s = tuple(int(v) for v in shape)
        return (s[0], s[3], s[1], s[2]) if self._nchw and len(s) == 4 else s

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            for name, value in feeds.items():
                if name not in self._in:
                    raise KeyError(f"unknown input {name!r}; inputs: {', '.join(self._in)}")
                x = np.asarray(value, dtype=np.float32)
                if self._nchw and x.ndim == 4:
                    x = x.transpose(0, 2, 3, 1)
                self._interp.set_tensor(self._in[name]["index"], np.ascontiguousarray(x))
            self._interp.invoke()
            out: dict[str, np.ndarray] = {}
            for name, index in self._out:
                y = self._interp.get_tensor(index)
                out[name] = np.ascontiguousarray(y.transpose(0, 3, 1, 2)) if self._nchw and y.ndim == 4 else y
            return out


def _probe() -> str | None:
    try:
        _interpreter_class()
    except ImportError:
        return "ai-edge-litert is not installed (pip install 'realtime-faceswap[litert]')"
    return None


def _factory(model: Path, options: SessionOptions) -> LiteRtSession:
    return LiteRtSession(model, options)


register_backend(
    "litert",
    _factory,
    _probe,
    rank=90,
    description="LiteRT (TFLite) + XNNPACK on the CPU, for models shipped with a .tflite twin",
)
