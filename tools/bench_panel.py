"""What the control panel costs the pipeline: fps and capture-to-output latency p95 with the
panel closed and open, in one run of the demo pipeline, printed as JSON.

Phases, each ``--seconds`` long, on one running pipeline (the same process, the same warm
models):

- ``closed``: no panel at all (no preview output, no server);
- ``open``: the panel attached and served, and a page open in headless chromium (the live
  MJPEG preview, the stats stream and the charts), as a user has it;
- ``served``: the page closed again, the panel still attached (its idle cost).

    python tools/bench_panel.py --seconds 15 [--size 1280x720] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import sys
import time
from typing import Any

import numpy as np


def _phase(pipeline: Any, seconds: float) -> dict[str, Any]:
    stats = pipeline.stats
    n0, l0, t0 = stats.processed, stats.latency_count(), time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)
    n1, l1, t1 = stats.processed, stats.latency_count(), time.monotonic()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    lat = np.asarray(stats.latencies(l0, l1))
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return {
        "fps_out": round((n1 - n0) / (t1 - t0), 2),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
        "frames": n1 - n0,
        "process_cpu_pct": round(100 * cpu / (t1 - t0), 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--size", default="1280x720", help="demo camera size")
    ap.add_argument("--fps", type=float, default=30.0, help="demo camera rate")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="the browser that opens the page")
    args = ap.parse_args()

    from realtime.app import plan_from_settings
    from realtime.build import build
    from realtime.control import Controller
    from realtime.panel.server import Panel
    from realtime.settings import Settings, merge

    w, h = (int(v) for v in args.size.split("x"))
    settings = merge(
        Settings(),
        {
            "source.demo": True,
            "source.size": (w, h),
            "source.fps": args.fps,
            "output.sinks": ["null"],
            "log_level": "warning",
        },
    )
    run = build(plan_from_settings(settings))
    pipeline = run.pipeline
    pipeline.start()
    result: dict[str, Any] = {"size": args.size, "fps_target": args.fps, "cpus": os.cpu_count()}
    try:
        time.sleep(3.0)  # warm-up: first frames, tracker settled
        result["closed"] = _phase(pipeline, args.seconds)
        ctl = Controller(run)
        ctl.attach()
        panel = Panel(ctl, "127.0.0.1", 0, secrets.token_urlsafe(16))
        panel.start()
        try:
            if not shutil.which(args.chromium) and not os.path.isfile(args.chromium):
                raise SystemExit(f"bench_panel: no browser at {args.chromium}")
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=args.chromium, headless=True, args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(panel.url)
                page.wait_for_function("document.getElementById('preview').naturalWidth > 0", timeout=30000)
                time.sleep(2.0)
                result["open"] = _phase(pipeline, args.seconds)
                result["open"]["preview_latency_ms"] = ctl.state()["preview_latency_ms"]
                page.close()
                browser.close()
            time.sleep(1.0)
            result["served"] = _phase(pipeline, args.seconds)
        finally:
            panel.stop()
    finally:
        pipeline.stop()
        pipeline.join()
    closed, opened = result["closed"], result["open"]
    result["open_vs_closed"] = {
        "fps_out_change_pct": round(100 * (opened["fps_out"] / closed["fps_out"] - 1), 1),
        "latency_p95_change_ms": round(opened["latency_p95_ms"] - closed["latency_p95_ms"], 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
