"""A short input is reported (issue 22, fault 8): a file whose header promises more frames
than it holds ends with exit 1 and the count, the output kept and named."""

from __future__ import annotations

import json
from pathlib import Path

import av

from tests.faults.conftest import cli, frames_in, one_error_line
from tests.jobs.clips import make_clip


def truncated_fast_start_mp4(tmp_path: Path, frames: int = 180, keep: float = 0.4) -> Path:
    """An MP4 with its index at the front (fast start, as phones and web videos have it), cut
    after ``keep`` of its bytes: the header still promises every frame."""
    plain = make_clip(tmp_path / "plain.mp4", frames=frames, size=(320, 180), audio=False)
    fast = tmp_path / "fast.mp4"
    with av.open(str(plain)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    cut = tmp_path / "cut.mp4"
    data = fast.read_bytes()
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


def test_a_truncated_input_ends_with_exit_1_and_the_count(tmp_path: Path):
    src = truncated_fast_start_mp4(tmp_path)
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    done = cli(["--input", str(src), "--output", str(out), "--stats-json", str(stats)])
    assert done.returncode == 1, done.stderr
    saved = len(frames_in(out))
    assert 0 < saved < 180
    line = one_error_line(done.stderr)
    assert f"{saved} of the 180 frames its header promised" in line, line
    assert f"partial output kept: {out} ({saved} frames)" in line, line
    result = json.loads(stats.read_text())
    assert result["frames"] == saved and result["frames_expected"] == 180


def test_a_whole_input_is_still_a_success(tmp_path: Path):
    src = make_clip(tmp_path / "whole.mp4", frames=45, size=(320, 180), audio=False)
    out = tmp_path / "out.mp4"
    done = cli(["--input", str(src), "--output", str(out)])
    assert done.returncode == 0, done.stderr
    assert len(frames_in(out)) == 45
