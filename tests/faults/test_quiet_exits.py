"""No traceback reaches a user (issue 22, fault 9): preview clients that stall until the run
ends, and a run started with its stderr closed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.conftest import ENV, REPO, frames_in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_stalled_mjpeg_clients_at_exit_leave_no_tracebacks():
    port = _free_port()
    cmd = [sys.executable, "-m", "realtime", "--demo", "--sink", "mjpeg", "--mjpeg-port", str(port),
           "--size", "640x360", "--duration", "8"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    clients = []
    try:
        deadline = time.monotonic() + 60
        while len(clients) < 30 and time.monotonic() < deadline:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.2)
                continue
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            clients.append(s)  # never read: the stream backs up until the run ends
        _, err = proc.communicate(timeout=120)
    finally:
        for s in clients:
            s.close()
        if proc.poll() is None:
            proc.kill()
    assert len(clients) == 30
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "CancelledError" not in err, err[:3000]


def test_a_run_with_stderr_closed_still_records_and_exits_0(tmp_path: Path):
    out = tmp_path / "rec.mp4"
    args = f"--demo --sink file --size 320x180 --duration 1 --output {out}"
    done = subprocess.run(
        ["bash", "-c", f"exec {sys.executable} -m realtime {args} 2>&-"],
        cwd=REPO, env=ENV, capture_output=False, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert len(frames_in(out)) > 0
