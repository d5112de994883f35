"""The panel's recording state tells the truth (issue 22, fault 10): a recording that failed
(the disk filled) is reported as failed at once, one that saved nothing says so, and a name
that is taken is never an error the panel user cannot fix (--force): a free one is chosen."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.conftest import frames_in, tmpfs
from tests.panel.conftest import start_panel, stop_panel


def test_a_taken_name_gets_a_free_one_instead_of_asking_for_force(tmp_path: Path):
    run = start_panel(tmp_path, "--demo", "--size", "320x180")
    try:
        first = Path(run.command("record_start", name="take")["path"])
        time.sleep(1)
        stopped = run.command("record_stop")
        second = Path(run.command("record_start", name="take")["path"])
        time.sleep(1)
        again = run.command("record_stop")
    finally:
        stop_panel(run)
    assert first.name == "take.mp4" and second.name == "take-2.mp4"
    assert stopped["saved"] and again["saved"]
    assert stopped["frames"] == len(frames_in(first)) > 0 and again["frames"] == len(frames_in(second)) > 0


def test_a_recording_that_fills_the_disk_is_reported_failed_at_once():
    with tmpfs("3m") as disk:
        run = start_panel(disk, "--demo", "--size", "640x360")
        try:
            run.command("record_start", name="big")
            st = run.wait_state(lambda s: s["recording"] is None, timeout=60)  # before: "recording" on
        finally:
            stop_panel(run)
        last = st["last_recording"]
        assert last["state"] == "failed" and "No space left on device" in last["error"], last
        if last["saved"]:
            assert last["frames"] == len(frames_in(Path(last["path"]))) > 0
        else:
            assert last["path"] is None and last["frames"] == 0
            assert not (disk / "data" / "recordings" / "big.mp4").exists()


def test_a_recording_whose_first_fragment_never_fits_says_nothing_was_saved():
    with tmpfs("1m") as disk:
        run = start_panel(disk, "--demo", "--size", "640x360")
        try:
            (disk / "data" / "recordings").mkdir(parents=True, exist_ok=True)
            with (disk / "filler").open("wb") as f:  # leave about 100 kB
                f.write(b"\0" * (1024 * 1024 - 100 * 1024 - 4096 * 8))
            run.command("record_start", name="tiny")
            time.sleep(3)
            stopped = (
                run.command("record_stop") if run.state()["recording"] else run.state()["last_recording"]
            )
        finally:
            stop_panel(run)
        assert stopped["saved"] is False and stopped["frames"] == 0 and stopped["path"] is None, stopped
        assert not (disk / "data" / "recordings" / "tiny.mp4").exists()
