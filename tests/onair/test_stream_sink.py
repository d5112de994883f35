"""``--sink stream``: what a separate player process (PyAV, as OBS's Media Source) receives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READER = REPO / "tools" / "stream_reader.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def realtime(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_demo_streams_decodable_h264_to_a_separate_reader(tmp_path: Path) -> None:
    port = free_udp_port()
    url = f"udp://127.0.0.1:{port}"
    reader = subprocess.Popen(
        [sys.executable, str(READER), url, "--idle", "4"], stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # its socket is bound
        stats = tmp_path / "stats.json"
        got = realtime(
            "--demo", "--sink", "stream", "--stream-url", url, "--duration", "8", "--quiet",
            "--stats-json", str(stats),
        )  # fmt: skip
        assert got.returncode == 0, got.stderr[-2000:]
        out, _ = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    received = json.loads(out.strip().splitlines()[-1])
    sent = json.loads(stats.read_text())["outputs"][0]
    assert sent["name"] == "stream" and not sent.get("error")
    assert received["size"] == [1280, 720] and received["decode_errors"] == 0
    # Every frame sent arrives and decodes (loopback loses nothing); 8 s of a 30 fps demo is
    # 240 frames on a quiet machine (206 measured under load), at least 150 on a busy one.
    assert received["frames"] >= sent["written"] - 2
    assert received["frames"] >= 150


def test_a_bad_stream_address_is_refused_before_anything_runs() -> None:
    for args in (["--sink", "stream"], ["--sink", "stream", "--stream-url", "http://127.0.0.1:5000"]):
        got = realtime("--demo", *args, "--duration", "1")
        assert got.returncode == 2, got.stderr
        lines = [ln for ln in got.stderr.splitlines() if ln.startswith("realtime: error:")]
        assert len(lines) == 1 and "--stream-url" in lines[0], got.stderr
        assert "Traceback" not in got.stderr


def test_srt_works_or_says_why_not() -> None:
    got = realtime("--demo", "--sink", "stream", "--stream-url", "srt://127.0.0.1:9", "--duration", "1")
    if got.returncode != 0:  # PyAV's own FFmpeg has no libsrt: one clear line, no traceback
        assert got.returncode in (1, 2), got.stderr
        assert "SRT" in got.stderr and "Traceback" not in got.stderr
