"""The command line: flags -> ``Settings`` -> ``app``. The only place that prints, exits,
handles signals or configures logging."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime import __version__
from realtime.console import ProgressBar, engine_build_status, live_status, status_line
from realtime.errors import ConfigError, RealtimeError
from realtime.options import add_arguments, given, opt
from realtime.settings import PRESETS_DIR, Settings, load_preset, merge

log = logging.getLogger("realtime")

_PANEL_WHY = "the panel's address and token are your own choice, made when you start it"

# Subcommand name -> module with configure(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "cameras": ("realtime.commands.cameras", "list the capture devices found"),
    "models": ("realtime.commands.models", "list, fetch, verify and locate models"),
    "doctor": ("realtime.commands.doctor", "check this machine and explain what runs where"),
    "bench": ("realtime.commands.bench", "benchmark the real pipeline on the synthetic source"),
    "triton": ("realtime.commands.triton", "export a Triton model repository from the manifests"),
    "face": ("realtime.commands.face", "check how a face photo will hold up as the swapped face"),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default, unless it has none (the preset decides)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


@dataclass(frozen=True)
class CommandLine:
    """Options of the command itself, not of a run: never in a preset (nor the panel)."""

    config: str | None = opt(
        None,
        "TOML preset: a path, or a name in configs/ (default, low-latency, quality)",
        where=("cli",),
        why="it names the preset",
        group="run",
    )
    quiet: bool = opt(
        False,
        "only warnings and errors: no status line, no progress, no info",
        where=("cli",),
        why="a console choice",
        group="run",
    )
    preview: bool = opt(
        False, "also show a preview window", where=("cli",), why="adds the window sink", group="output"
    )
    panel: bool = opt(False, "serve the browser control panel", where=("cli",), why=_PANEL_WHY, group="panel")
    panel_host: str = opt(
        "127.0.0.1",
        "address of the panel; anything but loopback serves your camera to other machines",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
    )
    panel_port: int = opt(
        8765,
        "port of the panel (0 picks a free one)",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
        minimum=0,
        maximum=65535,
    )
    panel_token: str | None = opt(
        None,
        "the panel's token (default: a new random one, printed in its URL)",
        where=("cli",),
        why=_PANEL_WHY,
        group="panel",
    )
    no_browser: bool = opt(
        False, "do not open the panel in a browser", where=("cli",), why=_PANEL_WHY, group="panel"
    )


GROUPS = {
    "source": "source (choose one)",
    "face": "face",
    "output": "output",
    "run": "run",
    "faces": "face tracking ([faces] in a preset; most change live in the panel)",
    "swap": "mesh swapper ([swap] in a preset; all change live in the panel)",
    "panel": "control panel (`realtime panel` is `realtime --panel`)",
}


def main_parser() -> argparse.ArgumentParser:
    """The flags, generated from the declarations of ``Settings`` and ``CommandLine``."""
    p = argparse.ArgumentParser(
        prog="realtime",
        usage="realtime (--camera N | --input FILE | --demo) [--face PHOTO] [options]",
        formatter_class=HelpFormatter,
        description="Swap faces in a live camera feed and send it to a virtual camera.",
        epilog="subcommands: "
        + ", ".join(f"{k} ({v[1]})" for k, v in SUBCOMMANDS.items())
        + ", panel (a live run with the browser control panel: `realtime panel --demo`)"
        + ". Run `realtime SUBCOMMAND --help`.",
    )
    p.add_argument("--version", action="version", version=f"realtime {__version__}")
    add_arguments(p, (Settings, CommandLine), GROUPS)
    return p


def command_line(args: argparse.Namespace) -> CommandLine:
    return CommandLine(**{k: v for k, v in given(args, CommandLine).items()})


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The preset (``--config``), then every flag given, onto the declared defaults."""
    cmd = command_line(args)
    base = Settings()
    if cmd.config:
        path = Path(cmd.config)
        if not path.exists() and (PRESETS_DIR / f"{cmd.config}.toml").exists():
            path = PRESETS_DIR / f"{cmd.config}.toml"
        base = load_preset(path)
    ov = given(args, Settings)
    out = ov.get("output.output", base.output.output)
    sinks = list(ov.get("output.sinks") or base.output.sinks)
    if cmd.panel and not sinks and not out:
        sinks = ["null"]  # the panel is the preview; the virtual camera is switched on there
    if cmd.preview and "window" not in sinks:
        sinks = sinks or (["file"] if out else ["vcam"])
        sinks.append("window")
    if sinks:
        ov["output.sinks"] = tuple(sinks)
    return merge(base, ov)


def quiet_libraries() -> None:
    """Library chatter off the console unless the user's environment asks for it: OpenCV's
    ``[ WARN:0@...]`` lines (read when cv2 loads) and Qt's font and platform warnings (the
    preview window). Our own log says what matters."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false;qt.text.font.*=false;*.debug=false")


def setup_logging(level: str) -> None:
    from rich.logging import RichHandler

    lvl = getattr(logging, level.upper(), None)
    if not isinstance(lvl, int):
        raise SystemExit(f"realtime: unknown --log-level {level!r}; use debug, info, warning or error")
    from rich.console import Console

    # The log goes to stderr: stdout is for what a command prints (JSON, tables).
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=lvl, format="%(message)s", datefmt="[%X]", handlers=[handler], force=True)


def log_banner(workers: int) -> None:
    """Which image or host this is and the CPUs it may use: "is it really on the GPU"
    starts here."""
    from realtime.resources import startup_banner

    log.info("%s", startup_banner(workers=workers))


def _write_stats(path: str | None, result: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")


def _partial_outputs(pipeline: Any) -> list[str]:
    """Files a run was writing and that are not finished: what a user must be told about."""
    if pipeline is None:
        return []
    names = []
    for sink in pipeline.sinks:
        if sink.temp_path is not None and sink.temp_path.exists():
            names.append(str(sink.temp_path))
    return names


def _run_main(args: argparse.Namespace) -> int:
    from realtime import app

    settings = settings_from_args(args)
    cmd = command_line(args)
    if cmd.panel:
        _check_panel_address(cmd)
    setup_logging("warning" if cmd.quiet and args.log_level is None else settings.log_level)
    plan = app.plan_from_settings(settings)  # bad flags stop here, before anything opens
    log_banner(settings.pipeline.workers)
    holder: dict[str, Any] = {}
    stop_event = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        pipeline = holder.get("pipeline")
        if stop_event.is_set():  # a second Ctrl-C: stop waiting, keep what was written
            left = _partial_outputs(pipeline)
            where = f"; the unfinished recording is kept in {', '.join(left)}" if left else ""
            print(f"realtime: interrupted again: not waiting for the outputs{where}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(128 + signum)
        stop_event.set()
        holder["signal"] = signum
        log.info(
            "stopping (%s); finalising outputs (press Ctrl-C again to stop waiting)",
            signal.Signals(signum).name,
        )
        if pipeline is not None:
            pipeline.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    show = not cmd.quiet and sys.stderr.isatty()

    def on_start(pipeline: Any) -> None:
        holder["pipeline"] = pipeline
        if stop_event.is_set():
            pipeline.stop()
        if show and plan.mode == "live":
            threading.Thread(target=live_status, args=(pipeline, plan.source.fps), daemon=True).start()

    last_wait = [0.0]

    def on_finalising(busy: list[Any]) -> None:
        if time.monotonic() - last_wait[0] >= 5:
            last_wait[0] = time.monotonic()
            names = ", ".join(f"{f.sink.name} ({f.backlog} frames queued)" for f in busy)
            log.warning("still finalising %s; Ctrl-C again stops waiting", names)

    bar = ProgressBar(show) if plan.mode == "file" else None
    panels: list[Any] = []
    try:
        result = app.run(
            plan,
            on_start=on_start,
            on_progress=bar.update if bar else None,
            on_build=engine_build_status() if sys.stderr.isatty() else None,
            on_finalising=on_finalising,
            on_built=(lambda built: panels.append(_start_panel(cmd, built))) if cmd.panel else None,
        )
    except RealtimeError as exc:
        if bar is not None:
            bar.close()
        if getattr(exc, "result", None):
            _write_stats(settings.stats_json, exc.result)  # type: ignore[attr-defined]
        raise
    finally:
        for panel in panels:
            panel.stop()
    # Everything is finalised: a late second Ctrl-C must not change the exit code.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if bar is not None:
        bar.close()
    _write_stats(settings.stats_json, result)
    signum = holder.get("signal")
    if plan.mode in ("file", "still"):
        _print_summary(result)
    elif plan.mode == "live":
        log.info("done: %s", status_line(result, plan.source.fps))
    if signum is not None or result.get("interrupted"):
        kept = [
            f"{o['path']} ({o.get('saved', 0)} frames)" for o in result.get("outputs", []) if o.get("saved")
        ]
        where = f"; partial output kept: {', '.join(kept)}" if kept else ""
        name = signal.Signals(signum).name if signum is not None else "a stop request"
        print(f"realtime: interrupted by {name}{where}", file=sys.stderr)
        return 128 + signum if signum is not None else 1
    return 0


def _check_panel_address(args: CommandLine) -> None:
    """Serving the panel to other machines is a choice made on the command line, with a token
    the user chose (never a preset: the panel's address and token are flags only)."""
    from realtime.web import is_loopback

    if not is_loopback(args.panel_host) and not args.panel_token:
        raise ConfigError(
            f"the panel on {args.panel_host} would be reachable from other machines",
            fix="give --panel-token SECRET as well, or keep --panel-host 127.0.0.1",
        )


def _start_panel(args: CommandLine, built: Any) -> Any:
    """The control panel over the built run: its URL (with the token) is printed once."""
    import secrets

    from realtime.control import Controller
    from realtime.panel.server import Panel

    ctl = Controller(built)
    ctl.attach()
    panel = Panel(ctl, args.panel_host, args.panel_port, args.panel_token or secrets.token_urlsafe(24))
    panel.start()
    print(f"realtime: control panel at {panel.url}", file=sys.stderr, flush=True)
    if not args.no_browser:
        from realtime.sinks.window import display_problem

        if display_problem() is None:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(panel.url,), daemon=True).start()
    return panel


def _print_summary(r: dict[str, Any]) -> None:
    missing = r.get("frames_without_face")
    faces = "" if missing is None else f", {missing} without a face"
    head = "interrupted: partial output" if r.get("interrupted") else "wrote"
    rate = f" ({r['realtime_factor']:.1f}x real time)" if r.get("realtime_factor") else ""
    print(
        f"{head} {r['output']}: {r['frames']} frames{faces}, {r['seconds']:.1f} s, "
        f"{r['fps']:.1f} fps{rate}, audio {r['audio']}",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_libraries()
    if argv and argv[0] == "panel":  # `realtime panel ...` is a live run with the panel
        argv = [*argv[1:], "--panel"]
    try:
        if argv and argv[0] in SUBCOMMANDS:
            module_name, help_text = SUBCOMMANDS[argv[0]]
            sub = argparse.ArgumentParser(
                prog=f"realtime {argv[0]}", description=help_text, formatter_class=HelpFormatter
            )
            sub.add_argument("--log-level", default="warning", help="debug, info, warning, error")
            module = importlib.import_module(module_name)
            module.configure(sub)
            sub_args = sub.parse_args(argv[1:])
            setup_logging(sub_args.log_level)
            return int(module.run(sub_args))
        args = main_parser().parse_args(argv)
        return _run_main(args)
    except RealtimeError as exc:
        print(f"realtime: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("realtime: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("realtime: error: out of memory (try a smaller --size)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
