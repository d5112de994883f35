"""The command line as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def realtime(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args], capture_output=True, text=True, timeout=timeout, env=ENV
    )


def read_video(path: Path) -> tuple[int, list[float], float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = [float(f.pts * f.time_base) for f in c.decode(s)]
    return len(pts), pts, float(s.average_rate or 0)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in err.splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


def test_demo_writes_a_playable_file(tmp_path: Path):
    out = tmp_path / "demo.mp4"
    stats = tmp_path / "stats.json"
    proc = realtime(
        "--demo", "--sink", "file", "--output", str(out), "--duration", "5", "--stats-json", str(stats)
    )
    assert proc.returncode == 0, proc.stderr
    n, pts, _ = read_video(out)
    assert 120 <= n <= 152
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert 4.0 <= pts[-1] - pts[0] <= 5.2
    assert stats.is_file() and '"latency_ms"' in stats.read_text()


def test_sigint_finalises_the_file(tmp_path: Path):
    out = tmp_path / "live.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "--demo", "--sink", "file", "--output", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(tmp_path.glob("*live*")):
            time.sleep(0.2)
        time.sleep(2.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 130, err  # the exit-code contract: interrupted by SIGINT
    assert f"partial output kept: {out}" in err
    assert stop_s < 3.0  # the pipeline stops within 1 s; the rest is interpreter exit
    n, pts, _ = read_video(out)
    assert n > 10 and all(b > a for a, b in zip(pts, pts[1:]))


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--camera", "97", "--sink", "null"], ["97", "realtime cameras"]),
        (["--input", "no/such/video.mp4", "--sink", "null"], ["no/such/video.mp4"]),
        (["--demo", "--face", "no/such/face.jpg", "--sink", "null"], ["no/such/face.jpg"]),
        (["--demo", "--camera", "0"], ["cannot be used together"]),
        ([], ["no source given"]),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(args: list[str], needles: list[str]):
    assert_one_line_error(realtime(*args), *needles)


def test_unreadable_video_and_non_image_face(tmp_path: Path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(os.urandom(5000))
    assert_one_line_error(realtime("--input", str(bad), "--sink", "null"), "broken.mp4")
    txt = tmp_path / "face.jpg"
    txt.write_text("this is not an image")
    assert_one_line_error(
        realtime("--demo", "--face", str(txt), "--sink", "null", "--duration", "1"), "face.jpg"
    )


def test_camera_form_checks_the_face_before_opening_the_camera(tmp_path: Path):
    assert_one_line_error(realtime("--camera", "0", "--face", str(tmp_path / "me.jpg")), "me.jpg")


def test_status_line_names_steps_too_slow_for_live():
    from realtime.console import status_line as _status_line

    s = {"fps_in": 30, "fps_out": 12, "latency_ms": {"p50": 80, "p95": 90},
         "stages_ms": {"faces": {"p50": 3.0}, "enhance": {"p50": 85.2}, "output": {"p50": 40.0}}}  # fmt: skip
    line = _status_line(s, fps=30)
    assert "too slow for live: enhance 85 ms" in line and "faces" not in line.split("too slow")[1]


def test_missing_neural_model_prints_fetch_command_and_path(tmp_path: Path):
    face = str(Path(__file__).resolve().parents[1] / "realtime" / "assets" / "faces" / "astronaut.jpg")
    proc = subprocess.run(
        [sys.executable, "-m", "realtime", "--face", face, "--camera", "0", "--swapper", "inswapper_128"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "REALTIME_MODELS_DIR": str(tmp_path)},
    )
    assert_one_line_error(proc, "realtime models fetch inswapper_128", str(tmp_path / "inswapper_128.onnx"))
