"""Before/after crops at 100 % of each quality-benchmark case, for docs/quality/.

Takes two ``tools/bench_quality.py --save`` folders (the base commit's and this one's) and
writes, per case, one PNG of the face at its own pixels: input | before | after.

    .venv/bin/python tools/quality/crops.py BEFORE_DIR AFTER_DIR docs/quality
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def face_box(
    before: np.ndarray, after: np.ndarray, inp: np.ndarray, margin: float = 0.12
) -> tuple[int, int, int, int]:
    """The box of every pixel either result changed, widened by ``margin``."""
    changed = np.any(before != inp, axis=2) | np.any(after != inp, axis=2)
    ys, xs = np.nonzero(changed)
    if not len(xs):
        h, w = inp.shape[:2]
        return 0, 0, w, h
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mx, my = int(margin * (x1 - x0)), int(margin * (y1 - y0))
    h, w = inp.shape[:2]
    return max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)


def main(before_dir: Path, after_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for inp_path in sorted(after_dir.glob("*_input.png")):
        case = inp_path.name[: -len("_input.png")]
        inp = cv2.imread(str(inp_path))
        before = cv2.imread(str(before_dir / f"{case}_result.png"))
        after = cv2.imread(str(after_dir / f"{case}_result.png"))
        if inp is None or before is None or after is None:
            continue
        x0, y0, x1, y1 = face_box(before, after, inp)
        gap = np.full((y1 - y0, 4, 3), 255, np.uint8)
        row = np.hstack([inp[y0:y1, x0:x1], gap, before[y0:y1, x0:x1], gap, after[y0:y1, x0:x1]])
        cv2.imwrite(str(out_dir / f"{case}.png"), row, [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
