"""``realtime bench``: measure the real pipeline on the synthetic source, print a table or JSON."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from realtime.commands.tables import table_width


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        w, h = part.lower().split("x")
        out.append((int(w), int(h)))
    return out


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=_sizes, default="1280x720", help="e.g. 1280x720,1920x1080")
    p.add_argument(
        "--mode",
        choices=["throughput", "live", "both"],
        default="both",
        help="throughput: as fast as it goes; live: a paced camera, with latency",
    )
    p.add_argument("--faces", type=int, default=1, help="faces in the synthetic scene")
    p.add_argument(
        "--face-scale",
        type=float,
        default=1.0,
        help="size of each synthetic person relative to the default framing (e.g. 0.36: a face "
        "at 5 %% of a 1080p frame's width)",
    )
    p.add_argument("--swapper", default="mesh", help="the swapper measured")
    p.add_argument("--provider", default=None, help="force an inference provider")
    p.add_argument("--workers", type=int, default=1, help="processing threads")
    p.add_argument("--fps", type=float, default=30.0, help="camera rate of the live mode")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds run before measuring")
    p.add_argument("--runs", type=int, default=1, help="runs per case; the median is reported")
    p.add_argument(
        "--precompute",
        type=int,
        default=48,
        help="synthetic frames rendered ahead (0: render each frame, adding its cost)",
    )
    p.add_argument("--startup", action="store_true", help="also time command-to-first-frame")
    p.add_argument("--providers", action="store_true", help="time each model on each provider instead")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--remote", help="measure a Triton server instead (prints JSON): grpc://HOST:8001")
    p.add_argument("--model", default="inswapper_128", help="the served model --remote measures")
    p.add_argument("--streams", default="1,4,8", help="concurrent streams --remote measures")


def measure_startup(runs: int = 3) -> dict[str, Any]:
    """Seconds from launching ``realtime --demo`` to its first frame leaving the pipeline."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            stats = Path(tmp) / f"s{i}.json"
            t0 = time.time()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "realtime",
                    "--demo",
                    "--sink",
                    "null",
                    "--duration",
                    "1",
                    "--quiet",
                    "--stats-json",
                    str(stats),
                    "--log-level",
                    "warning",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            first = json.loads(stats.read_text())["first_output_unix"]
            times.append(first - t0)
    times.sort()
    return {"startup_s": {"median": round(times[len(times) // 2], 3), "all": [round(t, 3) for t in times]}}


def run(args: argparse.Namespace) -> int:
    # Each mode's modules load when it runs, not when the CLI builds its parser (start-up cost).
    from rich.console import Console
    from rich.table import Table

    from realtime.cli import log_banner
    from realtime.resources import apply_threads, plan_threads
    from realtime.settings import OutputSettings, PipelineSettings, Settings, SourceSettings

    log_banner(args.workers)
    apply_threads(plan_threads(args.workers))
    if args.remote:
        from realtime.jobs.triton_bench import bench_remote

        streams = [int(n) for n in str(args.streams).split(",") if n.strip()]
        report = bench_remote(args.remote, args.model, streams, fps=args.fps, duration=args.duration)
        print(json.dumps(report, indent=2))
        return 0
    if args.providers:
        from realtime.catalog.manifest import load_manifests
        from realtime.inference.session import available_backends
        from realtime.jobs.provider_bench import bench_providers

        models = [s for s in load_manifests().values() if s.bundled and s.file.endswith(".onnx")]
        usable = [n for n, why in available_backends().items() if why is None]
        result: dict[str, Any] = bench_providers(models, usable, runs=50)
        print(json.dumps(result, indent=2))
        return 0
    from realtime.app import plan_from_settings
    from realtime.jobs.pipeline_bench import bench

    modes = ["throughput", "live"] if args.mode == "both" else [args.mode]
    settings = Settings(
        source=SourceSettings(demo=True, fps=args.fps),
        output=OutputSettings(sinks=("null",)),
        pipeline=PipelineSettings(workers=args.workers),
        swapper=args.swapper,
        provider=args.provider,
    )
    plan = plan_from_settings(settings)
    result = bench(
        plan.chain,
        plan.layout,
        args.size,
        modes,
        faces=args.faces,
        duration=args.duration,
        warmup=args.warmup,
        runs=args.runs,
        precompute=args.precompute,
        fps=args.fps,
        face_scale=args.face_scale,
    )
    if args.startup:
        result.update(measure_startup())
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    table = Table(title=f"realtime bench — swapper {result['swapper']}")
    for col in (
        "case",
        "fps",
        "latency p50/p95 ms",
        "drops",
        "faces found / swapped (mean, min)",
        "clean",
        "slowest stage",
        "efficiency",
        "CPU %",
        "core share at fps",
        "peak RSS MB",
    ):
        table.add_column(col)
    for r in result["results"]:
        lat = r["latency_ms"]
        table.add_row(
            f"{r['size']} {r['mode']}",
            f"{r['fps']:.1f}",
            f"{lat['p50']:.1f} / {lat['p95']:.1f}",
            str(r["dropped"]),
            f"{r['faces_found']['mean']:.2f}, {r['faces_found']['min']} / "
            f"{r['faces_swapped']['mean']:.2f}, {r['faces_swapped']['min']}",
            "yes" if r["clean"] else "NO",
            f"{r['slowest_stage']} ({r['stage_alone_fps'][r['slowest_stage']]:.0f} fps)",
            str(r.get("efficiency", "")),
            f"{r['cpu_percent']:.0f}",
            "" if r["cpu_core_share_at_fps"] is None else f"{r['cpu_core_share_at_fps']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
        )
    console = Console(width=table_width(sys.stdout))
    console.print(table)
    stage_table = Table(title="stages (ms, p50 / p95)")
    stage_table.add_column("case")
    names = sorted({k for r in result["results"] for k in r["stages_ms"]})
    for n in names:
        stage_table.add_column(n)
    for r in result["results"]:
        cells = [
            f"{r['stages_ms'][n]['p50']:.2f} / {r['stages_ms'][n]['p95']:.2f}" if n in r["stages_ms"] else ""
            for n in names
        ]
        stage_table.add_row(f"{r['size']} {r['mode']}", *cells)
    console.print(stage_table)
    for r in result["results"]:
        if not r["clean"]:
            console.print(
                f"NOT CLEAN {r['size']} {r['mode']}: {r['missed_faces']} face(s) of the scene's "
                f"{r['faces']} missed over {r['frames_short']} frame(s); its figures are not "
                "those of a swap of every face"
            )
    if "startup_s" in result:
        console.print(f"start-up to first frame: {result['startup_s']['median']} s (median)")
    return 0
