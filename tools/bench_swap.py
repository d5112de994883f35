"""Time the mesh swap (warp, colour match, blend; no landmarks) per face at 1280x720.

Prints JSON with p50/p95 milliseconds of wall time and of this thread's CPU time (the
latter is what the swap costs when other processes share the cores; the load average is
printed alongside so a busy machine shows). The target face is one of the bundled photos scaled
so its mesh is ``--face-px`` tall and placed in a 1280x720 frame; landmarks are computed
once beforehand and are not part of the timing. One OpenCV thread, as in the pipeline.

    .venv/bin/python tools/bench_swap.py [--face-px 300] [--iters 300] [--blend-mode feather]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime.faces.analysis import FaceAnalyzer  # noqa: E402
from realtime.frame import Frame  # noqa: E402
from realtime.swap.mesh.photo import prepare_source, read_image  # noqa: E402
from realtime.swap.mesh.swapper import MeshSettings, MeshSwapper  # noqa: E402

FACES = ROOT / "realtime" / "assets" / "faces"


def build_frame(analyzer: FaceAnalyzer, photo: Path, face_px: int, size: tuple[int, int]) -> Frame:
    """A ``size`` (w, h) frame holding ``photo`` scaled to a ``face_px``-tall face, with faces."""
    img = read_image(photo)
    mesh = analyzer.analyze_image(img)[0].mesh
    assert mesh is not None
    scale = face_px / float(np.ptp(mesh[:, 1]))
    big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    w, h = size
    canvas = np.full((h, w, 3), 90, np.uint8)
    cx, cy = (mesh[:, :2].mean(axis=0) * scale).astype(int)
    ox, oy = w // 2 - cx, h // 2 - cy
    ys, xs = slice(max(0, oy), min(h, oy + big.shape[0])), slice(max(0, ox), min(w, ox + big.shape[1]))
    canvas[ys, xs] = big[ys.start - oy : ys.stop - oy, xs.start - ox : xs.stop - ox]
    faces = analyzer.analyze_image(canvas)
    return Frame(0, 0.0, canvas, tuple(faces[:1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--face-px", type=int, default=300, help="height of the face mesh in pixels")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--blend-mode", default="feather")
    ap.add_argument("--geometry", type=float, default=None)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a MeshSettings field (JSON value)"
    )
    ap.add_argument("--track", action="store_true", help="the face is a tracked one (a stream, not a still)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    analyzer = FaceAnalyzer()
    source = prepare_source(FACES / "grace_hopper.jpg", analyzer=analyzer)
    frame = build_frame(analyzer, FACES / "astronaut.jpg", args.face_px, (1280, 720))
    kw = {"blend_mode": args.blend_mode}
    if args.geometry is not None:
        kw["geometry"] = args.geometry
    for item in args.set:
        key, _, raw = item.partition("=")
        kw[key] = json.loads(raw)
    settings = MeshSettings.from_options(kw)
    if args.track:  # the steadier and the grain's temporal estimate keep state per track
        frame = Frame(0, 0.0, frame.image, tuple(dataclasses.replace(f, track_id=0) for f in frame.faces))
    swapper = MeshSwapper(source, settings)
    for i in range(10):
        swapper(Frame(i, 0.0, frame.image, frame.faces))
    wall, cpu = [], []
    for i in range(args.iters):
        f = Frame(10 + i, 0.0, frame.image, frame.faces)
        t0, c0 = time.perf_counter(), time.thread_time()
        swapper(f)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    t, c = np.array(wall), np.array(cpu)
    face = frame.faces[0]
    print(
        json.dumps(
            {
                "frame": [1280, 720],
                "face_box_px": [round(face.width), round(face.height)],
                "blend_mode": settings.blend_mode,
                "geometry": settings.geometry,
                "set": args.set,
                "tracked": args.track,
                "iters": args.iters,
                "p50_ms": round(float(np.percentile(t, 50)), 3),
                "p95_ms": round(float(np.percentile(t, 95)), 3),
                "mean_ms": round(float(t.mean()), 3),
                "cpu_p50_ms": round(float(np.percentile(c, 50)), 3),
                "cpu_p95_ms": round(float(np.percentile(c, 95)), 3),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
