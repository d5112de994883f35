#!/usr/bin/env python3
"""Render one analysed frame (boxes, track ids, FaceMesh, 5 keypoints) to a PNG for the README.

By default the frame is the two bundled photos side by side, run through ``FaceAnalyzer``
and ``LandmarkOverlay`` exactly as the pipeline does with ``--draw-landmarks``.

    python tools/render_landmarks.py                      # writes docs/landmarks.png
    python tools/render_landmarks.py --image me.jpg --out /tmp/me.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer  # noqa: E402
from realtime.faces.overlay import LandmarkOverlay  # noqa: E402
from realtime.frame import Frame  # noqa: E402

FACES = REPO / "realtime" / "assets" / "faces"


def demo_frame() -> np.ndarray:
    """The two bundled photos side by side on a 1120x600 frame."""
    left = cv2.imread(str(FACES / "astronaut.jpg"))
    right = cv2.imread(str(FACES / "grace_hopper.jpg"))
    frame = np.full((600, 1120, 3), (96, 104, 110), np.uint8)
    frame[44:556, 32:544] = left
    frame[0:600, 576:1088] = right
    return frame


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, help="a photo to analyse (default: the bundled pair)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "landmarks.png")
    ap.add_argument("--detector", choices=("short", "full"), default="full")
    args = ap.parse_args(argv)
    if args.image is not None:
        image = cv2.imread(str(args.image))
        if image is None:
            print(json.dumps({"ok": False, "error": f"cannot read {args.image}"}))
            return 1
    else:
        image = demo_frame()
    analyzer = FaceAnalyzer(AnalysisSettings(detector=args.detector))
    frame = analyzer(Frame(index=0, captured_at=0.0, image=np.ascontiguousarray(image)))
    drawn = LandmarkOverlay()(frame)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), drawn.image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        print(json.dumps({"ok": False, "error": f"cannot write {args.out}"}))
        return 1
    faces = [{"track_id": f.track_id, "box": [round(float(v), 1) for v in f.box]} for f in frame.faces]
    print(json.dumps({"ok": True, "out": str(args.out), "faces": faces}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
