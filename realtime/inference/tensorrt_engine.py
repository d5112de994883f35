"""Building a TensorRT engine: optimisation profiles, the engine's cache key, the build itself
and TensorRT's log forwarded to ``logging``. The session that runs an engine is ``tensorrt.py``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from realtime.catalog.manifest import BUNDLED_DIR, sha256_file
from realtime.catalog.store import cached_sha256
from realtime.errors import ConfigError, ModelError
from realtime.inference import cuda as cudamod
from realtime.inference.engines import EngineKey
from realtime.inference.session import SessionOptions

log = logging.getLogger(__name__)
# TensorRT's own messages go to the backend's logger, where a user filtering them looks.
trt_log = logging.getLogger("realtime.inference.tensorrt")


Shape = tuple[int, ...]
Profile = dict[str, tuple[Shape, Shape, Shape]]


def _trt() -> Any:
    # Optional (NVIDIA only), and heavy.
    import tensorrt

    return tensorrt


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
            trt_log.log(_TRT_LEVELS.get(name, logging.DEBUG), "TensorRT: %s", msg)

    return _Forward()
