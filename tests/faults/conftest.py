"""Fault tests from outside: the real CLI in a subprocess, real signals, a small tmpfs for a
full disk, a local stream server that dies and returns. Each asserts what the user gets: the
file plays, the frames are all there, the exit code tells the truth."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import pytest

REPO = Path(__file__).resolve().parents[2]
FACE = str(REPO / "realtime" / "assets" / "faces" / "astronaut.jpg")
TARGET = str(REPO / "realtime" / "assets" / "faces" / "grace_hopper.jpg")
INJECT = Path(__file__).resolve().parent / "inject.py"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}


def cli(
    args: Sequence[str], *, fault: str | None = None, timeout: float = 120, cwd: Path | None = None, **kw
) -> subprocess.CompletedProcess[str]:
    """``realtime ARGS`` (or with ``fault`` injected by ``inject.py``), run to the end."""
    cmd = (
        [sys.executable, str(INJECT), fault, "--", *args]
        if fault
        else [sys.executable, "-m", "realtime", *args]
    )
    env = {**ENV, **kw.pop("env", {})}
    return subprocess.run(
        cmd, cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kw
    )


def spawn(args: Sequence[str], *, fault: str | None = None, **kw) -> subprocess.Popen[str]:
    cmd = (
        [sys.executable, str(INJECT), fault, "--", *args]
        if fault
        else [sys.executable, "-m", "realtime", *args]
    )
    return subprocess.Popen(
        cmd, cwd=REPO, env={**ENV, **kw.pop("env", {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kw,
    )  # fmt: skip


def record_then_signal(out: Path, sig: int, after_s: float, fault: str | None = None) -> tuple[int, str]:
    """A live demo recording to ``out`` (640x360), sent ``sig`` ``after_s`` seconds after it
    began; its exit code and stderr."""
    proc = spawn(["--demo", "--sink", "file", "--size", "640x360", "--output", str(out)], fault=fault)
    wait_for(out.with_name(out.name + ".partial"))
    time.sleep(after_s)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def frames_in(path: Path) -> list[float]:
    """Decode the whole file (a decode error fails the test) and return the frame times."""
    with av.open(str(path)) as c:
        return [float(f.time) for f in c.decode(c.streams.video[0])]


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10 s 640x360 clip of the moving synthetic face with a tone: 300 frames."""
    from tests.jobs.clips import make_clip

    return make_clip(tmp_path_factory.mktemp("faults") / "clip.mp4", frames=300, size=(640, 360))


def wait_for(path: Path, timeout: float = 60) -> None:
    """Wait until ``path`` exists (a run's ``.partial``: the recording has begun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not path.exists():
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared"


@contextlib.contextmanager
def tmpfs(size: str, options: str = "") -> Iterator[Path]:
    """A real, small filesystem: writes past ``size`` fail with ENOSPC, as on a full disk
    (``options="ro"``: a read-only one, which a permission bit would not make for root)."""
    where = Path(tempfile.mkdtemp(prefix="realtime-tmpfs-"))
    opts = ",".join(o for o in (options, f"size={size}") if o)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()
