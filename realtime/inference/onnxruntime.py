"""ONNX Runtime on the CPU, with explicit thread counts.

GPU execution providers (TensorRT, CUDA, DirectML, CoreML, OpenVINO) are added by the
backends work behind the same registration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from realtime.errors import ModelError
from realtime.inference.session import SessionOptions, TensorInfo, register_backend

log = logging.getLogger(__name__)


def _ort():  # imported lazily so `realtime --help` stays fast
    import onnxruntime

    return onnxruntime


class OrtSession:
    """An ``InferenceSession`` backed by ``onnxruntime.InferenceSession``."""

    def __init__(self, model: Path, options: SessionOptions, providers: list) -> None:
        ort = _ort()
        so = ort.SessionOptions()
        threads = int(os.environ.get("REALTIME_ORT_THREADS", options.threads))
        so.intra_op_num_threads = max(1, threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn the core the other pipeline stages need.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(str(model), sess_options=so, providers=providers)
        except Exception as exc:
            msg = str(exc)
            if "INVALID_PROTOBUF" in msg or "Protobuf parsing failed" in msg or "INVALID_GRAPH" in msg:
                raise ModelError(
                    f"model file is corrupt: {model}", fix="delete it and reinstall or re-fetch it"
                ) from exc
            raise
        self.provider = self._sess.get_providers()[0]
        self.inputs = tuple(TensorInfo(i.name, tuple(i.shape), i.type) for i in self._sess.get_inputs())
        self.outputs = tuple(TensorInfo(o.name, tuple(o.shape), o.type) for o in self._sess.get_outputs())
        self._out_names = [o.name for o in self.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = self._sess.run(self._out_names, dict(feeds))
        return dict(zip(self._out_names, res))


def _cpu_probe() -> str | None:
    try:
        ort = _ort()
    except ImportError:
        return "onnxruntime is not installed (pip install 'realtime[cpu]')"
    if "CPUExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime build has no CPUExecutionProvider"
    return None


def _cpu_factory(model: Path, options: SessionOptions) -> OrtSession:
    return OrtSession(model, options, ["CPUExecutionProvider"])


register_backend("cpu", _cpu_factory, _cpu_probe, rank=100)
