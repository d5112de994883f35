"""ONNX Runtime's execution providers as realtime backends, and what each is given.

Pure: the backend table (execution provider, rank, install fix), the ``providers`` argument
with each provider's options (TensorRT engine and timing caches, CUDA graphs, OpenVINO
device), the ``SessionOptions`` and the intra-op thread count. Nothing here starts a session;
``realtime.inference.onnxruntime`` does, with these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError
from realtime.inference import cuda as cudamod
from realtime.inference.engines import _slug
from realtime.inference.session import (
    SessionOptions,
    TensorInfo,
)

ENV_THREADS = "REALTIME_ORT_THREADS"
ENV_OMP = "OMP_NUM_THREADS"
ENV_OPENVINO_DEVICE = "REALTIME_OPENVINO_DEVICE"


def ort_module() -> Any:  # imported lazily so `realtime --help` stays fast
    import onnxruntime

    return onnxruntime


def resolve_threads(requested: int, environ: Mapping[str, str] | None = None) -> int:
    """Intra-op threads: ``$REALTIME_ORT_THREADS`` overrides, ``$OMP_NUM_THREADS`` caps."""
    environ = os.environ if environ is None else environ

    def env_int(name: str) -> int | None:
        raw = environ.get(name, "").strip()
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(
                f"${name}={raw!r} is not a positive whole number", fix=f"unset {name} or set it to 1"
            )
        return value

    explicit = env_int(ENV_THREADS)
    if explicit is not None:
        return explicit
    threads = max(1, int(requested))
    cap = env_int(ENV_OMP)
    return min(threads, cap) if cap is not None else threads


@dataclass(frozen=True)
class OrtBackendSpec:
    """One ONNX Runtime execution provider as a realtime backend."""

    name: str
    ep: str
    rank: int
    description: str
    needs_nvidia: bool = False
    install_fix: str = ""


ORT_BACKENDS: tuple[OrtBackendSpec, ...] = (
    OrtBackendSpec(
        "ort-tensorrt",
        "TensorrtExecutionProvider",
        20,
        "TensorRT through ONNX Runtime (NVIDIA)",
        needs_nvidia=True,
        install_fix="pip uninstall -y onnxruntime && pip install 'realtime-faceswap[gpu]' tensorrt",
    ),
    OrtBackendSpec(
        "cuda",
        "CUDAExecutionProvider",
        30,
        "CUDA through ONNX Runtime (NVIDIA)",
        needs_nvidia=True,
        install_fix="pip uninstall -y onnxruntime && pip install 'realtime-faceswap[gpu]'",
    ),
    OrtBackendSpec(
        "directml",
        "DmlExecutionProvider",
        40,
        "DirectML through ONNX Runtime (any DirectX 12 GPU on Windows)",
        install_fix="on Windows: pip uninstall -y onnxruntime && pip install 'realtime-faceswap[directml]'",
    ),
    OrtBackendSpec(
        "coreml",
        "CoreMLExecutionProvider",
        50,
        "Core ML through ONNX Runtime (Apple)",
        install_fix="on macOS the standard onnxruntime wheel includes Core ML",
    ),
    OrtBackendSpec(
        "openvino",
        "OpenVINOExecutionProvider",
        60,
        "OpenVINO through ONNX Runtime (Intel)",
        install_fix="pip uninstall -y onnxruntime && pip install onnxruntime-openvino",
    ),
    OrtBackendSpec(
        "cpu",
        "CPUExecutionProvider",
        100,
        "ONNX Runtime on the CPU",
        install_fix="pip install 'realtime-faceswap[cpu]'",
    ),
)
_SPECS = {s.name: s for s in ORT_BACKENDS}


@dataclass(frozen=True)
class GpuFacts:
    """What the NVIDIA-specific options depend on."""

    device: cudamod.CudaDevice | None
    trt_version: str | None


def is_static(infos: Sequence[TensorInfo]) -> bool:
    return all(isinstance(d, int) and d > 0 for t in infos for d in t.shape)


def provider_list(
    name: str,
    options: SessionOptions,
    *,
    cache_root: Path,
    threads: int,
    gpu: GpuFacts | None = None,
    cuda_graph: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[tuple[str, dict[str, str]]]:
    """The ``providers`` argument for ``onnxruntime.InferenceSession`` for backend ``name``."""
    environ = os.environ if environ is None else environ
    dev = str(options.device_id)
    cpu: tuple[str, dict[str, str]] = ("CPUExecutionProvider", {})
    cuda_opts = {
        "device_id": dev,
        "arena_extend_strategy": "kSameAsRequested",
        "cudnn_conv_algo_search": "EXHAUSTIVE" if cuda_graph else "HEURISTIC",
        "do_copy_in_default_stream": "1",
    }
    if name == "cpu":
        return [cpu]
    if name == "cuda":
        opts = dict(cuda_opts)
        if cuda_graph:
            opts["enable_cuda_graph"] = "1"
        return [("CUDAExecutionProvider", opts), cpu]
    if name == "ort-tensorrt":
        device = gpu.device if gpu else None
        precision, _why = cudamod.choose_precision(options.precision, device)
        trt_dir = (
            cache_root
            / "ort-tensorrt"
            / _ort_trt_dirname(device, gpu.trt_version if gpu else None, precision)
        )
        trt = {
            "device_id": dev,
            "trt_fp16_enable": "1" if precision == "fp16" else "0",
            "trt_engine_cache_enable": "1",
            "trt_engine_cache_path": str(trt_dir),
            "trt_timing_cache_enable": "1",
            "trt_timing_cache_path": str(trt_dir),
            "trt_max_workspace_size": str(int(options.workspace_mb) << 20),
        }
        return [("TensorrtExecutionProvider", trt), ("CUDAExecutionProvider", cuda_opts), cpu]
    if name == "directml":
        return [("DmlExecutionProvider", {"device_id": dev}), cpu]
    if name == "coreml":
        return [("CoreMLExecutionProvider", {"ModelFormat": "MLProgram", "MLComputeUnits": "ALL"}), cpu]
    if name == "openvino":
        ov = {
            "device_type": environ.get(ENV_OPENVINO_DEVICE, "").strip() or "AUTO:GPU,CPU",
            "num_of_threads": str(threads),
            "cache_dir": str(cache_root / "openvino"),
        }
        return [("OpenVINOExecutionProvider", ov), cpu]
    raise ConfigError(f"unknown ONNX Runtime backend {name!r}", fix=f"one of {', '.join(_SPECS)}")


def _ort_trt_dirname(device: cudamod.CudaDevice | None, trt_version: str | None, precision: str) -> str:
    gpu = f"{_slug(device.name)}-sm{device.cc.replace('.', '')}" if device else "gpu"
    return f"{gpu}-trt{_slug(trt_version or 'unknown')}-{precision}"


def session_options(name: str, threads: int) -> Any:
    """``onnxruntime.SessionOptions`` for backend ``name`` with explicit thread counts."""
    ort = ort_module()
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn the core the other pipeline stages need.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    if name == "directml":
        # DirectML does not support memory patterns or parallel execution.
        so.enable_mem_pattern = False
    return so
