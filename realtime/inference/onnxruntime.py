"""ONNX Runtime backends: one registered backend per execution provider.

``ort-tensorrt`` (TensorRT EP with engine and timing caches under the engine cache, FP16),
``cuda`` (IO binding, and CUDA graphs for static-shape models), ``directml`` (runs
serialised, memory pattern off), ``coreml``, ``openvino`` and ``cpu`` (explicit threads).
The backend table and each provider's options are in ``realtime.inference.ort_providers``;
this module opens and runs sessions and registers the backends; ``ort_probe`` says whether
each can be tried here.

ONNX Runtime silently drops an execution provider that fails to initialise and runs on the
CPU instead; every factory here checks which provider really runs the model and raises when
it is not the requested one, so ``open_session`` can fall back with a warning that says why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ConfigError, ModelError
from realtime.inference import cuda as cudamod
from realtime.inference.engine_progress import BuildTicker
from realtime.inference.engines import default_cache_dir, tensorrt_version
from realtime.inference.ort_probe import explain_failure, ort_facts, probe_ort_backend
from realtime.inference.ort_providers import (
    ORT_BACKENDS,
    GpuFacts,
    OrtBackendSpec,
    is_static,
    ort_module,
    provider_list,
    resolve_threads,
    session_options,
)
from realtime.inference.session import (
    BackendFactory,
    BackendProbe,
    ProbeResult,
    SessionOptions,
    TensorInfo,
    register_backend,
)

log = logging.getLogger(__name__)

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


# ---------------------------------------------------------------------------------------------
# The session and its run strategies
# ---------------------------------------------------------------------------------------------


class ProviderNotActive(RuntimeError):
    """ONNX Runtime created the session without the requested execution provider."""


class OrtSession:
    """An ``InferenceSession`` backed by ``onnxruntime.InferenceSession``.

    ``binding`` chooses how frames reach the model: ``none`` (``run``), ``io`` (IO binding:
    inputs copied once from the numpy buffer, outputs written straight to host memory) or
    ``graph`` (fixed device buffers updated in place; required by CUDA graphs; static shapes
    only). ``run_lock`` serialises runs across sessions (DirectML).

    Thread safety: ``run`` may be called from several threads. A plain run is safe in ONNX
    Runtime itself. ``graph`` buffers are shared state, rewritten in place by every run, so
    two concurrent runs would swap each other's inputs and outputs: a ``graph`` session runs
    one at a time, under its own lock (or ``run_lock`` when given). ``io`` sessions (a new
    binding per run) follow the same rule, so every bound path is one run at a time per
    session; the pre- and post-processing of other workers still overlaps with it.
    """

    def __init__(
        self,
        model: Path,
        options: SessionOptions,
        providers: Sequence[str | tuple[str, dict[str, str]]] = ("CPUExecutionProvider",),
        *,
        backend: str = "cpu",
        binding: str = "none",
        device: str = "cuda",
        run_lock: threading.Lock | None = None,
        threads: int | None = None,
    ) -> None:
        ort = ort_module()
        threads = resolve_threads(options.threads) if threads is None else threads
        so = session_options(backend, threads)
        first = providers[0] if isinstance(providers[0], str) else providers[0][0]
        log.debug("%s: ONNX Runtime providers and options for %s: %s", model.name, backend, list(providers))
        try:
            self._sess = ort.InferenceSession(
                str(model), sess_options=so, providers=list(providers), enable_fallback=0
            )
        except Exception as exc:
            msg = str(exc)
            if "INVALID_PROTOBUF" in msg or "Protobuf parsing failed" in msg or "INVALID_GRAPH" in msg:
                raise ModelError(
                    f"model file is corrupt: {model}", fix="delete it and reinstall or re-fetch it"
                ) from exc
            raise
        active = self._sess.get_providers()
        if not active or active[0] != first:
            raise ProviderNotActive(
                f"{first} did not start (ONNX Runtime is using {', '.join(active) or 'nothing'})"
            )
        self.provider = backend
        self.ep = first
        self.threads = threads
        self.inputs = tuple(TensorInfo(i.name, tuple(i.shape), i.type) for i in self._sess.get_inputs())
        self.outputs = tuple(TensorInfo(o.name, tuple(o.shape), o.type) for o in self._sess.get_outputs())
        self._out_names = [o.name for o in self.outputs]
        if binding == "graph" and not (is_static(self.inputs) and is_static(self.outputs)):
            binding = "io"
        self.binding = binding
        self._lock = run_lock
        if self._lock is None and binding != "none":
            self._lock = threading.Lock()  # bound buffers: one run at a time per session
        self._runner: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
        if binding == "none":
            self._runner = self._run_plain
        elif binding == "io":
            self._runner = self._run_io
        elif binding == "graph":
            self._runner = self._bind_fixed(ort, device, options.device_id)
        else:
            raise ConfigError(f"unknown binding {binding!r}", fix="one of none, io, graph")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._lock is None:
            return self._runner(feeds)
        with self._lock:
            return self._runner(feeds)

    def warm_up(self) -> None:
        """One run on zeros: pays for cuDNN algorithm search and CUDA graph capture now."""
        self.run({t.name: np.zeros(_shape(t), _dtype(t)) for t in self.inputs})

    def _run_plain(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = self._sess.run(self._out_names, dict(feeds))
        return dict(zip(self._out_names, res))

    def _run_io(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        binding = self._sess.io_binding()
        for t in self.inputs:
            binding.bind_cpu_input(t.name, np.ascontiguousarray(feeds[t.name]))
        for name in self._out_names:
            binding.bind_output(name, "cpu")
        self._sess.run_with_iobinding(binding)
        return dict(zip(self._out_names, binding.copy_outputs_to_cpu()))

    def _bind_fixed(
        self, ort: Any, device: str, device_id: int
    ) -> Callable[[Mapping[str, np.ndarray]], dict]:
        """Allocate device buffers once and bind them; each run updates the inputs in place."""
        binding = self._sess.io_binding()
        ins = {}
        for t in self.inputs:
            ins[t.name] = ort.OrtValue.ortvalue_from_shape_and_type(_shape(t), _dtype(t), device, device_id)
            binding.bind_ortvalue_input(t.name, ins[t.name])
        outs = {}
        for t in self.outputs:
            outs[t.name] = ort.OrtValue.ortvalue_from_shape_and_type(_shape(t), _dtype(t), device, device_id)
            binding.bind_ortvalue_output(t.name, outs[t.name])
        in_specs = {t.name: (_shape(t), _dtype(t)) for t in self.inputs}

        def run(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            for name, value in ins.items():
                shape, dtype = in_specs[name]
                arr = np.ascontiguousarray(feeds[name], dtype=dtype)
                if arr.shape != shape:
                    raise ValueError(f"input {name} has shape {arr.shape}; this model takes {shape}")
                value.update_inplace(arr)
            self._sess.run_with_iobinding(binding)
            if device == "cpu":  # numpy() of a host buffer is a view the next run overwrites
                return {name: value.numpy().copy() for name, value in outs.items()}
            return {name: value.numpy() for name, value in outs.items()}

        return run


def _shape(t: TensorInfo) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else 1 for d in t.shape)


def _dtype(t: TensorInfo) -> Any:
    return _ORT_DTYPES.get(t.dtype, np.float32)


# ---------------------------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------------------------


def _preload_cuda_libraries() -> None:
    """Load CUDA/cuDNN from the nvidia-* wheels when present (ORT >= 1.21); quiet."""
    ort = ort_module()
    if not hasattr(ort, "preload_dlls"):
        return
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            ort.preload_dlls()
    except Exception as exc:
        log.debug("onnxruntime.preload_dlls failed: %s", exc)
    if buf.getvalue().strip():
        log.debug("onnxruntime.preload_dlls: %s", buf.getvalue().strip())


def _gpu_facts(options: SessionOptions) -> GpuFacts:
    state = cudamod.probe_cuda_driver()
    device = next((d for d in state.devices if d.index == options.device_id), None)
    return GpuFacts(device, tensorrt_version())


def _make_factory(spec: OrtBackendSpec) -> BackendFactory:
    # DirectML sessions must not run concurrently: one lock shared by every session this
    # backend opens (held by the registry through this closure).
    run_lock = threading.Lock() if spec.name == "directml" else None

    def factory(model: Path, options: SessionOptions) -> OrtSession:
        threads = resolve_threads(options.threads)
        cache_root = default_cache_dir(options.cache_dir)
        gpu = None
        if spec.needs_nvidia:
            _preload_cuda_libraries()
            gpu = _gpu_facts(options)
        if spec.name == "ort-tensorrt" and importlib.util.find_spec("tensorrt") is not None:
            import tensorrt  # noqa: F401  (puts libnvinfer in the process for the EP)

        if spec.name == "cuda" and options.cuda_graph:
            try:
                return _open(spec, model, options, cache_root, threads, gpu, run_lock, cuda_graph=True)
            except (ModelError, ConfigError, ProviderNotActive):
                raise
            except Exception as exc:
                log.info("%s: CUDA graphs unavailable for this model (%s); using IO binding", model.name, exc)
        if spec.name == "ort-tensorrt":
            # The EP builds (or loads) its engine while the session is created.
            with BuildTicker(options.on_build, model.stem):
                return _open(spec, model, options, cache_root, threads, gpu, run_lock, cuda_graph=False)
        return _open(spec, model, options, cache_root, threads, gpu, run_lock, cuda_graph=False)

    return factory


def _open(
    spec: OrtBackendSpec,
    model: Path,
    options: SessionOptions,
    cache_root: Path,
    threads: int,
    gpu: GpuFacts | None,
    run_lock: threading.Lock | None,
    *,
    cuda_graph: bool,
) -> OrtSession:
    providers = provider_list(
        spec.name, options, cache_root=cache_root, threads=threads, gpu=gpu, cuda_graph=cuda_graph
    )
    for _ep, opts in providers:
        for key in ("trt_engine_cache_path", "cache_dir"):
            if key in opts:
                Path(opts[key]).mkdir(parents=True, exist_ok=True)
    if cuda_graph:
        binding = "graph"
    elif spec.name in ("cuda", "ort-tensorrt"):
        binding = "io"
    else:
        binding = "none"
    sess = OrtSession(
        model, options, providers, backend=spec.name, binding=binding, run_lock=run_lock, threads=threads
    )
    if cuda_graph and sess.binding != "graph":
        raise RuntimeError("the model has dynamic shapes")
    if spec.needs_nvidia and is_static(sess.inputs):
        sess.warm_up()  # capture the CUDA graph / pick cuDNN algorithms before the first frame
    return sess


def _make_probe(spec: OrtBackendSpec) -> BackendProbe:
    def probe() -> ProbeResult | None:
        return probe_ort_backend(spec, ort_facts())

    return probe


def _make_explainer(spec: OrtBackendSpec) -> Callable[[BaseException], str]:
    return lambda exc: explain_failure(spec, exc)


for _spec in ORT_BACKENDS:
    register_backend(
        _spec.name,
        _make_factory(_spec),
        _make_probe(_spec),
        rank=_spec.rank,
        description=_spec.description,
        explain=_make_explainer(_spec),
    )
