"""Triton Python-backend model: the exported uint8 wrapper (``model.onnx`` next to this file)
run by ONNX Runtime. Written by ``realtime triton export --platform python`` for servers
without the ONNX Runtime backend. The requests of a dynamic batch are concatenated into one
run and split again. Runs inside Triton's Python stub, so it imports nothing of ``realtime``."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        folder = os.path.join(args["model_repository"], args["model_version"])
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("REALTIME_TRITON_ORT_THREADS", "1"))
        self.session = onnxruntime.InferenceSession(
            os.path.join(folder, "model.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = [t["name"] for t in config["input"]]
        self.outputs = [t["name"] for t in config["output"]]

    def execute(self, requests: list[Any]) -> list[Any]:
        feeds: dict[str, list[np.ndarray]] = {n: [] for n in self.inputs}
        sizes = []
        for request in requests:
            for n in self.inputs:
                feeds[n].append(pb_utils.get_input_tensor_by_name(request, n).as_numpy())
            sizes.append(feeds[self.inputs[0]][-1].shape[0])
        batch = {n: np.concatenate(v, axis=0) for n, v in feeds.items()}
        results = self.session.run(self.outputs, batch)
        responses = []
        start = 0
        for size in sizes:
            tensors = [pb_utils.Tensor(n, r[start : start + size]) for n, r in zip(self.outputs, results)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
