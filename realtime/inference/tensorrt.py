"""Native TensorRT: engines built from the ONNX files, cached, run on a CUDA stream.

The engine is built once per model, GPU, TensorRT version and precision (FP16 where the GPU
runs it well), with an optimisation profile for dynamic inputs, a timing cache and a
workspace limit, and cached by ``realtime.inference.engines``. Inference uses
``execute_async_v3`` with device buffers allocated once, through the small ``DeviceMemory``
interface of ``realtime.inference.cuda``.

The ``tensorrt`` module, the device memory and the GPU description are parameters of
``TensorRTSession`` so the whole path runs in tests against fakes.
"""

from __future__ import annotations

import importlib.util
import logging
import platform
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ProviderError
from realtime.inference import cuda as cudamod
from realtime.inference import device_memory as devmem
from realtime.inference.engines import EngineCache
from realtime.inference.session import ProbeResult, SessionOptions, TensorInfo, register_backend
from realtime.inference.tensorrt_engine import Shape, _sha256, _trt, build_engine, engine_key, make_logger

log = logging.getLogger(__name__)


_NP_TO_ORT = {
    np.dtype(np.float32): "tensor(float)",
    np.dtype(np.float16): "tensor(float16)",
    np.dtype(np.int32): "tensor(int32)",
    np.dtype(np.int64): "tensor(int64)",
    np.dtype(np.int8): "tensor(int8)",
    np.dtype(np.uint8): "tensor(uint8)",
    np.dtype(np.bool_): "tensor(bool)",
}


# ---------------------------------------------------------------------------------------------
# The session
# ---------------------------------------------------------------------------------------------


@dataclass
class _Binding:
    name: str
    dtype: np.dtype
    shape: Shape  # engine shape; -1 for dynamic dims
    ptr: int
    capacity: int  # bytes allocated
    limits: tuple[Shape, Shape] | None  # (min, max) of a dynamic input


class TensorRTSession:
    """An ``InferenceSession`` on a TensorRT engine, with fixed device buffers and a stream."""

    provider = "tensorrt"

    def __init__(
        self,
        model: Path,
        options: SessionOptions,
        *,
        trt: Any = None,
        memory: devmem.DeviceMemory | None = None,
        device: cudamod.CudaDevice | None = None,
        cache: EngineCache | None = None,
    ) -> None:
        trt = trt if trt is not None else _trt()
        if device is None:
            state = cudamod.probe_cuda_driver()
            device = next((d for d in state.devices if d.index == options.device_id), None)
            if device is None:
                raise ProviderError(f"no NVIDIA GPU {options.device_id}: {state.error or 'not found'}")
        self._mem = memory if memory is not None else devmem.open_device_memory(options.device_id)
        logger = make_logger(trt)
        precision, why = cudamod.choose_precision(
            options.precision, device, builder_supports_fp16=hasattr(trt.BuilderFlag, "FP16")
        )
        log.debug("%s: TensorRT precision %s (%s)", model.name, precision, why)
        sha = options.model_sha256 or _sha256(model)
        key = engine_key(sha, device, str(trt.__version__), precision, options)
        cache = cache if cache is not None else EngineCache(options.cache_dir)
        runtime = trt.Runtime(logger)
        log.debug("%s: TensorRT options: key=%s workspace=%d MiB", model.name, key, options.workspace_mb)

        def build() -> bytes:
            engine_bytes, timing = build_engine(
                trt,
                model,
                precision=precision,
                workspace_bytes=int(options.workspace_mb) << 20,
                hints=options.shapes,
                max_batch=options.max_batch,
                timing_cache=cache.read_timing_cache(key),
                logger=logger,
            )
            if timing:
                cache.write_timing_cache(key, timing)
            return engine_bytes

        self._engine = cache.get_or_build(
            key, build, runtime.deserialize_cuda_engine, label=model.stem, progress=options.on_build
        )
        self._runtime = runtime  # the engine must not outlive its runtime
        self._ctx = self._engine.create_execution_context()
        if self._ctx is None:
            raise RuntimeError("TensorRT could not create an execution context (is the GPU out of memory?)")
        self._stream = self._mem.create_stream()
        self._lock = threading.Lock()
        self.precision = precision
        self.engine_key = key
        self._inputs: list[_Binding] = []
        self._outputs: list[_Binding] = []
        self._allocate(trt)
        self.inputs = tuple(
            TensorInfo(b.name, _dims(b.shape), _NP_TO_ORT.get(b.dtype, str(b.dtype))) for b in self._inputs
        )
        self.outputs = tuple(
            TensorInfo(b.name, _dims(b.shape), _NP_TO_ORT.get(b.dtype, str(b.dtype))) for b in self._outputs
        )
        if all(b.limits is None for b in self._inputs):
            self.run({b.name: np.zeros(b.shape, b.dtype) for b in self._inputs})  # warm up

    def _allocate(self, trt: Any) -> None:
        """Allocate every IO buffer once, sized for the largest shape the profile allows."""
        engine, ctx = self._engine, self._ctx
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        is_input = {n: engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        for name in (n for n in names if is_input[n]):
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            limits = None
            biggest = shape
            if any(d < 0 for d in shape):
                lo, _opt, hi = (tuple(int(d) for d in s) for s in engine.get_tensor_profile_shape(name, 0))
                limits = (lo, hi)
                biggest = hi
                ctx.set_input_shape(name, hi)
            nbytes = int(np.prod(biggest)) * dtype.itemsize
            ptr = self._mem.alloc(nbytes)
            ctx.set_tensor_address(name, ptr)
            self._inputs.append(_Binding(name, dtype, shape, ptr, nbytes, limits))
        for name in (n for n in names if not is_input[n]):
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            biggest = tuple(int(d) for d in ctx.get_tensor_shape(name))
            if any(d < 0 for d in biggest):
                raise ProviderError(
                    f"output {name} has a data-dependent shape, which this backend does not support"
                )
            nbytes = int(np.prod(biggest)) * dtype.itemsize
            ptr = self._mem.alloc(nbytes)
            ctx.set_tensor_address(name, ptr)
            self._outputs.append(_Binding(name, dtype, shape, ptr, nbytes, None))

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            held = []
            for b in self._inputs:
                arr = np.ascontiguousarray(feeds[b.name], dtype=b.dtype)
                if b.limits is None:
                    if arr.shape != b.shape:
                        raise ValueError(f"input {b.name} has shape {arr.shape}; the engine takes {b.shape}")
                else:
                    lo, hi = b.limits
                    if len(arr.shape) != len(lo) or any(
                        not lo[i] <= arr.shape[i] <= hi[i] for i in range(len(lo))
                    ):
                        raise ValueError(
                            f"input {b.name} shape {arr.shape} is outside the engine's range {lo}..{hi}"
                        )
                    self._ctx.set_input_shape(b.name, arr.shape)
                self._mem.upload(b.ptr, arr, self._stream)
                held.append(arr)
            outs = {
                b.name: np.empty(tuple(int(d) for d in self._ctx.get_tensor_shape(b.name)), b.dtype)
                for b in self._outputs
            }
            if not self._ctx.execute_async_v3(self._stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            for b in self._outputs:
                self._mem.download(outs[b.name], b.ptr, self._stream)
            self._mem.synchronize(self._stream)
            return outs

    def close(self) -> None:
        """Free the device buffers (also safe to leave to process exit)."""
        for b in (*self._inputs, *self._outputs):
            self._mem.free(b.ptr)
        self._inputs, self._outputs = [], []


def _dims(shape: Shape) -> tuple[int | str | None, ...]:
    return tuple(d if d >= 0 else None for d in shape)


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------


def probe_tensorrt(
    *,
    has_tensorrt: bool | None = None,
    driver: cudamod.CudaDriverState | None = None,
    memory_apis: Sequence[str] | None = None,
    table: cudamod.DriverTable | None = None,
) -> ProbeResult | None:
    """Why native TensorRT cannot run here (``None`` when it can be tried)."""
    if has_tensorrt is None:
        has_tensorrt = importlib.util.find_spec("tensorrt") is not None
    if not has_tensorrt:
        return ProbeResult(
            "TensorRT is not installed",
            fix="pip install 'realtime-faceswap[tensorrt]' cuda-python (NVIDIA GPUs)",
        )
    driver = driver if driver is not None else cudamod.probe_cuda_driver()
    if not driver.devices:
        table = table or cudamod.load_driver_table()
        return ProbeResult(
            driver.error or "no NVIDIA GPU found",
            fix=f"install {table.requirement_text(table.gpu_extra_cuda, platform.system())}",
            installed=True,
        )
    apis = memory_apis if memory_apis is not None else devmem.installed_memory_apis()
    if not apis:
        return ProbeResult(
            "TensorRT needs a CUDA memory API and none of cuda-python, CuPy or PyTorch is installed",
            fix="pip install cuda-python",
            installed=True,
        )
    return None


def _factory(model: Path, options: SessionOptions) -> TensorRTSession:
    return TensorRTSession(model, options)


def _explain(exc: BaseException) -> str:
    text = str(exc)
    if "cuda memory api" in text.lower():
        return "pip install cuda-python"
    return cudamod.explain_cuda_failure(
        text, driver=cudamod.nvidia_driver_version(), cuda=None, table=cudamod.load_driver_table()
    )


register_backend(
    "tensorrt",
    _factory,
    probe_tensorrt,
    rank=10,
    description="native TensorRT engines (NVIDIA), cached per GPU",
    explain=_explain,
)
