"""Swap quality by an independent judge (dlib's face recognition and 68-point models).

For source S, target T and result R, with d the dlib descriptor distance:
identity = d(R,T) / (d(R,S) + d(R,T)); expression = mouth/eye-opening ratios of R vs T;
flicker = frame-to-frame change in the face of the output over the input's, on a still photo
with fresh noise (sigma 3) per frame; seam = edge energy where the blend fades out, relative
to the target, for the feather and the multi-band blend (with and without colour matching).
Runs both directions on the two bundled photos, stills and synthetic moving sequences
(smooth rotation, scale, shift), and prints JSON.

    .venv/bin/python tools/eval_quality.py [--frames 24] [--geometry 0.5]
    .venv/bin/python tools/eval_quality.py --sweep 0,0.25,0.5,0.75,1   # choose `geometry`

The sweep picks the geometry with the highest identity averaged over both directions, stills
and moving sequences, among those that keep the mouth opening within 0.03 of the target's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from realtime.faces.analysis import FaceAnalyzer  # noqa: E402
from realtime.swap.mesh.swapper import MeshSettings  # noqa: E402
from tools.quality.harness import DIRECTIONS, evaluate_direction, seam_comparison, sources  # noqa: E402
from tools.quality.judge import Judge, load_photo  # noqa: E402


def evaluate(settings: MeshSettings, frames: int, noise_frames: int) -> dict[str, Any]:
    judge, analyzer = Judge(), FaceAnalyzer()
    srcs = sources(analyzer)
    runs = [
        evaluate_direction(judge, analyzer, srcs[s], s, t, settings, frames=frames, noise_frames=noise_frames)
        for s, t in DIRECTIONS
    ]
    summary: dict[str, Any] = {
        "identity_still_min": min(r["still"]["identity"] for r in runs),
        "mouth_error_still_max": max(
            abs(r["still"]["mouth_result"] - r["still"]["mouth_target"]) for r in runs
        ),
    }
    identities = [r["still"]["identity"] for r in runs]
    if frames > 0:
        summary["closer_to_source_min"] = min(r["moving"]["closer_to_source"] for r in runs)
        summary["identity_moving_mean"] = float(np.mean([r["moving"]["identity_mean"] for r in runs]))
        identities += [r["moving"]["identity_mean"] for r in runs]
    # The figure the `geometry` default is chosen by: identity averaged over both directions,
    # stills and moving sequences alike.
    summary["identity_mean"] = float(np.mean(identities))
    if noise_frames > 1:
        summary["flicker_max"] = max(r["flicker"] for r in runs)
    seams = {
        f"{s}->{t}": {
            "matched": seam_comparison(analyzer, srcs[s], load_photo(t)),
            "unmatched": seam_comparison(analyzer, srcs[s], load_photo(t), color=0.0, shading=0.0),
        }
        for s, t in DIRECTIONS
    }
    return {"settings": dataclasses.asdict(settings), "summary": summary, "runs": runs, "seam": seams}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24, help="frames of each moving sequence (0: none)")
    ap.add_argument("--noise-frames", type=int, default=16, help="frames of the flicker sequence")
    ap.add_argument("--geometry", type=float, default=None, help="override MeshSettings.geometry")
    ap.add_argument("--sweep", default=None, help="comma-separated geometry values to compare")
    args = ap.parse_args()
    base = MeshSettings() if args.geometry is None else MeshSettings(geometry=args.geometry)
    if args.sweep:
        rows = []
        for g in (float(v) for v in args.sweep.split(",")):
            res = evaluate(dataclasses.replace(base, geometry=g), args.frames, 0)
            rows.append({"geometry": g, **res["summary"]})
        ok = [r for r in rows if r["mouth_error_still_max"] <= 0.03] or rows
        best = max(ok, key=lambda r: r["identity_mean"])
        print(json.dumps({"sweep": rows, "best_geometry": best["geometry"]}, indent=2))
        return
    print(json.dumps(evaluate(base, args.frames, args.noise_frames), indent=2))


if __name__ == "__main__":
    main()
