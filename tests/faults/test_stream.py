"""Fault 5 of issue 14: a live recording's timeline comes from capture time. A stream that
drops and returns restarts its own timestamps, and an MJPEG stream's rate is not what its
container claims; the recording must still play at the pace the frames really came."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tests.faults.conftest import frames_in, spawn
from tests.faults.streamserver import MjpegStream


def test_a_recording_of_a_stream_that_drops_and_returns_keeps_real_time(tmp_path: Path):
    stream = MjpegStream(fps=15)
    stream.up()
    out = tmp_path / "rec.mp4"
    stats = tmp_path / "s.json"
    try:
        proc = spawn(["--input", stream.url, "--sink", "file", "--output", str(out), "--duration", "9",
                      "--stats-json", str(stats)])  # fmt: skip
        time.sleep(4.5)
        stream.down()  # the camera's Wi-Fi drops...
        time.sleep(1.5)
        stream.up()  # ...and comes back on the same address
        log, err = proc.communicate(timeout=60)
    finally:
        stream.down()
    assert proc.returncode == 0, err
    assert "is back" in err + log
    times = np.asarray(frames_in(out))
    steps = np.diff(times)
    # A 15 fps stream plays at 15 fps (not at the 25 fps its demuxer assumes)...
    assert abs(np.median(steps) - 1 / 15) < 0.01
    # ...the outage is a gap in time, and the frames after it are not packed together.
    assert steps.max() > 1.0
    after = times[times > times[np.argmax(steps)]]
    assert len(after) > 15 and after[-1] - after[0] > 0.8 * (len(after) - 1) / 15
    assert (steps < 0.02).sum() <= 3  # at most a burst as the connection reopens
    assert times[-1] > 6.0  # the recording lasts as long as the run did
    assert json.loads(stats.read_text())["outputs"][0]["saved"] == len(times)
