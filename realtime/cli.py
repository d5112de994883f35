"""The command line: flags -> ``Settings`` -> ``app``. The only place that prints, exits,
handles signals or configures logging."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from realtime.cli_options import (
    SUBCOMMANDS,
    CommandLine,
    HelpFormatter,
    command_line,
    main_parser,
    refuse_live_only_flags,
    settings_from_args,
)
from realtime.console import ProgressBar, engine_build_status, live_status, status_line
from realtime.errors import ConfigError, RealtimeError, RunFailed

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)  # SIGHUP does not exist on Windows
log = logging.getLogger("realtime")


class _Startup:
    """A stop signal that arrives while the program is still loading, remembered until it can
    be acted on: a KeyboardInterrupt raised inside an import may surface as an unrelated
    ImportError (numpy's C extensions), and never as one line."""

    def __init__(self) -> None:
        self.signum: int | None = None
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, self)

    def __call__(self, signum: int, _frame: Any) -> None:
        self.signum = self.signum or signum

    def restore(self) -> None:
        """Give back the usual handler of each signal still handled here."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if signal.getsignal(sig) is self:
                    signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)

    def release(self) -> int | None:
        """Give the signals back their usual handlers; the signal received meanwhile, if any."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        return self.signum


def _interrupted(signum: int) -> int:
    print(f"realtime: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
    return 128 + signum


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)  # SIGHUP does not exist on Windows
log = logging.getLogger("realtime")


def quiet_libraries() -> None:
    """Library chatter off the console unless the user's environment asks for it: OpenCV's
    ``[ WARN:0@...]`` lines (read when cv2 loads) and Qt's font and platform warnings (the
    preview window). Our own log says what matters."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false;qt.text.font.*=false;*.debug=false")
    logging.getLogger("uvicorn.error").addFilter(_cancelled_at_shutdown)


def _cancelled_at_shutdown(record: logging.LogRecord) -> bool:
    """Drop uvicorn's traceback for a preview client cancelled at shutdown (a stalled MJPEG
    viewer that never read its stream): one per client, hundreds of lines, and nothing wrong.
    Uvicorn's own one line ("Cancel N running task(s)") still says it happened."""
    exc = record.exc_info[1] if record.exc_info else None
    while exc is not None:
        if isinstance(exc, asyncio.CancelledError):
            return False
        exc = exc.__context__ or exc.__cause__
    return True


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
    """Write the run's figures; a file that cannot be written (a full disk) is a failed output."""
    if not path:
        return
    try:
        Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise RunFailed(
            f"cannot write --stats-json {path}: {why}", fix="check the disk and the path"
        ) from exc


def _partial_outputs(pipeline: Any) -> list[str]:
    """Files a run was writing and that are not finished: what a user must be told about."""
    if pipeline is None:
        return []
    names = []
    for sink in pipeline.sinks:
        if sink.temp_path is not None and sink.temp_path.exists():
            names.append(str(sink.temp_path))
    return names


def _run_main(args: argparse.Namespace, startup: _Startup | None = None) -> int:
    from realtime import app

    settings = settings_from_args(args)
    cmd = command_line(args)
    if cmd.panel:
        _check_panel_address(cmd)
    setup_logging("warning" if cmd.quiet and args.log_level is None else settings.log_level)
    plan = app.plan_from_settings(settings)  # bad flags stop here, before anything opens
    refuse_live_only_flags(args, plan.mode)
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

    for sig in STOP_SIGNALS:  # SIGHUP: the terminal closed; finalise as for SIGTERM
        signal.signal(sig, on_signal)
    if startup is not None and startup.signum is not None:  # Ctrl-C while loading: nothing ran
        return _interrupted(startup.signum)

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
    except RunFailed as exc:
        if holder.get("signal") is None or not exc.result:
            _failed(exc, bar, settings.stats_json)
            raise
        # Stopped by a signal: its exit code (README, Exit codes), the failure said in the log.
        log.error("%s", exc)
        result = exc.result
    except RealtimeError as exc:
        _failed(exc, bar, settings.stats_json)
        raise
    finally:
        for panel in panels:
            panel.stop()
    # Everything is finalised: a late second Ctrl-C must not change the exit code.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if bar is not None:
        bar.close()
    signum = holder.get("signal")
    if signum is not None:
        result["interrupted"] = True  # live runs too: a signal stopped it
    if plan.mode in ("file", "still"):
        _print_summary(result)
    elif plan.mode == "live":
        log.info("done: %s", status_line(result, plan.source.fps))
    _write_stats(settings.stats_json, result)  # cannot be written: one line, exit 1
    if signum is not None or result.get("interrupted"):
        kept = [
            f"{o['path']} ({o.get('saved', 0)} frames)" for o in result.get("outputs", []) if o.get("saved")
        ]
        kept += _panel_recordings(panels)
        where = f"; partial output kept: {', '.join(kept)}" if kept else ""
        name = signal.Signals(signum).name if signum is not None else "a stop request"
        print(f"realtime: interrupted by {name}{where}", file=sys.stderr)
        return 128 + signum if signum is not None else 1
    return 0


def _failed(exc: RealtimeError, bar: ProgressBar | None, stats_json: str | None) -> None:
    """Before a failed run's error is raised: the progress bar closed, the stats written."""
    if bar is not None:
        bar.close()
    if getattr(exc, "result", None):
        try:
            _write_stats(stats_json, exc.result)  # type: ignore[attr-defined]
        except RunFailed as stats_exc:
            log.error("%s", stats_exc)  # the run's own failure is the one to report


def _panel_recordings(panels: list[Any]) -> list[str]:
    """The recording a panel was making when the run was stopped (finalised by ``panel.stop``)."""
    kept = []
    for panel in panels:
        rec = getattr(getattr(panel, "ctl", None), "last_recording", None)
        if rec and rec.get("stopped_by_exit") and rec.get("frames"):
            kept.append(f"{rec['path']} ({rec['frames']} frames)")
    return kept


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


def _closed_streams_to_devnull() -> None:
    """Started with stdout or stderr closed (``2>&-``, a service manager): Python has no
    stream at all there. The run still does its work; what it would say goes nowhere, and
    the exit code tells the truth."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    startup = _Startup()
    _closed_streams_to_devnull()
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
            if (signum := startup.release()) is not None:
                return _interrupted(signum)
            return int(module.run(sub_args))
        args = main_parser().parse_args(argv)
        return _run_main(args, startup)
    except RealtimeError as exc:
        print(f"realtime: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("realtime: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("realtime: error: out of memory (try a smaller --size)", file=sys.stderr)
        return 2
    finally:
        startup.restore()  # called in-process (tests, a host program): leave Ctrl-C as it was


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
