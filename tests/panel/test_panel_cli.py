"""The panel's address from the command line: loopback unless the user says otherwise, with a
token of their own."""

from __future__ import annotations

import subprocess
import sys


def test_another_address_needs_a_token_of_the_users_own() -> None:
    got = subprocess.run(
        [sys.executable, "-m", "realtime", "panel", "--demo", "--no-browser", "--panel-host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 2
    assert got.stderr.strip().splitlines() == [
        "realtime: error: the panel on 0.0.0.0 would be reachable from other machines "
        "(give --panel-token SECRET as well, or keep --panel-host 127.0.0.1)"
    ]


def test_the_panel_defaults_to_loopback() -> None:
    from realtime.cli import command_line, main_parser

    args = command_line(main_parser().parse_args(["--demo", "--panel"]))
    assert args.panel_host == "127.0.0.1" and args.panel_token is None
