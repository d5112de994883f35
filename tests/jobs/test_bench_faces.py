"""``realtime bench`` says what it swapped: faces found and swapped per frame, and a case that
missed faces is never reported clean. Driven through the real CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from realtime.frame import Face, Frame
from realtime.jobs.pipeline_bench import face_figures
from realtime.pipeline.stats import Stats


def _bench(*args: str) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "realtime", "bench", "--mode", "live", "--duration", "1.5", "--warmup", "2"]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240)
    return done.returncode, done.stdout, done.stderr


def _case(stdout: str) -> dict[str, Any]:
    result = json.loads(stdout)
    assert len(result["results"]) == 1
    return dict(result["results"][0]) | {"all_clean": result["clean"]}


def test_bench_refuses_to_call_a_case_clean_when_faces_were_missed() -> None:
    # Four people far from the camera (faces ~1 % of the width): too small for any detector.
    rc, out, err = _bench("--size", "640x360", "--faces", "4", "--face-scale", "0.15", "--json")
    assert rc == 0, err
    case = _case(out)
    assert case["clean"] is False and case["all_clean"] is False
    assert case["faces_swapped"]["min"] < 4
    assert case["missed_faces"] > 0 and case["frames_short"] > 0
    assert case["faces_swapped"]["mean"] <= case["faces_found"]["mean"] <= 4


def test_bench_table_marks_the_missed_case() -> None:
    rc, out, err = _bench("--size", "640x360", "--faces", "2", "--face-scale", "0.15")
    assert rc == 0, err
    assert "NOT CLEAN 640x360 live" in out and "missed" in out


def test_bench_four_faces_at_720p_are_all_found_and_swapped_by_default() -> None:
    """The issue's case: four people side by side at 720p (faces ~8 % of the width), which
    the short-range detector over the whole frame never found."""
    rc, out, err = _bench("--size", "1280x720", "--faces", "4", "--json")
    assert rc == 0, err
    case = _case(out)
    assert case["faces_found"]["min"] == 4 and case["faces_swapped"]["min"] == 4
    assert case["clean"] is True and case["missed_faces"] == 0
    assert 0 < case["cpu_core_share_at_fps"] < 2.5 and case["cpu_ms_per_frame"] > 0


def test_face_figures_count_each_unswapped_face() -> None:
    counts = np.array([[4, 4], [4, 3], [2, 2], [4, 4]])
    got = face_figures(counts, 4)
    assert got["clean"] is False and got["missed_faces"] == 1 + 2 and got["frames_short"] == 2
    assert got["faces_found"] == {"mean": 3.5, "min": 2} and got["faces_swapped"]["min"] == 2
    assert face_figures(np.zeros((0, 2), np.int64), 1)["clean"] is False  # nothing measured


def _face(x: float) -> Face:
    return Face(box=[x, 10, x + 20, 40], score=0.9, kps=np.zeros((5, 2)))


def test_frame_swapped_is_checked_and_aggregated_by_stats() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    f = Frame(0, 0.0, img, faces=(_face(0), _face(30)))
    assert f.swapped == 0 and f.with_swapped(2).swapped == 2
    with pytest.raises(ValueError, match="swapped"):
        f.with_swapped(3)
    with pytest.raises(ValueError, match="swapped"):
        Frame(0, 0.0, img, swapped=-1)
    stats = Stats()
    for found, swapped in [(2, 2), (2, 1), (1, 1)]:
        stats.output_one(0.0, 0.01, found, swapped)
    assert stats.face_counts(since=1).tolist() == [[2, 1], [1, 1]]
    snap = stats.snapshot()
    assert snap["faces"]["swapped_min"] == 1 and snap["faces"]["found_mean"] == pytest.approx(5 / 3, abs=1e-3)
    assert snap["frames_missing_faces"] == 1
