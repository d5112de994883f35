"""Faults 1 and 6 of issue 14: a file job onto a full disk. The exit code says it failed, the
report says how many frames were really kept, and nothing unplayable is left behind."""

from __future__ import annotations

import json
from pathlib import Path

from tests.faults.conftest import FACE, cli, frames_in, one_error_line, tmpfs


def test_a_file_job_onto_a_full_disk_fails_and_says_what_was_kept(clip: Path, tmp_path: Path):
    with tmpfs("600k") as disk:
        out = disk / "job.mp4"
        stats = tmp_path / "stats.json"
        done = cli(["--face", FACE, "--input", str(clip), "--output", str(out), "--stats-json", str(stats)])
        assert done.returncode == 1, done.stderr
        line = one_error_line(done.stderr)
        assert "No space left on device" in line and str(out) in line
        kept = frames_in(out)  # what is there plays to its end
        assert 0 < len(kept) < 300
        assert f"({len(kept)} frames)" in line  # the report counts what survived the cut-back
        result = json.loads(stats.read_text())
        assert result["outputs"][0]["saved"] == len(kept)
        assert not (disk / "job.mp4.partial").exists()


def test_no_space_before_the_first_fragment_leaves_nothing_that_blocks_a_rerun(clip: Path, tmp_path: Path):
    with tmpfs("40k") as disk:
        out = disk / "job.mp4"
        done = cli(["--face", FACE, "--input", str(clip), "--output", str(out)])
        assert done.returncode == 1, done.stderr
        line = one_error_line(done.stderr)
        assert "nothing could be saved" in line
        assert not out.exists()  # no 0-frame file under the final name
        leftovers = [p for p in disk.iterdir() if p.name.startswith("job.mp4")]
        assert leftovers == []
