"""``realtime bench --providers``: time each model on each inference provider.

Each (model, provider) pair is opened through ``open_session`` with that provider forced, so
the numbers are for exactly the code path the app uses; load time and the first run (engine
build, CUDA graph capture, cuDNN search) are reported apart from the steady-state p50/p95.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.catalog import store
from realtime.catalog.manifest import ModelSpec
from realtime.errors import ConfigError, ModelError, ProviderError
from realtime.inference.session import (
    InferenceSession,
    ProbeResult,
    SessionOptions,
    TensorInfo,
    open_session,
    probe_backends,
)

log = logging.getLogger(__name__)

OpenFn = Callable[..., InferenceSession]

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def _feeds(
    inputs: Sequence[TensorInfo], shapes: Mapping[str, tuple[int, ...]], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Random inputs of each model input's shape; ``ConfigError`` for an unknown dynamic size."""
    feeds: dict[str, np.ndarray] = {}
    for t in inputs:
        if t.name in shapes:
            shape = tuple(shapes[t.name])
        else:
            dims = []
            for i, d in enumerate(t.shape):
                if isinstance(d, int) and d > 0:
                    dims.append(d)
                elif i == 0:
                    dims.append(1)
                else:
                    raise ConfigError(f"input {t.name} has a dynamic dimension {i}; pass its shape")
            shape = tuple(dims)
        dtype = _DTYPES.get(t.dtype, np.float32)
        if np.issubdtype(dtype, np.floating):
            feeds[t.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[t.name] = np.zeros(shape, dtype)
    return feeds


def _spec_path(spec: ModelSpec) -> Path:
    if spec.bundled:
        return spec.bundled_path

    return store.model_path(spec)


def _spec_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The manifest's input shapes, where every dimension is a number."""
    return {
        t.name: tuple(int(d) for d in t.shape)
        for t in spec.inputs
        if t.shape and all(isinstance(d, int) and d > 0 for d in t.shape)
    }


def _models(
    models: Mapping[str, Path] | Sequence[Path | ModelSpec],
) -> tuple[dict[str, Path], dict[str, dict[str, tuple[int, ...]]]]:
    """(name -> file, name -> input shapes known from a manifest)."""
    if isinstance(models, Mapping):
        return {str(k): Path(v) for k, v in models.items()}, {}
    paths: dict[str, Path] = {}
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    for m in models:
        if isinstance(m, ModelSpec):
            paths[m.name] = _spec_path(m)
            shapes[m.name] = _spec_shapes(m)
        else:
            paths[Path(m).stem] = Path(m)
    return paths, shapes


def bench_providers(
    models: Mapping[str, Path] | Sequence[Path | ModelSpec],
    providers: Sequence[str] | None = None,
    runs: int = 50,
    *,
    warmup: int = 3,
    options: SessionOptions | None = None,
    shapes: Mapping[str, Mapping[str, tuple[int, ...]]] | None = None,
    open_fn: OpenFn = open_session,
    clock: Callable[[], float] = time.perf_counter,
    seed: int = 0,
) -> dict[str, Any]:
    """Time every model on every provider (default: every provider usable here).

    ``models`` are files (named by their stem), a name -> file mapping, or manifest
    ``ModelSpec`` records (whose fixed input shapes are used for dynamic inputs).

    Returns ``{"runs", "warmup", "providers": {name: {"available", "reason"}}, "results": [...]}``
    with one result per (model, provider): ``status`` ok / unavailable / failed / skipped,
    and for ``ok`` the load time, first-run time and p50/p95/mean/min/max in milliseconds.
    """
    if runs < 1:
        raise ConfigError(f"runs must be at least 1, got {runs}")
    options = options or SessionOptions()
    named, spec_shapes = _models(models)
    shapes = {**spec_shapes, **(shapes or {})}
    probes = probe_backends()
    wanted = list(providers) if providers else [n for n, p in probes.items() if p is None]
    unknown = [p for p in wanted if p not in probes]
    if unknown:
        raise ConfigError(f"unknown provider {', '.join(unknown)}", fix=f"choose from {', '.join(probes)}")
    report: dict[str, Any] = {
        "runs": runs,
        "warmup": warmup,
        "providers": {n: {"available": probes[n] is None, "reason": _reason(probes[n])} for n in wanted},
        "results": [],
    }
    rng = np.random.default_rng(seed)
    for provider in wanted:
        for name, path in named.items():
            row: dict[str, Any] = {"model": name, "provider": provider, "status": "ok", "detail": None}
            report["results"].append(row)
            probe = probes[provider]
            if probe is not None:
                row.update(status="unavailable", detail=probe.text())
                continue
            try:
                t0 = clock()
                sess = open_fn(path, prefer=provider, options=options, label=name)
                row["load_ms"] = (clock() - t0) * 1e3
                feeds = _feeds(sess.inputs, shapes.get(name, {}), rng)
            except ConfigError as exc:
                row.update(status="skipped", detail=str(exc))
                continue
            except (ProviderError, ModelError) as exc:
                row.update(status="failed", detail=str(exc))
                continue
            if sess.provider != provider:
                row.update(status="failed", detail=f"ran on {sess.provider}, not {provider}")
                continue
            try:
                row.update(_time(sess, feeds, runs, warmup, clock))
            except Exception as exc:  # a provider that opens but cannot run
                log.debug("bench %s on %s failed", name, provider, exc_info=True)
                row.update(status="failed", detail=f"{type(exc).__name__}: {exc}")
    return report


def _reason(probe: ProbeResult | None) -> str | None:
    return None if probe is None else probe.text()


def _time(
    sess: InferenceSession,
    feeds: Mapping[str, np.ndarray],
    runs: int,
    warmup: int,
    clock: Callable[[], float],
) -> dict[str, float | int]:
    t0 = clock()
    sess.run(feeds)
    first = clock() - t0
    for _ in range(max(0, warmup - 1)):
        sess.run(feeds)
    times = np.empty(runs)
    for i in range(runs):
        t0 = clock()
        sess.run(feeds)
        times[i] = clock() - t0
    ms = times * 1e3
    return {
        "first_run_ms": first * 1e3,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "runs": runs,
    }
