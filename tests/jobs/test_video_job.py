"""File mode: a recorded clip in, a swapped clip out, nothing dropped, audio kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime import app
from realtime.errors import SinkError
from realtime.settings import OutputSettings, Settings, SourceSettings
from tests.jobs.clips import make_clip, probe

FACE = str(Path(app.ASSETS) / "faces" / "astronaut.jpg")


def job(inp: Path, out: Path, **output: object) -> dict:
    s = Settings(
        source=SourceSettings(input=str(inp)),
        output=OutputSettings(output=str(out), **output),  # type: ignore[arg-type]
        face=(FACE,),
    )
    return app.run(app.plan_from_settings(s))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "in.mp4", frames=60)


def test_swaps_every_frame_keeps_timing_and_audio(clip: Path, tmp_path: Path):
    out = tmp_path / "out.mp4"
    summary = job(clip, out)
    src, res = probe(clip), probe(out)
    assert summary["frames"] == len(src["times"]) == len(res["times"]) == 60
    assert summary["frames_without_face"] == 0 and not summary["interrupted"]
    assert res["fps"] == pytest.approx(src["fps"], rel=0.01)
    assert res["times"] == pytest.approx(src["times"], abs=1e-3)
    assert all(b > a for a, b in zip(res["times"], res["times"][1:]))
    assert res["audio"] is not None and res["audio"]["codec"] == "aac" and summary["audio"] == "copied"
    assert abs(res["audio"]["seconds"] - src["audio"]["seconds"]) <= 1 / 30 + 0.025
    # the face changed; pixels far from it did not (beyond codec noise)
    from realtime.sources.synthetic import SyntheticSource

    synth = SyntheticSource(width=640, height=360, fps=30, live=False, seed=7)
    changed_face, far = [], []
    for i in (0, 30, 59):
        a, b = src["images"][i].astype(int), res["images"][i].astype(int)
        cx, cy = synth.face_center(i)
        diff = np.abs(a - b).mean(axis=2)
        yy, xx = np.mgrid[:360, :640]
        r = np.hypot(xx - cx, yy - cy)
        changed_face.append(diff[r < 25].mean())
        far.append(diff[r > 200].mean())
    assert min(changed_face) > 8
    assert max(far) < 4.0  # codec noise of two encodes (swscale chroma rounding included)


def test_no_audio_no_face_vfr_and_rotated_inputs(tmp_path: Path):
    plain = make_clip(tmp_path / "plain.mp4", frames=20, audio=False)
    s = job(plain, tmp_path / "o1.mp4")
    assert s["frames"] == 20 and s["audio"] == "none" and probe(tmp_path / "o1.mp4")["audio"] is None

    noface = make_clip(tmp_path / "noface.mp4", frames=15, face=False)
    s = job(noface, tmp_path / "o2.mp4")
    assert s["frames"] == 15 and s["frames_without_face"] == 15
    a, b = probe(noface)["images"][5], probe(tmp_path / "o2.mp4")["images"][5]
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 4.0  # passed through (codec noise only)

    vfr = make_clip(tmp_path / "vfr.mp4", frames=20, vfr=True)
    s = job(vfr, tmp_path / "o3.mp4")
    assert probe(tmp_path / "o3.mp4")["times"] == pytest.approx(probe(vfr)["times"], abs=1e-3)

    rot = make_clip(tmp_path / "rot.mp4", frames=10, rotate=90)
    s = job(rot, tmp_path / "o4.mp4")
    assert s["frames"] == 10 and probe(tmp_path / "o4.mp4")["images"][0].shape == (640, 360, 3)  # upright


def test_output_settings_and_safety(clip: Path, tmp_path: Path):
    out = tmp_path / "small.mkv"
    s = job(clip, out, size=(320, 180), codec="vp9", crf=40)
    assert s["frames"] == 60 and probe(out)["images"][0].shape == (180, 320, 3)
    with pytest.raises(SinkError, match="exists"):
        job(clip, out)
    job(clip, out, force=True, codec="h264")
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(Exception, match=r"same file|input"):
        job(clip, clip)


def test_ctrl_c_keeps_a_playable_partial_file(tmp_path: Path):
    long_clip = make_clip(tmp_path / "long.mp4", frames=600, size=(640, 360))
    out = tmp_path / "partial.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "--face", FACE, "--input", str(long_clip), "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "partial.mp4.partial").exists():
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err  # interrupted, by the exit-code contract
    assert "interrupted: partial output" in err and str(out) in err
    res = probe(out)
    assert 5 < len(res["times"]) < 600
    assert res["audio"] is not None
