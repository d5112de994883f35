"""0 bytes free (issue 22, fault 9): a recording, a panel recording and a panel upload each
fail with one line and the fix, never a traceback or an HTTP 500, and leave nothing behind
(no empty lock file, no temporary upload)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from tests.faults.conftest import FACE, cli, one_error_line, tmpfs
from tests.panel.conftest import start_panel, stop_panel


def fill(where: Path) -> None:
    """Use up every byte of the filesystem at ``where``."""
    with (where / "filler").open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_recording_onto_a_disk_with_no_space_is_one_line_and_leaves_nothing():
    with tmpfs("2m") as disk:
        fill(disk)
        out = disk / "rec.mp4"
        done = cli(["--demo", "--sink", "file", "--size", "320x180", "--output", str(out), "--duration", "1"])
        left = sorted(p.name for p in disk.iterdir())
    assert done.returncode in (1, 2), done.stderr
    line = one_error_line(done.stderr)
    assert "No space left on device" in line and "free some disk space" in line, line
    assert left == ["filler"], left


def _post(run, path: str, body: bytes, content_type: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    req = urllib.request.Request(
        f"{run.base}{path}?token={run.token}",
        data=body,
        headers={"Content-Type": content_type},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_panel_record_start_and_upload_with_no_space_answer_one_line_and_leave_nothing(tmp_path: Path):
    with tmpfs("4m") as disk:
        run = start_panel(disk, "--demo", "--size", "320x180")
        try:
            (disk / "data" / "recordings").mkdir(parents=True, exist_ok=True)
            (disk / "data" / "faces").mkdir(parents=True, exist_ok=True)
            fill(disk)
            status, rec = _post(
                run, "/api/command", json.dumps({"name": "record_start"}).encode(), "application/json"
            )
            ok, photo = cv2.imencode(".png", cv2.imread(FACE))
            assert ok
            up_status, up = _post(run, "/api/face", np.asarray(photo).tobytes(), "image/png")
            state = run.state()
        finally:
            code = stop_panel(run)
        left = sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.is_file())
    printed = "".join(run.lines)
    assert status == 400 and "No space left on device" in rec["error"] and rec["fix"], rec
    assert up_status == 400 and "No space left on device" in up["error"], up
    assert state["recording"] is None
    assert "Traceback" not in printed, printed
    assert left == ["filler"], left
    assert code == 130, printed
