"""Recall and cost of the ways to find small faces, as JSON: which one ``realtime`` uses.

Scenes come from the synthetic camera (the bundled photo, ``faces`` people side by side, each
``face_scale`` of the default size). A face counts as found in a frame when a detection's
centre lies within half a face width of where the source drew it. Strategies:

- ``short`` / ``full``: one BlazeFace pass (short- or full-range) over the whole frame;
- ``short-tiles-R`` / ``full-tiles-R``: the model over every tile of ``tile_grid(rows=R)``
  (the recall of a complete scan; a tracker spreads the tiles over frames, one per detection).

``ms`` is the cost of one pass (the whole frame, or one tile); ``scan_ms`` of all the tiles.
``tracking`` times ``FaceAnalyzer`` frames that ran no detector, with the tiles off (the old
tracker) and on (the default): the tiles must not make a tracking frame dearer.

    .venv/bin/python tools/bench_detect.py > tools/bench_detect.json
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from realtime.faces.detector import Detection, FaceDetector, tile_grid
from realtime.sources.synthetic import SyntheticSource

SCENES = [  # (width, height, faces, face_scale): face widths of ~4-8 % of the frame
    (1280, 720, 1, 0.29),
    (1280, 720, 1, 0.36),
    (1280, 720, 4, 1.0),
    (1280, 720, 4, 0.5),
    (1280, 720, 2, 0.5),
    (1920, 1080, 1, 0.29),
    (1920, 1080, 1, 0.36),
    (1920, 1080, 4, 0.5),
]
FRAMES = 12


def _found(dets: list[Detection], src: SyntheticSource, index: int, face_px: float) -> int:
    hits = 0
    for k in range(src.faces):
        cx, cy = src.face_center(index, k)
        if any(
            abs((d.box[0] + d.box[2]) / 2 - cx) < face_px / 2
            and abs((d.box[1] + d.box[3]) / 2 - cy) < face_px
            for d in dets
        ):
            hits += 1
    return hits


def _timed(fn: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1000.0


def tracking_ms(rows: int, width: int = 1280, height: int = 720, faces: int = 1, n: int = 150) -> float:
    """Median ms of the frames in which ``FaceAnalyzer`` (``tile_rows=rows``) ran no detector."""
    from realtime.faces.analysis import FaceAnalyzer
    from realtime.faces.config import AnalysisSettings
    from realtime.frame import Frame

    src = SyntheticSource(width=width, height=height, faces=faces, seed=3, live=False)
    frames = src.frames(48)
    analyzer = FaceAnalyzer(AnalysisSettings(tile_rows=rows))
    spent = []
    for i in range(n):
        t0 = time.perf_counter()
        analyzer(Frame(i, i / 30, frames[i % len(frames)]))
        ms = (time.perf_counter() - t0) * 1000.0
        if i >= 10 and not analyzer.tracker.detected_last_step:
            spent.append(ms)
    return round(float(np.median(spent)), 3)


def main() -> int:
    detectors = {m: FaceDetector(m, max_faces=0) for m in ("short", "full")}
    strategies: list[tuple[str, str, int]] = [("short", "short", 0), ("full", "full", 0)]
    strategies += [(f"{m}-tiles-{r}", m, r) for m in ("short", "full") for r in (1, 2, 3)]
    out: list[dict[str, Any]] = []
    for w, h, n, scale in SCENES:
        src = SyntheticSource(width=w, height=h, faces=n, face_scale=scale, seed=3)
        face_frac = src.face_width() or 0.0
        frames = src.frames(FRAMES)
        for name, model, rows in strategies:
            det = detectors[model]
            det.detect(frames[0])  # warm
            found, ms, scan = [], [], []
            tiles = tile_grid(w, h, rows) if rows else []
            for i, img in enumerate(frames):
                if tiles:
                    dets: list[Detection] = []
                    t_all = 0.0
                    for t in tiles:
                        got, t_ms = _timed(lambda t=t, d=det, im=img: d.detect_region(im, t))
                        dets += got
                        ms.append(t_ms)
                        t_all += t_ms
                    scan.append(t_all)
                else:
                    dets, t_ms = _timed(lambda d=det, im=img: d.detect(im))
                    ms.append(t_ms)
                found.append(_found(dets, src, i, face_frac * w))
            row: dict[str, Any] = {
                "scene": f"{w}x{h} faces={n} width={100 * face_frac:.1f}%",
                "strategy": name,
                "tiles": len(tiles) or 1,
                "recall": round(float(np.mean(found)) / n, 3),
                "min_found": int(min(found)),
                "ms": round(float(np.median(ms)), 2),
            }
            if scan:
                row["scan_ms"] = round(float(np.median(scan)), 2)
            out.append(row)
            print(json.dumps(row), file=sys.stderr)
    tracking = {}
    for faces in (1, 2):
        off, on = [], []
        for _ in range(5):  # interleaved, so both see the same machine load
            off.append(tracking_ms(0, faces=faces))
            on.append(tracking_ms(2, faces=faces))
        tracking[f"1280x720 faces={faces}"] = {
            "tiles_off_ms": round(float(np.median(off)), 3),
            "tiles_on_ms": round(float(np.median(on)), 3),
        }
    print(json.dumps({"frames_per_scene": FRAMES, "results": out, "tracking": tracking}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
