"""Ctrl-C in the first moments (issue 22, fault 9): one line and exit 130, never a
KeyboardInterrupt traceback, wherever start-up had got to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("when", ["realtime.cli", "realtime.errors", "realtime.app", "0.02", "0.1", "0.3"])
def test_ctrl_c_while_starting_is_one_line_and_exit_130(when: str):
    args = ["--demo", "--sink", "null", "--size", "320x180", "--duration", "2"]
    done = subprocess.run(
        [sys.executable, str(HERE / "early_sigint.py"), when, "--", *args],
        cwd=HERE.parents[1], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("realtime: interrupted"), done.stderr
