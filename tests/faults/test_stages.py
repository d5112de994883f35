"""Fault 2 of issue 14: a processor or a stage that misbehaves. Every frame still reaches the
file, a crashed stage is restarted and resumes, and a stage that is given up ends the run with
a non-zero exit that says why, the partial file kept and named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import FACE, cli, frames_in, one_error_line


@pytest.mark.parametrize("fault", ["swap-returns-none@100", "swap-raises-systemexit@100"])
def test_a_processor_that_misbehaves_costs_one_frame_its_swap_never_the_file(
    clip: Path, tmp_path: Path, fault: str
):
    out = tmp_path / "out.mp4"
    done = cli(["--face", FACE, "--input", str(clip), "--output", str(out)], fault=fault)
    assert done.returncode == 0, done.stderr
    assert len(frames_in(out)) == 300  # all of them, the bad one passed through unswapped
    assert "passing it through" in done.stderr


def test_a_crashed_stage_is_restarted_and_the_job_keeps_every_frame(clip: Path, tmp_path: Path):
    out = tmp_path / "out.mp4"
    done = cli(["--face", FACE, "--input", str(clip), "--output", str(out)], fault="stage-crash-once@100")
    assert done.returncode == 0, done.stderr
    assert "restarting it (1/5)" in done.stderr
    assert len(frames_in(out)) == 300


def test_a_live_run_resumes_after_a_stage_crash(tmp_path: Path):
    out = tmp_path / "live.mp4"
    args = ["--demo", "--size", "640x360", "--sink", "file", "--output", str(out), "--duration", "4"]
    done = cli(args, fault="stage-crash-once@20")
    assert done.returncode == 0, done.stderr
    assert "restarting it (1/5)" in done.stderr
    assert len(frames_in(out)) > 60  # it went on well past the crash at frame 20


def test_a_stage_that_keeps_crashing_is_given_up_with_exit_1(clip: Path, tmp_path: Path):
    out = tmp_path / "out.mp4"
    done = cli(["--face", FACE, "--input", str(clip), "--output", str(out)], fault="stage-crash-always@60")
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert "given up" in line and "partial output kept" in line and str(out) in line
    assert 0 < len(frames_in(out)) < 300
