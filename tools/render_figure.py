"""Render the README's before/after figure of the mesh swapper from the two bundled photos.

Each row is one direction: the source face, the target's face, and the same crop after the
swap (default ``MeshSettings``).
Writes docs/swap_figure.png (or --out).

    .venv/bin/python tools/render_figure.py [--out docs/swap_figure.png] [--height 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime.faces.analysis import FaceAnalyzer  # noqa: E402
from realtime.frame import Frame  # noqa: E402
from realtime.sinks.image import write_image  # noqa: E402
from realtime.swap.mesh.photo import prepare_source, read_image  # noqa: E402
from realtime.swap.mesh.swapper import MeshSettings, MeshSwapper  # noqa: E402

FACES = ROOT / "realtime" / "assets" / "faces"
PAIRS = (("astronaut", "grace_hopper"), ("grace_hopper", "astronaut"))


def _tile(image: np.ndarray, height: int, label: str) -> np.ndarray:
    """``image`` scaled to ``height`` with a caption bar under it."""
    scaled = cv2.resize(
        image, (round(image.shape[1] * height / image.shape[0]), height), interpolation=cv2.INTER_AREA
    )
    bar = np.full((28, scaled.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (40, 40, 40), 1, cv2.LINE_AA)
    return np.vstack([scaled, bar])


def _face_crop(image: np.ndarray, box: np.ndarray, margin: float = 0.6) -> np.ndarray:
    """A square crop around a face box, for the source column."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * (0.5 + margin / 2)
    h, w = image.shape[:2]
    a, b = int(max(0, cx - half)), int(max(0, cy - half))
    return image[b : int(min(h, cy + half)), a : int(min(w, cx + half))]


def render(height: int = 300) -> np.ndarray:
    analyzer = FaceAnalyzer()
    settings = MeshSettings()
    rows = []
    for src_name, tgt_name in PAIRS:
        source_img = read_image(FACES / f"{src_name}.jpg")
        source = prepare_source(FACES / f"{src_name}.jpg", analyzer=analyzer)
        target = read_image(FACES / f"{tgt_name}.jpg")
        faces = analyzer.analyze_image(target)
        swapped = MeshSwapper(source, settings)(Frame(0, 0.0, target, tuple(faces))).image
        src_face = analyzer.analyze_image(source_img)[0]
        box = faces[0].box  # target and result cropped alike, so the face is large enough to see
        tiles = [
            _tile(_face_crop(source_img, src_face.box), height, f"source: {src_name}"),
            _tile(_face_crop(target, box), height, f"target: {tgt_name}"),
            _tile(_face_crop(swapped, box), height, f"mesh swap (geometry {settings.geometry:.2f})"),
        ]
        gap = np.full((tiles[0].shape[0], 8, 3), 255, np.uint8)
        rows.append(np.hstack([tiles[0], gap, tiles[1], gap, tiles[2]]))
    width = max(r.shape[1] for r in rows)
    rows = [
        cv2.copyMakeBorder(r, 0, 8, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for r in rows
    ]
    return np.vstack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "swap_figure.png")
    ap.add_argument("--height", type=int, default=300)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, render(args.height), (cv2.IMWRITE_PNG_COMPRESSION, 9))


if __name__ == "__main__":
    main()
