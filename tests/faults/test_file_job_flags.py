"""A file job stays a file job (issue 22, faults 6 and 11): ``--preview`` adds a window
without turning it into a live run (every frame and the audio kept), flags that cannot apply
to a file job are refused instead of silently ignored, and ``--loop`` needs ``--duration``."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from tests.faults.conftest import cli, frames_in, one_error_line
from tests.jobs.clips import make_clip, probe


def test_preview_on_a_file_job_keeps_every_frame_and_the_audio(clip: Path, tmp_path: Path):
    """The window here never returns from its first frame: the conversion does not wait on it."""
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    args = ["--input", str(clip), "--output", str(out), "--preview", "--stats-json", str(stats)]
    done = cli(args, fault="window-stuck", env={"DISPLAY": ":0"}, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(stats.read_text())
    assert result["mode"] == "file" and result["dropped"] == 0, result
    assert len(frames_in(out)) == 300 and result["frames"] == 300
    with av.open(str(out)) as c:
        assert c.streams.audio, "the audio track was dropped"
    assert result["audio"] == "copied"


@pytest.mark.parametrize("flag", [["--duration", "2"], ["--size", "320x180"], ["--fps", "10"]])
def test_a_flag_that_cannot_apply_to_a_file_job_is_refused(flag: list[str], tmp_path: Path):
    src = make_clip(tmp_path / "in.mp4", frames=20, size=(320, 180), audio=False)
    out = tmp_path / "out.mp4"
    done = cli(["--input", str(src), "--output", str(out), *flag])
    assert done.returncode == 2, done.stderr
    assert f"{flag[0]} cannot apply to a file job" in one_error_line(done.stderr)
    assert not out.exists()


def test_loop_in_a_file_job_needs_duration_and_then_ends_there(tmp_path: Path):
    src = make_clip(tmp_path / "in.mp4", frames=30, size=(320, 180), audio=False)  # 1 s
    out = tmp_path / "out.mp4"
    endless = cli(["--input", str(src), "--output", str(out), "--loop"])
    assert endless.returncode == 2, endless.stderr
    assert "--loop in a file job never ends" in one_error_line(endless.stderr)
    done = cli(["--input", str(src), "--output", str(out), "--loop", "--duration", "2.5"], timeout=300)
    assert done.returncode == 0, done.stderr
    times = frames_in(out)
    assert len(times) == 75 and times[-1] < 2.5, (len(times), times[-1])  # 2.5 s of video


@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_a_looped_file_job_has_sound_on_every_pass(tmp_path: Path, container: str):
    """Before, the audio stopped after the first pass (1 s of sound in 3.5 s of video)."""
    src = make_clip(tmp_path / "in.mp4", frames=30, size=(320, 180), audio=True)  # 1 s with a tone
    out = tmp_path / f"out.{container}"
    done = cli(["--input", str(src), "--output", str(out), "--loop", "--duration", "3.5"], timeout=300)
    assert done.returncode == 0, done.stderr
    got = probe(out)
    assert len(got["times"]) == 105
    assert got["audio"] is not None and got["audio"]["seconds"] >= 3.4, got["audio"]


def test_an_output_that_is_a_folder_is_refused_before_the_run(tmp_path: Path):
    done = cli(
        ["--demo", "--sink", "file", "--output", str(tmp_path), "--size", "320x180", "--duration", "3"]
    )
    assert done.returncode == 2, done.stderr
    assert "--output is a folder" in one_error_line(done.stderr)
    assert "synthetic camera" not in done.stderr  # before anything ran
