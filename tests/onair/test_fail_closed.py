"""Fail closed, from outside: the real CLI on a clip in which a face turns 90 degrees and back
and then jumps aside (and with a swapper that raises, and with the panel's pause during a
recording). Once a face has been swapped, no output frame may show the face region raw.

"Raw" is judged by pixels: an output frame shows the raw face when its pixels inside some
input frame's face box are within a few grey levels of that input frame's (codec noise); a
swapped, held or pixelated face differs by far more (about 15 or more on this clip).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.onair.clip import make_clip, read_frames, region_diff

REPO = Path(__file__).resolve().parents[2]
FACE = str(REPO / "realtime" / "assets" / "faces" / "astronaut.jpg")
FAILING = Path(__file__).resolve().parent / "swap_fails.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
RAW = 11.0  # grey levels: below this inside a face box, the face went out raw
MIN_BOX = 12  # px: a face turned edge-on shows no face to judge


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray], list[Any]]:
    path = tmp_path_factory.mktemp("clip") / "turn-and-jump.mp4"
    boxes = make_clip(path)
    return path, read_frames(path), boxes


def raw_frames(out: list[np.ndarray], raw: list[np.ndarray], boxes: list[Any]) -> list[int]:
    """Output frames (by position) that hold some input frame's face region raw."""
    judged = [(r, b) for r, b in zip(raw, boxes) if b[2] - b[0] >= MIN_BOX]
    return [i for i, o in enumerate(out) if min(region_diff(o, r, b) for r, b in judged) < RAW]


def cli(args: list[str], fail: tuple[int, int] | None = None) -> subprocess.CompletedProcess[str]:
    head = (
        [sys.executable, str(FAILING), *map(str, fail), "--"] if fail else [sys.executable, "-m", "realtime"]
    )
    return subprocess.run(
        [*head, *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, check=False
    )


def run_clip(
    clip_path: Path, out: Path, live: bool, *extra: str, fail: tuple[int, int] | None = None
) -> dict[str, Any]:
    stats = out.with_suffix(".json")
    # A recording beside another output is a live run (``--sink file`` alone, or with a
    # preview window, keeps a file input a file job).
    sink = ["--sink", "file", "--sink", "null"] if live else []
    got = cli(
        ["--input", str(clip_path), *sink, "--output", str(out), "--face", FACE, "--quiet",
         "--stats-json", str(stats), *extra],
        fail,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    return json.loads(stats.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("policy", ["hold", "blur"])
def test_a_face_that_turns_away_and_jumps_never_goes_out_raw_live(
    clip: Any, tmp_path: Path, policy: str
) -> None:
    path, raw, boxes = clip
    out = tmp_path / f"live-{policy}.mp4"
    stats = run_clip(path, out, True, "--on-miss", policy)
    frames = read_frames(out)
    assert len(frames) >= 40  # a live run may drop some; most arrive
    assert raw_frames(frames, raw, boxes) == []
    guard = stats["on_miss"]
    assert guard["policy"] == policy
    # The profile frames are missed: kept off the air and counted.
    assert guard["held"] + guard["blurred"] > 0
    if policy == "blur":
        assert guard["held"] == 0


def test_live_mode_fails_closed_by_default(clip: Any, tmp_path: Path) -> None:
    path, raw, boxes = clip
    out = tmp_path / "live-default.mp4"
    stats = run_clip(path, out, True)
    assert raw_frames(read_frames(out), raw, boxes) == []
    assert stats["on_miss"]["policy"] == "hold"


def test_a_file_job_passes_misses_unless_asked_and_the_judge_sees_them(clip: Any, tmp_path: Path) -> None:
    path, raw, boxes = clip
    passed = tmp_path / "file-pass.mp4"
    stats = run_clip(path, passed, False)
    assert stats.get("on_miss") is None  # file jobs keep every frame as it was
    leaked = raw_frames(read_frames(passed), raw, boxes)
    assert leaked, "the clip must make the tracker miss (else these tests prove nothing)"

    held = tmp_path / "file-hold.mp4"
    stats = run_clip(path, held, False, "--on-miss", "hold")
    frames = read_frames(held)
    assert len(frames) == len(raw)  # a file job still keeps every frame
    assert raw_frames(frames, raw, boxes) == []
    # Hold lasts about a second of the clip, then the guard pixelates.
    assert stats["on_miss"]["held"] > 0 and stats["on_miss"]["blurred"] > 0


@pytest.mark.parametrize("policy", ["hold", "blur"])
def test_a_swapper_that_raises_never_lets_the_face_out(clip: Any, tmp_path: Path, policy: str) -> None:
    path, raw, boxes = clip
    out = tmp_path / f"raises-{policy}.mp4"
    # File mode: frame for frame, so the failing frames are known (5..40 of a frontal face).
    stats = run_clip(path, out, False, "--on-miss", policy, fail=(5, 40))
    frames = read_frames(out)
    assert len(frames) == len(raw)
    assert raw_frames(frames, raw, boxes) == []
    assert stats["on_miss"]["held"] + stats["on_miss"]["blurred"] >= 30
    assert stats["errors"]


def test_the_same_failure_with_pass_does_go_out_raw(clip: Any, tmp_path: Path) -> None:
    path, raw, boxes = clip
    out = tmp_path / "raises-pass.mp4"
    run_clip(path, out, False, "--on-miss", "pass", fail=(5, 40))
    assert len(raw_frames(read_frames(out), raw, boxes)) >= 15


# -- the panel's pause during a live recording ------------------------------------------------


def _command(base: str, token: str, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    req = urllib.request.Request(
        f"{base}/api/command?token={token}",
        data=json.dumps({"name": name, "args": args or {}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_pausing_in_the_panel_during_a_recording_never_records_the_raw_face(
    clip: Any, tmp_path: Path
) -> None:
    from tests.panel.conftest import start_panel, stop_panel

    _path, _raw, boxes = clip
    # A frontal face that stays put, looped: every raw frame is the first frame of the clip.
    still = tmp_path / "still.mp4"
    make_clip(still, n_still=25, n_turn=0, n_profile=0, n_after=0)
    still_raw, still_boxes = read_frames(still), [boxes[0]] * 50
    run = start_panel(tmp_path, "--input", str(still), "--loop", "--face", FACE)
    try:
        run.wait_state(lambda s: (s.get("faces") or []) != [], timeout=60)
        time.sleep(1.0)  # the face is swapped by now
        rec = _command(run.base, run.token, "record_start", {"name": "paused"})
        time.sleep(1.5)
        assert _command(run.base, run.token, "pause")["processing"] is False
        time.sleep(2.5)
        paused = run.state()
        _command(run.base, run.token, "resume")
        time.sleep(1.0)
        done = _command(run.base, run.token, "record_stop")
    finally:
        stop_panel(run)
    frames = read_frames(Path(rec["path"]))
    assert len(frames) == done["frames"] and len(frames) >= 30
    assert raw_frames(frames, still_raw, still_boxes) == []
    assert paused["processing"] is False
    assert paused["on_miss"]["state"] == "frozen" and paused["on_miss"]["frozen"] > 10
