"""``realtime bench --remote URL``: what serving the models on a Triton server costs a face.

Each of N concurrent streams (its own client and connection, like N laptops) sends one aligned
face per camera frame (paced at ``fps``; 0 sends as fast as answers come) through the real
``TritonSession``, which is the whole added path: uint8 encoding, the network, the server's
queue and model, and decoding. Reported per case: the added latency per face (p50, p95),
faces per second over all streams, and calls abandoned or failed. A model exported with
``--also-unbatched`` (``NAME_nobatch``) is measured too, to show what dynamic batching buys.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.errors import ConfigError, RemoteError
from realtime.inference.triton import TritonSession
from realtime.inference.triton_wire import contract
from realtime.pipeline.stats import percentiles


def _feeds(spec: ModelSpec, seed: int) -> dict[str, np.ndarray]:
    """Float inputs as the swapper would send them (a crop of pixel values, a unit vector)."""
    rng = np.random.default_rng(seed)
    c = contract(spec)
    feeds: dict[str, np.ndarray] = {}
    for t, w in zip(spec.inputs, c.inputs, strict=True):
        shape = tuple(int(d) if isinstance(d, int) else 1 for d in t.shape)
        if w.image:
            pixels = rng.integers(0, 256, shape).astype(np.float32)
            feeds[t.name] = (pixels - np.float32(np.mean(c.mean))) / np.float32(np.mean(c.std))
        else:
            v = rng.standard_normal(shape).astype(np.float32)
            feeds[t.name] = v / np.linalg.norm(v)
    return feeds


def _stream(
    session: Any, feeds: dict[str, np.ndarray], fps: float, until: float, out: dict[str, Any]
) -> None:
    lat: list[float] = []
    failed = 0
    period = 1.0 / fps if fps > 0 else 0.0
    next_at = time.monotonic()
    while time.monotonic() < until:
        if period:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += period
        t0 = time.perf_counter()
        try:
            session.run(feeds)
            lat.append((time.perf_counter() - t0) * 1000.0)
        except RemoteError:
            failed += 1
    out["lat"], out["failed"] = lat, failed


def bench_case(
    url: str, spec: ModelSpec, streams: int, *, fps: float, duration: float, warmup: float = 1.0
) -> dict[str, Any]:
    sessions = [TritonSession(spec, url, budget_ms=5000.0) for _ in range(streams)]
    feeds = [_feeds(spec, k) for k in range(streams)]
    for s, f in zip(sessions, feeds, strict=True):
        s.run(f)
    start = time.monotonic() + warmup
    until = start + duration
    results: list[dict[str, Any]] = [{} for _ in range(streams)]
    threads = [
        threading.Thread(target=_stream, args=(s, f, fps, until, r))
        for s, f, r in zip(sessions, feeds, results, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        s.close()
    lat = [x for r in results for x in r["lat"]]
    # Warm-up calls are timed too but the rate counts the whole window, warm-up included.
    p = percentiles(lat)
    return {
        "streams": streams,
        "latency_ms": {"p50": p.get("p50"), "p95": p.get("p95")},
        "faces_per_s": round(len(lat) / (duration + warmup), 1),
        "failed": sum(r["failed"] for r in results),
    }


def bench_remote(
    url: str,
    model: str = "inswapper_128",
    streams: Sequence[int] = (1, 4, 8),
    *,
    fps: float = 30.0,
    duration: float = 5.0,
) -> dict[str, Any]:
    """The JSON of ``realtime bench --remote``."""
    specs = load_manifests()
    if model not in specs:
        raise ConfigError(f"unknown model {model!r}", fix="name a model of `realtime models list`")
    spec = specs[model]
    up, down = contract(spec).bytes_per_item()
    f32 = sum(int(np.prod([d for d in t.shape if isinstance(d, int)])) * 4 for t in spec.inputs)
    f32_down = sum(int(np.prod([d for d in t.shape if isinstance(d, int)])) * 4 for t in spec.outputs)
    variants = [(spec, True)]
    unbatched = dataclasses.replace(spec, name=f"{model}_nobatch")
    try:
        TritonSession(unbatched, url).close()
        variants.append((unbatched, False))
    except RemoteError:
        pass  # exported without --also-unbatched: only the batched model is measured
    cases = []
    for s, batching in variants:
        for n in streams:
            case = bench_case(url, s, n, fps=fps, duration=duration)
            cases.append({"model": s.name, "dynamic_batching": batching, **case})
    return {
        "remote": url,
        "model": model,
        "fps_per_stream": fps,
        "bytes_per_face": {"up": up, "down": down, "float32_up": f32, "float32_down": f32_down},
        "results": cases,
    }
