"""``realtime bench``: the real pipeline on the synthetic source, measured.

Two modes: ``throughput`` (the source hands frames over as fast as the pipeline takes them,
nothing dropped) and ``live`` (the source is paced at the camera rate, latest-wins, drops
counted). It never fails on a slow result: it reports, and it says what it measured: the faces
found and swapped per frame, and whether every face of the scene was swapped in every
measured frame (``clean``); a run that swapped fewer is not a clean figure. Efficiency is the
pipeline's fps over the fps of its slowest thread (capture, processing or output) when that
thread runs alone.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from realtime.build import build, build_chain
from realtime.frame import Frame
from realtime.pipeline import percentiles
from realtime.pipeline.stats import faces_summary
from realtime.plan import ChainSpec, Layout, NullOutput, Plan, SourceSpec
from realtime.processor import Processor
from realtime.sinks.base import SinkContext
from realtime.sinks.registry import make_sink
from realtime.sources.registry import make_source
from realtime.sources.synthetic import SyntheticSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchCase:
    width: int
    height: int
    mode: str  # "throughput" | "live"
    faces: int = 1
    fps: float = 30.0
    duration: float = 10.0
    warmup: float = 2.0
    precompute: int = 48  # frames rendered ahead: the camera costs a copy, like a real one
    face_scale: float = 1.0  # relative size of each person (small: far from the camera)


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _source_spec(case: BenchCase, seed: int = 0) -> SourceSpec:
    """The synthetic camera of a case (``seed``: another scene for the stage-alone timing)."""
    return SourceSpec(
        "synthetic",
        width=case.width,
        height=case.height,
        fps=case.fps,
        live=case.mode == "live",
        faces=case.faces,
        precompute=case.precompute,
        face_scale=case.face_scale,
        seed=seed,
    )


def _alone_fps(fn: Any, n: int, min_s: float = 1.5) -> float:
    """Calls per second of ``fn`` run back to back on this thread alone."""
    fn()  # warm
    t0 = time.perf_counter()
    done = 0
    while done < n or time.perf_counter() - t0 < min_s:
        fn()
        done += 1
        if time.perf_counter() - t0 > 3 * min_s:
            break
    return done / (time.perf_counter() - t0)


def _reset(processors: list[Processor]) -> None:
    for p in processors:  # trackers and colour filters start from a clean state
        reset = getattr(p, "reset", None)
        if callable(reset):
            reset()


def _groups(processors: list[Processor], split: bool) -> list[list[Processor]]:
    if split and len(processors) > 1:
        return [processors[:1], processors[1:]]
    return [processors]


def stage_alone_fps(case: BenchCase, processors: list[Processor], split: bool = True) -> dict[str, float]:
    """Throughput of each pipeline thread run alone: capture, processing chain, output."""
    src: Any = make_source(_source_spec(replace(case, mode="throughput"), seed=1))
    src.open()
    frames: list[Frame] = []
    counter = [0]

    def capture() -> None:
        got = src.read()
        assert got is not None
        img = np.ascontiguousarray(got.image)
        frames.append(Frame(index=counter[0], captured_at=time.monotonic(), image=img))
        counter[0] += 1
        if len(frames) > 120:
            frames.pop(0)

    out: dict[str, float] = {"capture": _alone_fps(capture, 60)}
    src.close()
    pool = list(frames)
    _reset(processors)
    # Run the whole chain once per frame, timing each stage group separately, so every
    # processor sees frames in order (trackers) and gets the faces found upstream.
    groups = _groups(processors, split)
    spent = [0.0] * len(groups)
    n = max(60, len(pool))
    t_end = time.perf_counter() + 3.0
    done = 0
    while done < n and (done < 20 or time.perf_counter() < t_end):
        f = pool[done % len(pool)]
        f = Frame(index=done, captured_at=time.monotonic(), image=f.image)
        for gi, group in enumerate(groups):
            t0 = time.perf_counter()
            for p in group:
                f = p(f)
            if done >= 5:  # skip warm-up calls
                spent[gi] += time.perf_counter() - t0
        done += 1
    for gi, group in enumerate(groups):
        name = "process" if len(groups) == 1 else "+".join(getattr(p, "name", "?") for p in group)
        out[name] = (done - 5) / spent[gi] if spent[gi] > 0 else float("inf")
    _reset(processors)
    sink = make_sink(NullOutput())

    sink.open(SinkContext(case.width, case.height, case.fps))
    out["output"] = _alone_fps(lambda: sink.write(pool[0]), 60)
    sink.close()
    return {k: round(v, 2) for k, v in out.items()}


def bench_plan(case: BenchCase, chain: ChainSpec, layout: Layout) -> Plan:
    """The run a case measures: the synthetic camera into the null output, through the same
    plan and build as every other mode."""
    source = _source_spec(case)
    return Plan("bench", source, chain, (NullOutput(),), replace(layout, fps=case.fps))


def face_figures(counts: np.ndarray, scene: int) -> dict[str, Any]:
    """Faces found and swapped per measured frame against the ``scene``'s faces: a case is
    ``clean`` only when every face was swapped in every frame; ``missed_faces`` counts the
    (frame, face) pairs left unswapped."""
    summary = faces_summary(counts)
    missed = int(np.clip(scene - counts[:, 1], 0, None).sum()) if counts.size else 0
    short = int((counts[:, 1] < scene).sum()) if counts.size else 0
    return {
        "faces_found": {"mean": summary["found_mean"], "min": summary["found_min"]},
        "faces_swapped": {"mean": summary["swapped_mean"], "min": summary["swapped_min"]},
        "clean": bool(counts.size) and missed == 0,
        "missed_faces": missed,
        "frames_short": short,
    }


def _face_width_pct(case: BenchCase) -> float | None:
    src = SyntheticSource(width=case.width, height=case.height, faces=case.faces, face_scale=case.face_scale)
    frac = src.face_width()
    return None if frac is None else round(100.0 * frac, 2)


def run_case(case: BenchCase, chain: ChainSpec, layout: Layout, prepared: Any) -> dict[str, Any]:
    """One benchmark run of the full pipeline; returns the figures as a dict."""
    _reset(prepared.processors)
    pipe = build(bench_plan(case, chain, layout), chain=prepared).pipeline
    pipe.start()
    try:
        time.sleep(case.warmup)
        base = pipe.status()
        lat_start = pipe.stats.latency_count()
        faces_start = pipe.stats.face_count()
        cpu0, t0 = _cpu_seconds(), time.monotonic()
        time.sleep(case.duration)
        cpu1, t1 = _cpu_seconds(), time.monotonic()
        end = pipe.status()
        lat = pipe.stats.latencies(since=lat_start)
        counts = pipe.stats.face_counts(since=faces_start)
    finally:
        pipe.stop()
        pipe.join(timeout=2.0)
    wall = t1 - t0
    frames = end["processed"] - base["processed"]
    stages = {k: v for k, v in end["stages_ms"].items()}
    cpu_s = cpu1 - cpu0
    return {
        "size": f"{case.width}x{case.height}",
        "mode": case.mode,
        "faces": case.faces,
        "workers": layout.workers,
        "fps": round(frames / wall, 2),
        "latency_ms": percentiles(lat),
        "dropped": end["dropped"] - base["dropped"],
        "dropped_during_warmup": base["dropped"],
        "stages_ms": stages,
        "face_width_pct": _face_width_pct(case),
        **face_figures(counts, case.faces),
        "cpu_percent": round(100.0 * cpu_s / wall, 1),
        # The share of one core the whole process used per frame interval of the camera's
        # rate: 100 means one core's time per frame was all spent.
        "cpu_ms_per_frame": round(1000.0 * cpu_s / frames, 2) if frames else None,
        "cpu_core_share_at_fps": round(cpu_s / frames * case.fps, 3) if frames else None,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "errors": end["errors"],
        "startup_s": end.get("startup_s"),
    }


def bench(
    chain: ChainSpec,
    layout: Layout,
    sizes: list[tuple[int, int]],
    modes: list[str],
    faces: int = 1,
    duration: float = 10.0,
    warmup: float = 2.0,
    runs: int = 1,
    precompute: int = 48,
    fps: float = 30.0,
    face_scale: float = 1.0,
) -> dict[str, Any]:
    """Every (size, mode) case ``runs`` times; the median run by fps is reported per case."""
    results: list[dict[str, Any]] = []
    t_prep = time.perf_counter()
    prepared = build_chain(chain)
    processors, info = prepared.processors, prepared.info
    prep_s = time.perf_counter() - t_prep
    for w, h in sizes:
        split = layout.split and layout.workers == 1
        alone = stage_alone_fps(
            BenchCase(w, h, "throughput", faces, precompute=precompute, face_scale=face_scale),
            processors,
            split,
        )
        slowest = min(alone, key=lambda k: alone[k])
        for mode in modes:
            case = BenchCase(
                w,
                h,
                mode,
                faces=faces,
                fps=fps,
                duration=duration,
                warmup=warmup,
                precompute=precompute,
                face_scale=face_scale,
            )
            runs_out = [run_case(case, chain, layout, prepared) for _ in range(runs)]
            fps_list = [r["fps"] for r in runs_out]
            med = sorted(runs_out, key=lambda r: r["fps"])[len(runs_out) // 2]
            med = dict(med)
            med["runs_fps"] = fps_list
            med["stage_alone_fps"] = alone
            med["slowest_stage"] = slowest
            if mode == "throughput":
                med["efficiency"] = round(med["fps"] / alone[slowest], 3)
            results.append(med)
    return {
        "machine": {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0))},
        "swapper": info.get("swapper", "none"),
        "prepare_s": round(prep_s, 3),
        "camera": "rendered per frame"
        if precompute == 0
        else f"{precompute} frames rendered ahead, played back",
        "results": results,
        "fps_median_of_runs": {f"{r['size']} {r['mode']}": statistics.median(r["runs_fps"]) for r in results},
        "clean": all(r["clean"] for r in results),
    }
