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

import hashlib
import importlib.util
import json
import logging
import platform
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.catalog.manifest import BUNDLED_DIR, sha256_file
from realtime.catalog.store import cached_sha256
from realtime.errors import ConfigError, ModelError, ProviderError
from realtime.inference import cuda as cudamod
from realtime.inference import device_memory as devmem
from realtime.inference.engines import EngineCache, EngineKey
from realtime.inference.session import ProbeResult, SessionOptions, TensorInfo, register_backend

log = logging.getLogger(__name__)

Shape = tuple[int, ...]
Profile = dict[str, tuple[Shape, Shape, Shape]]

_NP_TO_ORT = {
    np.dtype(np.float32): "tensor(float)",
    np.dtype(np.float16): "tensor(float16)",
    np.dtype(np.int32): "tensor(int32)",
    np.dtype(np.int64): "tensor(int64)",
    np.dtype(np.int8): "tensor(int8)",
    np.dtype(np.uint8): "tensor(uint8)",
    np.dtype(np.bool_): "tensor(bool)",
}


def _trt() -> Any:
    # Optional (NVIDIA only), and heavy.
    import tensorrt

    return tensorrt


# ---------------------------------------------------------------------------------------------
# Pure parts: profiles and keys
# ---------------------------------------------------------------------------------------------


def optimisation_profile(
    inputs: Sequence[tuple[str, Shape]],
    hints: Mapping[str, Shape] | None,
    max_batch: int = 1,
) -> Profile:
    """(min, opt, max) shapes for every input with a dynamic (-1) dimension.

    A dynamic leading (batch) dimension ranges over 1..max(hint, ``max_batch``); any other
    dynamic dimension must be given in ``hints`` and is fixed to it.
    """
    hints = hints or {}
    profile: Profile = {}
    for name, shape in inputs:
        if all(d > 0 for d in shape):
            continue
        hint = hints.get(name)
        if hint is not None and len(hint) != len(shape):
            raise ConfigError(f"shape hint for {name} has {len(hint)} dims; the model input has {len(shape)}")
        lo: list[int] = []
        opt: list[int] = []
        hi: list[int] = []
        for i, d in enumerate(shape):
            if d > 0:
                lo.append(d)
                opt.append(d)
                hi.append(d)
            elif i == 0:
                want = hint[0] if hint is not None and hint[0] > 0 else 1
                lo.append(1)
                opt.append(want)
                hi.append(max(want, max_batch))
            elif hint is not None and hint[i] > 0:
                lo.append(hint[i])
                opt.append(hint[i])
                hi.append(hint[i])
            else:
                raise ConfigError(
                    f"model input {name} has a dynamic dimension {i} that TensorRT needs a size for",
                    fix=f"pass SessionOptions(shapes={{'{name}': (...)}})",
                )
        profile[name] = (tuple(lo), tuple(opt), tuple(hi))
    return profile


def profile_digest(hints: Mapping[str, Shape] | None, max_batch: int) -> str:
    """A short digest of what shapes the engine was built for; "" for the default."""
    if not hints and max_batch == 1:
        return ""
    doc = {"shapes": {k: list(v) for k, v in sorted((hints or {}).items())}, "max_batch": max_batch}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def engine_key(
    model_sha256: str,
    device: cudamod.CudaDevice,
    trt_version: str,
    precision: str,
    options: SessionOptions,
) -> EngineKey:
    return EngineKey(
        model_sha256=model_sha256,
        gpu_name=device.name,
        compute_capability=device.cc,
        trt_version=trt_version,
        precision=precision,
        profile=profile_digest(options.shapes, options.max_batch),
    )


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def build_engine(
    trt: Any,
    onnx_path: Path,
    *,
    precision: str,
    workspace_bytes: int,
    hints: Mapping[str, Shape] | None,
    max_batch: int,
    timing_cache: bytes | None,
    logger: Any,
) -> tuple[bytes, bytes | None]:
    """Build a serialised engine from an ONNX file; returns it and the updated timing cache."""
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path.name}: {errors or 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    inputs = []
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        inputs.append((tensor.name, tuple(int(d) for d in tensor.shape)))
    profile = optimisation_profile(inputs, hints, max_batch)
    if profile:
        p = builder.create_optimization_profile()
        for name, (lo, opt, hi) in profile.items():
            p.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(p)
    cache = None
    if timing_cache:
        cache = config.create_timing_cache(timing_cache)
        if cache is None:
            log.info("the TensorRT timing cache is unusable; starting a new one")
    if cache is None:
        cache = config.create_timing_cache(b"")
    config.set_timing_cache(cache, False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT could not build an engine for {onnx_path.name} (see the log above)")
    new_cache = config.get_timing_cache()
    return bytes(serialized), (bytes(new_cache.serialize()) if new_cache is not None else None)


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


def _sha256(path: Path) -> str:
    """The model's SHA-256 for the engine key; downloaded models use the store's cached hash
    (hashing a 500 MB swapper at every start costs seconds)."""
    try:
        if BUNDLED_DIR not in path.resolve().parents:
            return cached_sha256(path)
        return sha256_file(path)
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc}") from exc


_TRT_LEVELS = {
    "INTERNAL_ERROR": logging.ERROR,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.DEBUG,
    "VERBOSE": logging.DEBUG,
}


def make_logger(trt: Any) -> Any:
    """A TensorRT logger that forwards to ``logging`` instead of writing to stderr."""
    base = getattr(trt, "ILogger", None)
    if base is None:
        return trt.Logger(trt.Logger.WARNING)

    class _Forward(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()

        def log(self, severity: Any, msg: str) -> None:
            name = getattr(severity, "name", str(severity)).split(".")[-1]
            log.log(_TRT_LEVELS.get(name, logging.DEBUG), "TensorRT: %s", msg)

    return _Forward()


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
