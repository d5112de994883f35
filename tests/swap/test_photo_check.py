"""``realtime face check PHOTO`` (issue 24): what the user is told about their photo, through
the real CLI, and the same report in the log at start-up."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.photo_check import log_photo_checks
from tools.quality.judge import PHOTOS, load_photo

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "realtime" / "assets" / "faces"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", "face", "check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _findings(report: dict) -> dict[str, bool]:
    return {f["check"]: f["ok"] for f in report["findings"]}


def test_the_bundled_photos_are_judged(tmp_path: Path) -> None:
    blurred = tmp_path / "blurred.png"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(load_photo("astronaut"), (0, 0), 3))
    dark = tmp_path / "side_lit.png"
    img = load_photo("grace_hopper").astype(np.float32)
    img[:, : img.shape[1] // 2] *= 0.35
    cv2.imwrite(str(dark), img.astype(np.uint8))
    res = _check(str(PHOTOS["astronaut"]), str(PHOTOS["grace_hopper"]), str(blurred), str(dark), "--json")
    assert res.returncode == 0, res.stderr
    astro, grace, blur, side = (_findings(r) for r in json.loads(res.stdout))
    assert astro == {k: k != "size" for k in astro}  # a small face, nothing else wrong
    assert not grace["glasses"] and grace["eyes"] and grace["turn"] and grace["blur"]
    assert not blur["blur"] and astro["blur"]
    assert not side["light"] and grace["light"]


def test_advice_is_printed_and_a_faceless_photo_is_refused(tmp_path: Path) -> None:
    res = _check(str(PHOTOS["astronaut"]))
    assert res.returncode == 0
    assert "WARN size" in res.stdout and "use a photo where the face is at least" in res.stdout
    empty = tmp_path / "wall.png"
    cv2.imwrite(str(empty), np.full((200, 200, 3), 128, np.uint8))
    res = _check(str(empty))
    assert res.returncode == 2
    assert "no face found" in res.stderr and "Traceback" not in res.stderr


def test_the_check_is_logged_at_start_up(analyzer: FaceAnalyzer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="realtime.swap.photo_check"):
        reports = log_photo_checks([PHOTOS["grace_hopper"], Path("/nonexistent.jpg")], analyzer)
    assert len(reports) == 1
    assert any("glasses" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_the_start_up_check_is_in_stats_json_for_a_folder_too(tmp_path: Path) -> None:
    """The start-up check of each ``--face`` photo (a folder's too) lands in ``--stats-json``,
    where the panel also reads it."""
    me = tmp_path / "me"
    me.mkdir()
    shutil.copy(FACES / "astronaut.jpg", me / "a.jpg")
    stats = tmp_path / "s.json"
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "--input", str(FACES / "grace_hopper.jpg"), "--face", str(me),
         "--output", str(tmp_path / "o.png"), "--stats-json", str(stats)],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(stats.read_text())["photo_checks"]
    assert report["path"].endswith("a.jpg") and not report["ok"]
    assert any(f["check"] == "size" and not f["ok"] for f in report["findings"])
