"""Faults 9 and 16 of issue 14, and the flag matrix: every flag that changes what runs
(``--swapper``, ``--provider``, ``--face-select``, ``--enhance``, ``--config``) is honoured or
refused with one line, the same way in live, file and still mode; smaller contract breaks."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.faults.conftest import FACE, TARGET, cli, one_error_line

SOURCE = TARGET  # Grace Hopper's face goes onto two astronauts


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two people (the astronaut, and a smaller mirrored copy) as a still and a short clip,
    with the boxes of their faces."""
    from realtime.faces.analysis import FaceAnalyzer

    root = tmp_path_factory.mktemp("scene")
    a = np.ascontiguousarray(cv2.imread(FACE)[20:320, 110:410])  # the face fills a third of it
    b = cv2.resize(cv2.flip(a, 1), None, fx=0.8, fy=0.8)
    canvas = np.full((a.shape[0], a.shape[1] + b.shape[1], 3), 90, np.uint8)
    canvas[:, : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1] :] = b
    canvas = np.ascontiguousarray(canvas[:, : canvas.shape[1] // 2 * 2][: canvas.shape[0] // 2 * 2])
    still = root / "two.png"
    cv2.imwrite(str(still), canvas)
    clip = root / "two.mp4"
    with av.open(str(clip), "w") as out:
        v = out.add_stream("libx264", rate=30, options={"crf": "12", "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = canvas.shape[1], canvas.shape[0], "yuv420p"
        for _ in range(15):
            for p in v.encode(av.VideoFrame.from_ndarray(canvas, format="bgr24")):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    faces = sorted(FaceAnalyzer().analyze_image(canvas), key=lambda f: -f.area)
    assert len(faces) == 2
    return {"still": still, "clip": clip, "image": canvas, "boxes": [f.box.astype(int) for f in faces]}


def _last_frame(path: Path) -> np.ndarray:
    if path.suffix == ".png" or path.suffix == ".jpg":
        return cv2.imread(str(path))
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]
    return frames[-1]


def _changed(scene: dict[str, object], out: Path) -> list[bool]:
    """Which of the two faces the output changed."""
    before, after = scene["image"], _last_frame(out)
    result = []
    for x1, y1, x2, y2 in scene["boxes"]:  # type: ignore[attr-defined]
        d = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2].astype(int)).mean()  # type: ignore[index]
        result.append(bool(d > 6.0))
    return result


def _run(mode: str, scene: dict[str, object], tmp: Path, flags: list[str]):
    stats = tmp / f"{mode}.json"
    if mode == "still":
        out = tmp / "out.png"
        args = ["--input", str(scene["still"]), "--output", str(out)]
    elif mode == "file":
        out = tmp / "out.mp4"
        args = ["--input", str(scene["clip"]), "--output", str(out), "--crf", "12"]
    else:  # live: the still as a camera, recorded
        out = tmp / "live.mp4"
        args = ["--input", str(scene["still"]), "--sink", "file", "--output", str(out), "--duration", "2",
                "--crf", "12"]  # fmt: skip
    done = cli(["--face", SOURCE, *args, "--stats-json", str(stats), *flags])
    return done, out, stats


MODES = ["live", "file", "still"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--swapper", "inswapper_128"], "realtime models fetch inswapper_128"),
        (["--provider", "cuda"], "cuda"),
        (["--enhance", "gfpgan_1.4"], "gfpgan_1.4"),
        (["--face-select", "reference"], "needs --reference"),
        (["--face-select", "reference", "--reference", FACE], "arcface"),
        (["--config", "no-such-preset"], "config file not found"),
    ],
    ids=["swapper", "provider", "enhance", "reference-missing", "reference-model", "config"],
)
def test_a_flag_that_cannot_run_is_refused_in_one_line_in_every_mode(
    mode: str, flags: list[str], needle: str, scene: dict[str, object], tmp_path: Path
):
    done, out, _ = _run(mode, scene, tmp_path, [*flags, "--models-dir", str(tmp_path / "empty")])
    assert done.returncode == 2, done.stderr
    assert needle in one_error_line(done.stderr)
    assert not out.exists()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("select, expect", [("one", [True, False]), ("many", [True, True])])
def test_face_select_is_honoured_in_every_mode(
    mode: str, select: str, expect: list[bool], scene: dict[str, object], tmp_path: Path
):
    done, out, stats = _run(mode, scene, tmp_path, ["--swapper", "mesh", "--face-select", select])
    assert done.returncode == 0, done.stderr
    assert _changed(scene, out) == expect
    assert json.loads(stats.read_text())["plan"]["face_select"] == select


@pytest.mark.parametrize("mode", MODES)
def test_a_preset_is_honoured_in_every_mode(mode: str, scene: dict[str, object], tmp_path: Path):
    done, _, stats = _run(mode, scene, tmp_path, ["--config", "quality", "--swapper", "none"])
    assert done.returncode == 0, done.stderr
    plan = json.loads(stats.read_text())["plan"]
    assert plan["workers"] == 2 and plan["detector"] == "full" and plan["swapper"] == "none"


def test_still_mode_keeps_an_existing_output_unless_forced(scene: dict[str, object], tmp_path: Path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    done = cli(["--face", SOURCE, "--input", str(scene["still"]), "--output", str(out)])
    assert done.returncode == 2 and "--force" in one_error_line(done.stderr)
    assert out.read_bytes() == b"precious"
    assert (
        cli(["--face", SOURCE, "--input", str(scene["still"]), "--output", str(out), "--force"]).returncode
        == 0
    )
    assert cv2.imread(str(out)) is not None


def test_a_video_without_a_face_says_so(tmp_path: Path):
    from tests.jobs.clips import make_clip

    clip = make_clip(tmp_path / "empty.mp4", frames=20, face=False, audio=False)
    done = cli(["--face", FACE, "--input", str(clip), "--output", str(tmp_path / "o.mp4")])
    assert done.returncode == 0, done.stderr
    assert "no face was found in any of the 20 frames" in done.stderr


@pytest.mark.parametrize(
    "section, body, needle",
    [
        ("faces", "detect_evry = 3", "unknown key 'faces.detect_evry'"),
        ("faces", 'detect_every = "3"', "'faces.detect_every' must be int"),
        ("faces", "detect_every = 0", "faces.detect_every must be >= 1"),
        ("swap", "geometry = 2.0", "swap.geometry must be within [0, 1]"),
        ("swap", "blnd = 1.0", "unknown key 'swap.blnd'"),
    ],
)
def test_preset_errors_name_the_key_and_the_file(section: str, body: str, needle: str, tmp_path: Path):
    preset = tmp_path / "mine.toml"
    preset.write_text(f"[{section}]\n{body}\n")
    done = cli(["--demo", "--sink", "null", "--duration", "1", "--config", str(preset)])
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert needle in line and str(preset) in line
    assert "__init__" not in line and "not supported between" not in line


def test_stats_json_into_a_missing_folder_is_refused_before_the_run(tmp_path: Path):
    missing = tmp_path / "no" / "s.json"
    done = cli(["--demo", "--sink", "null", "--duration", "30", "--stats-json", str(missing)], timeout=30)
    assert done.returncode == 2
    assert "--stats-json folder does not exist" in one_error_line(done.stderr)
