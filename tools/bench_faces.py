#!/usr/bin/env python3
"""Benchmark face analysis at 1280x720 and print one JSON report (p50/p95 in milliseconds).

Measures, for each inference backend that runs here (ONNX Runtime ``cpu``, LiteRT ``litert``):
- ``detection``: BlazeFace on a full frame (letterbox, inference, decoding, NMS);
- ``landmarks_per_face``: one FaceMesh run (crop, inference, mapping back);
- ``tracking_frame``: a whole ``FaceAnalyzer`` frame with one face and no detection;
- ``models``: the bare model inference, to compare the backends themselves.

Aims (issue 3): landmarks <= 8 ms per face on one thread; tracking frame <= 10 ms.

    python tools/bench_faces.py [--iters 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime.catalog.manifest import BUNDLED_DIR  # noqa: E402
from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer  # noqa: E402
from realtime.faces.detector import FaceDetector  # noqa: E402
from realtime.frame import Frame  # noqa: E402
from realtime.inference.session import SessionOptions, available_backends, open_session  # noqa: E402

MODELS = {
    "face_detection_short_range": (1, 3, 128, 128),
    "face_detection_full_range": (1, 3, 192, 192),
    "face_landmark": (1, 3, 192, 192),
}


def stats(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


def timed(fn: Callable[[int], Any], iters: int, warmup: int = 10) -> dict[str, float]:
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(iters):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1e3)
    return stats(out)


def test_frame(rng: np.random.Generator) -> np.ndarray:
    """A 1280x720 frame with one head-and-shoulders face (~200 px wide), with sensor noise."""
    photo = cv2.imread(str(REPO / "realtime" / "assets" / "faces" / "grace_hopper.jpg"))
    frame = np.full((720, 1280, 3), (96, 104, 110), np.uint8)
    frame[60:660, 384:896] = photo
    noisy = frame.astype(np.float32) + rng.normal(0, 3, frame.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def bench_backend(provider: str, frames: list[np.ndarray], iters: int, threads: int) -> dict[str, Any]:
    res: dict[str, Any] = {}
    settings = AnalysisSettings(threads=threads, detect_every=10**9)
    analyzer = FaceAnalyzer(settings, provider=provider)
    det = analyzer.detector
    res["detection"] = timed(lambda i: det.detect(frames[i % len(frames)]), iters)
    full = FaceDetector("full", threads=threads, provider=provider)
    res["detection_full_range"] = timed(lambda i: full.detect(frames[i % len(frames)]), iters)
    found = det.detect(frames[0])
    if len(found) != 1:
        raise RuntimeError(f"the benchmark frame should hold one face, found {len(found)}")
    roi = analyzer.mesh.roi_from_detection(found[0])
    res["landmarks_per_face"] = timed(lambda i: analyzer.mesh.run(frames[i % len(frames)], roi), iters)

    analyzer(Frame(0, 0.0, frames[0]))  # the one detection, then tracking only
    counter = [1]

    def track(i: int) -> None:
        n = counter[0]
        counter[0] += 1
        out = analyzer(Frame(n, n / 30, frames[n % len(frames)]))
        if len(out.faces) != 1 or analyzer.tracker.detected_last_step:
            raise RuntimeError("tracking lost the face or detected during the benchmark")

    res["tracking_frame"] = timed(track, iters)
    res["tracking_detections_run"] = analyzer.tracker.detections_run
    res["models"] = {}
    rng = np.random.default_rng(0)
    for name, shape in MODELS.items():
        opts = SessionOptions(threads=threads)
        sess = open_session(BUNDLED_DIR / f"{name}.onnx", prefer=provider, options=opts)
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        feed = {sess.inputs[0].name: x}
        res["models"][name] = timed(lambda i, s=sess, f=feed: s.run(f), iters)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cv2.setNumThreads(1)  # as in the pipeline: the other core belongs to the other stages
    rng = np.random.default_rng(0)
    frames = [test_frame(rng) for _ in range(4)]
    backends = [n for n, why in available_backends().items() if why is None and n in ("cpu", "litert")]
    auto = FaceAnalyzer(AnalysisSettings(threads=args.threads))
    report: dict[str, Any] = {
        "frame": "1280x720",
        "faces": 1,
        "threads": args.threads,
        "iters": args.iters,
        "cpu": platform.processor() or platform.machine(),
        "auto_providers": {
            "detector": auto.detector.session.provider,
            "landmarks": auto.mesh.session.provider,
        },
        "backends": {},
    }
    for provider in backends:
        report["backends"][provider] = bench_backend(provider, frames, args.iters, args.threads)
    chosen = report["backends"].get(report["auto_providers"]["landmarks"], {})
    report["aims"] = {
        "landmarks_per_face_p50_ms<=8": chosen.get("landmarks_per_face", {}).get("p50", float("inf")) <= 8,
        "tracking_frame_p50_ms<=10": chosen.get("tracking_frame", {}).get("p50", float("inf")) <= 10,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
