"""``--stats-json`` is an output like any other (issue 22, fault 3): it never overwrites the
input, another output or an existing file without ``--force``, is checked before the run, and
a place it cannot be written is one line, never a traceback."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.faults.conftest import cli, frames_in, one_error_line, tmpfs

LIVE = ["--demo", "--sink", "null", "--size", "320x180", "--duration", "1"]


def test_stats_json_onto_the_output_is_refused_before_the_run(clip: Path, tmp_path: Path):
    out = tmp_path / "out.mp4"
    done = cli(["--input", str(clip), "--output", str(out), "--stats-json", str(out)])
    assert done.returncode == 2, done.stderr
    assert "--stats-json is the same file as --output" in one_error_line(done.stderr)
    assert not out.exists()


def test_stats_json_onto_the_input_is_refused_and_the_input_kept(clip: Path, tmp_path: Path):
    before = clip.read_bytes()
    done = cli(["--input", str(clip), "--output", str(tmp_path / "o.mp4"), "--stats-json", str(clip)])
    assert done.returncode == 2, done.stderr
    assert "--stats-json is the same file as --input" in one_error_line(done.stderr)
    assert clip.read_bytes() == before


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path):
    old = tmp_path / "old-recording.mp4"
    old.write_bytes(b"someone's recording")
    done = cli([*LIVE, "--stats-json", str(old)])
    assert done.returncode == 2, done.stderr
    assert "--stats-json file exists" in one_error_line(done.stderr) and "--force" in done.stderr
    assert old.read_bytes() == b"someone's recording"
    assert "synthetic camera" not in done.stderr  # before anything ran
    forced = cli([*LIVE, "--stats-json", str(old), "--force"])
    assert forced.returncode == 0, forced.stderr
    assert old.read_text().lstrip().startswith("{")


def test_a_folder_is_refused_in_one_line(tmp_path: Path):
    done = cli([*LIVE, "--stats-json", str(tmp_path)])
    assert done.returncode == 2, done.stderr
    assert "--stats-json is a folder" in one_error_line(done.stderr)


def test_a_full_disk_under_stats_json_is_one_line_and_exit_1(tmp_path: Path):
    out = tmp_path / "rec.mp4"
    done = cli(["--demo", "--sink", "file", "--output", str(out), "--size", "320x180", "--duration", "1",
                "--stats-json", "/dev/full", "--force"])  # fmt: skip
    assert done.returncode == 1, done.stderr
    line = one_error_line(done.stderr)
    assert "cannot write --stats-json /dev/full: No space left on device" in line, line
    assert len(frames_in(out)) > 0  # the recording itself is whole and kept


def read_only_folder() -> contextlib.AbstractContextManager[Path]:
    """A read-only filesystem (a permission bit would not stop root, who runs the tests here)."""
    return tmpfs("1m", "ro")


def test_a_read_only_folder_is_refused_before_the_run():
    with read_only_folder() as ro:
        done = cli([*LIVE, "--stats-json", str(ro / "s.json")])
    assert done.returncode == 2, done.stderr
    assert "cannot write --stats-json in" in one_error_line(done.stderr)
    assert "synthetic camera" not in done.stderr
