"""A console a streamer can live with: every option explained with its default, `--quiet`
really quiet, and the libraries' chatter (LiteRT's XNNPACK line, OpenCV's warnings) kept out."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys

from realtime.catalog.manifest import load_manifests
from realtime.cli import SUBCOMMANDS, HelpFormatter, main_parser


def _actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += [(f"{parser.prog} {name}", a) for _, a in _actions(sub)]
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            out.append((parser.prog, action))
    return out


def test_every_option_has_a_help_text() -> None:
    parsers = [main_parser()]
    for name, (module, text) in SUBCOMMANDS.items():
        sub = argparse.ArgumentParser(
            prog=f"realtime {name}", description=text, formatter_class=HelpFormatter
        )
        sub.add_argument("--log-level", default="warning", help="debug, info, warning, error")
        importlib.import_module(module).configure(sub)
        parsers.append(sub)
    missing = [
        f"{prog} {a.option_strings or a.dest}" for p in parsers for prog, a in _actions(p) if not a.help
    ]
    assert missing == [], missing


def test_help_shows_defaults() -> None:
    text = main_parser().format_help()
    assert "(default: 8765)" in text and "(default: 127.0.0.1)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_bench_help_shows_the_default_size_as_typed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "bench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "(default: 1280x720)" in done.stdout and "[(1280, 720)]" not in done.stdout


def test_piped_tables_are_not_cut_to_80_columns(tmp_path) -> None:
    """`realtime models list > file` keeps every cell whole: rich's 80-column fallback for a
    pipe used to cut the licence column."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-m", "realtime", "models", "--models-dir", str(tmp_path), "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0
    longest = max((s.license for s in load_manifests().values()), key=len)
    assert longest in done.stdout, done.stdout


def _demo(*flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENCV_LOG_LEVEL", "QT_LOGGING_RULES")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "realtime",
            "--demo",
            "--sink",
            "null",
            "--duration",
            "2",
            "--size",
            "320x240",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_quiet_is_quiet_and_library_chatter_stays_out() -> None:
    quiet = _demo("--quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout == ""
    loud = _demo()
    assert loud.returncode == 0 and "INFO" in loud.stderr  # our own log is still there
    assert "XNNPACK" not in loud.stderr and "[ WARN:" not in loud.stderr
    debug = _demo("--log-level", "debug")
    assert "XNNPACK" in debug.stderr  # routed into our log, at debug level
