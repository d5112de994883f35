"""The MJPEG preview as a user runs it (real subprocesses on 127.0.0.1): DNS rebinding is
refused by the Host check, a preset cannot expose the preview, and the token is never logged."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
TOKEN = "Tk-5f3a9c1e-preview-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, host: str | None) -> tuple[int, bytes, str]:
    """GET ``path`` from 127.0.0.1:``port`` sending ``Host: host``; (status, body, content type)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host} if host is not None else {})
        resp = conn.getresponse()
        ctype = resp.getheader("Content-Type", "")
        body = resp.read(64 * 1024) if "multipart" in ctype else resp.read()
        return resp.status, body, ctype
    finally:
        conn.close()


@contextmanager
def preview(*extra: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """``realtime --demo --sink mjpeg`` on a free port, until a snapshot is served."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "--demo", "--sink", "mjpeg", "--mjpeg-port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                query = f"?token={TOKEN}" if TOKEN in extra else ""
                if get(port, "/snapshot.jpg" + query, f"127.0.0.1:{port}")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the preview never served a frame"
            time.sleep(0.2)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_loopback_preview_refuses_foreign_host_headers() -> None:
    with preview("--duration", "60") as (port, proc):
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            status, body, ctype = get(port, "/snapshot.jpg", host)
            assert status == 200 and ctype == "image/jpeg" and body[:2] == b"\xff\xd8", host
        status, body, ctype = get(port, "/stream.mjpg", f"localhost:{port}")
        assert status == 200 and b"\xff\xd8" in body  # frames flow to a loopback client
        for host in (
            f"attacker.example:{port}",  # DNS rebinding: the page's own name, now 127.0.0.1
            "attacker.example",
            f"127.0.0.1.nip.io:{port}",
            f"127.0.0.1:{port + 1}",  # the right address, another port
            "",
        ):
            for path in ("/", "/snapshot.jpg", "/stream.mjpg"):
                status, body, _ = get(port, path, host)
                assert status in (403, 421), (host, path, status)
                assert b"\xff\xd8" not in body
        assert proc.poll() is None  # refusing is not a failure of the run


def test_the_token_never_reaches_the_log() -> None:
    with preview("--token", TOKEN, "--log-level", "debug", "--duration", "60") as (port, proc):
        assert get(port, f"/snapshot.jpg?token={TOKEN}", f"127.0.0.1:{port}")[0] == 200
        assert get(port, f"/?token={TOKEN}", f"127.0.0.1:{port}")[0] == 200
        get(port, f"/snapshot.jpg?token={TOKEN}", f"evil.example/?token={TOKEN}")  # refused, logged
        assert get(port, "/snapshot.jpg?token=wrong", f"127.0.0.1:{port}")[0] in (401, 403)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    logged = out + err
    assert "DEBUG" in logged or "GET /snapshot.jpg" in logged, logged[-2000:]  # debug really on
    assert "snapshot.jpg" in logged  # requests are logged...
    assert TOKEN not in logged  # ...without the token
    assert TOKEN[:12] not in logged


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('mjpeg_host = "0.0.0.0"\nmjpeg_token = "from-the-preset"', "output.mjpeg_host"),
        ('mjpeg_host = "192.168.1.10"', "output.mjpeg_host"),
        ('mjpeg_token = "from-the-preset"', "output.mjpeg_token"),
    ],
)
def test_a_preset_cannot_expose_the_preview(tmp_path: Path, table: str, key: str) -> None:
    preset = tmp_path / "shared.toml"
    preset.write_text(f"[output]\n{table}\n")
    port = free_port()
    args = [
        "--config",
        str(preset),
        "--demo",
        "--sink",
        "mjpeg",
        "--mjpeg-port",
        str(port),
        "--duration",
        "1",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "realtime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1, proc.stderr
    assert key in lines[0] and str(preset) in lines[0], lines[0]
    assert "command line" in lines[0] and ("--mjpeg-host" in lines[0] or "--token" in lines[0])


def test_the_command_line_may_still_choose_a_loopback_preview_with_a_preset(tmp_path: Path) -> None:
    preset = tmp_path / "ok.toml"
    preset.write_text('[output]\nmjpeg_host = "127.0.0.1"\n')
    with preview("--config", str(preset), "--duration", "60") as (port, _):
        assert get(port, "/snapshot.jpg", f"127.0.0.1:{port}")[0] == 200
