"""SIGHUP (the terminal closed) is handled like SIGTERM (issue 22, fault 7): exit 129, the
recording finalised, named, and nothing left behind; in the CLI and in the panel."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.faults.conftest import frames_in, record_then_signal
from tests.panel.conftest import start_panel


def test_sighup_finalises_the_recording_names_it_and_exits_129(tmp_path: Path):
    out = tmp_path / "rec.mp4"
    code, err = record_then_signal(out, signal.SIGHUP, after_s=2)
    assert code == 129, err
    saved = len(frames_in(out))
    assert saved > 0 and f"interrupted by SIGHUP; partial output kept: {out} ({saved} frames)" in err
    assert not out.with_name("rec.mp4.partial").exists() and not out.with_name("rec.mp4.lock").exists()


def test_sighup_while_the_panel_records_finalises_and_names_the_recording(tmp_path: Path):
    run = start_panel(tmp_path, "--demo", "--size", "640x360")
    try:
        path = Path(run.command("record_start")["path"])
        time.sleep(2)
        run.proc.send_signal(signal.SIGHUP)
        run.proc.wait(timeout=120)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    time.sleep(0.3)  # the reader thread takes the last lines
    printed = "".join(run.lines)
    assert run.proc.returncode == 129, printed
    saved = len(frames_in(path))
    assert saved > 0 and f"partial output kept: {path} ({saved} frames)" in printed, printed
    assert not path.with_name(path.name + ".partial").exists()
    assert not path.with_name(path.name + ".lock").exists()
