"""Faces far from the camera are found by default: down to ~4 % of the frame's width at 720p
and 1080p, one or several (the tiled re-detect), and a tracking frame still runs no detector."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.config import AnalysisSettings
from realtime.faces.detector import tile_grid
from realtime.frame import Frame
from realtime.sources.synthetic import SyntheticSource


def _run(src: SyntheticSource, n: int, analyzer: FaceAnalyzer) -> list[int]:
    return [len(analyzer(Frame(i, i / 30, img)).faces) for i, img in enumerate(src.frames(n))]


@pytest.mark.parametrize(
    ("width", "height", "faces", "scale"),
    [(1280, 720, 4, 0.5), (1280, 720, 4, 1.0), (1920, 1080, 1, 0.29), (1920, 1080, 3, 0.55)],
)
def test_small_faces_are_found_and_kept_by_default(width: int, height: int, faces: int, scale: float) -> None:
    src = SyntheticSource(width=width, height=height, faces=faces, face_scale=scale, live=False, seed=5)
    frac = src.face_width()
    assert frac is not None and frac < 0.085  # each face under a twelfth of the frame's width
    counts = _run(src, 45, FaceAnalyzer())
    first = next(i for i, c in enumerate(counts) if c == faces)
    assert first <= 12, counts  # one round of the tiles at most
    assert min(counts[first:]) == faces, counts


def test_without_tiles_the_whole_frame_pass_misses_them() -> None:
    """The cause the tiles fix: the short-range model over the whole frame finds none."""
    src = SyntheticSource(width=1280, height=720, faces=4, live=False, seed=5)
    assert max(_run(src, 12, FaceAnalyzer(AnalysisSettings(tile_rows=0)))) == 0


def test_a_tracking_frame_runs_no_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    src = SyntheticSource(width=1280, height=720, faces=4, face_scale=0.5, live=False, seed=5)
    analyzer = FaceAnalyzer()
    calls: list[int] = []
    real = analyzer.detector.session.run

    def counted(feeds):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(feeds)

    monkeypatch.setattr(analyzer.detector.session, "run", counted)
    frames = src.frames(40)
    for i, img in enumerate(frames[:20]):
        analyzer(Frame(i, i / 30, img))
    assert len(analyzer.tracker.tracks) == 4
    calls.clear()
    for i, img in enumerate(frames[20:], start=20):
        assert len(analyzer(Frame(i, i / 30, img)).faces) == 4
    assert calls == []  # max_faces tracked: nothing to look for, no detector pass at all


def test_tile_grid_covers_the_frame_with_overlap() -> None:
    for w, h in [(1280, 720), (1920, 1080), (640, 480)]:
        tiles = tile_grid(w, h, 2)
        covered = np.zeros((h, w), np.uint8)
        for x0, y0, x1, y1 in tiles:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and x1 - x0 == y1 - y0
            covered[y0:y1, x0:x1] += 1
        assert covered.min() >= 1
        side = tiles[0][2] - tiles[0][0]
        assert side <= h / 1.5  # a face fills at least 1.5x more of its tile than of the frame
    assert tile_grid(1280, 720, 1) == [(0, 0, 720, 720), (280, 0, 1000, 720), (560, 0, 1280, 720)]
