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

from realtime import __version__
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


# Subcommand name -> module with configure(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "cameras": ("realtime.commands.cameras", "list the capture devices found"),
    "models": ("realtime.commands.models", "list, fetch, verify and locate models"),
    "doctor": ("realtime.commands.doctor", "check this machine and explain what runs where"),
    "bench": ("realtime.commands.bench", "benchmark the real pipeline on the synthetic source"),
    "triton": ("realtime.commands.triton", "export a Triton model repository from the manifests"),
}


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from exc


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` shows each option's default, unless it has none (the preset decides)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


def main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="realtime",
        formatter_class=HelpFormatter,
        description="Swap faces in a live camera feed and send it to a virtual camera.",
        epilog="subcommands: "
        + ", ".join(f"{k} ({v[1]})" for k, v in SUBCOMMANDS.items())
        + ", panel (a live run with the browser control panel: `realtime panel --demo`)"
        + ". Run `realtime SUBCOMMAND --help`.",
    )
    p.add_argument("--version", action="version", version=f"realtime {__version__}")
    src = p.add_argument_group("source (choose one)")
    src.add_argument("--camera", help="camera index (0) or device path (/dev/video0)")
    src.add_argument("--input", "-i", help="video file, image, or rtsp:// / http:// URL")
    src.add_argument("--demo", action="store_true", help="built-in synthetic camera with a bundled face")
    src.add_argument("--size", type=_size, help="capture size (preset default 1280x720)")
    src.add_argument("--fps", type=float, help="capture and output frame rate (preset default 30)")
    src.add_argument("--loop", action="store_true", help="loop a video input")
    src.add_argument(
        "--camera-api", dest="api", help="OpenCV capture backend: v4l2, dshow, msmf, avfoundation"
    )
    face = p.add_argument_group("face")
    face.add_argument(
        "--face",
        action="append",
        help="photo of the face to put in; repeat to give each person their own "
        "(left to right at the start, then kept by track: see realtime/swap/cast.py)",
    )
    face.add_argument("--face-index", type=int, help="which face of the photo to use (0 = largest)")
    face.add_argument("--swapper", help="mesh, a neural swapper name, auto (the default), or none")
    face.add_argument("--provider", help="force an inference provider (see `realtime doctor`)")
    face.add_argument(
        "--face-select",
        choices=["one", "many", "reference"],
        help="which faces a neural swapper swaps (default many)",
    )
    face.add_argument(
        "--reference", action="append", help="photo of the person to swap (--face-select reference)"
    )
    face.add_argument("--enhance", help="face enhancer model to run after the swap, e.g. gfpgan_1.4")
    face.add_argument(
        "--enhance-every", type=int, help="run the enhancer on every Nth frame only (default 1)"
    )
    face.add_argument(
        "--models-dir", help="model cache folder (default: $REALTIME_MODELS_DIR or the user cache)"
    )
    face.add_argument(
        "--trust-unverified", action="store_true", help="accept a model that has no published sha256"
    )
    face.add_argument("--draw-landmarks", action="store_true", help="overlay boxes, ids and landmarks")
    face.add_argument("--remote", help="run the neural models on a Triton server, e.g. grpc://gpu-box:8001")
    face.add_argument(
        "--remote-fallback", choices=["pass", "mesh"], help="while the server is lost: pass through or mesh"
    )
    out = p.add_argument_group("output")
    out.add_argument("--sink", action="append", help="vcam, window, file, mjpeg, null (repeatable)")
    out.add_argument("--preview", action="store_true", help="also show a preview window")
    out.add_argument("--output", "-o", help="output file (video or image)")
    out.add_argument("--force", action="store_true", help="overwrite an existing output file")
    out.add_argument("--output-size", type=_size, help="size of the output video (file jobs)")
    out.add_argument("--codec", help="video codec of the output: h264 (default), h265, vp9")
    out.add_argument("--crf", type=int, help="constant quality (lower is better; default 20)")
    out.add_argument("--bitrate", type=int, help="target bits per second (instead of --crf)")
    out.add_argument("--preset", help="encoder preset, e.g. ultrafast, veryfast, medium")
    out.add_argument("--no-audio", action="store_true", help="do not carry the input's audio over")
    out.add_argument("--vcam-backend", help="pyvirtualcam backend (v4l2loopback, obs, unitycapture)")
    out.add_argument("--vcam-device", help="virtual camera device, e.g. /dev/video10")
    out.add_argument("--mjpeg-host", help="address of the MJPEG preview (default 127.0.0.1)")
    out.add_argument("--mjpeg-port", type=int, help="port of the MJPEG preview (default 8080)")
    out.add_argument("--token", dest="mjpeg_token", help="token required by a non-local MJPEG preview")
    run = p.add_argument_group("run")
    run.add_argument(
        "--config", help="TOML preset: a path, or a name in configs/ (default, low-latency, quality)"
    )
    run.add_argument("--workers", type=int, help="processing threads (preset default 1)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--stats-json", help="write the final stats as JSON to this path")
    run.add_argument(
        "--log-level", default=None, help="debug, info, warning, error (default info; warning with --quiet)"
    )
    run.add_argument(
        "--quiet", action="store_true", help="only warnings and errors: no status line, no progress, no info"
    )
    panel = p.add_argument_group("control panel (`realtime panel` is `realtime --panel`)")
    panel.add_argument("--panel", action="store_true", help="serve the browser control panel")
    panel.add_argument(
        "--panel-host",
        default="127.0.0.1",
        help="address of the panel; anything but loopback serves your camera to other machines",
    )
    panel.add_argument("--panel-port", type=int, default=8765, help="port of the panel (0 picks a free one)")
    panel.add_argument(
        "--panel-token", help="the panel's token (default: a new random one, printed in its URL)"
    )
    panel.add_argument("--no-browser", action="store_true", help="do not open the panel in a browser")
    return p


def settings_from_args(args: argparse.Namespace) -> Any:
    from realtime.settings import PRESETS_DIR, Settings, load_preset, merge

    base = Settings()
    if args.config:
        path = Path(args.config)
        if not path.exists() and (PRESETS_DIR / f"{args.config}.toml").exists():
            path = PRESETS_DIR / f"{args.config}.toml"
        base = load_preset(path)
    ov: dict[str, Any] = {}
    for key in ("camera", "input", "api"):
        if getattr(args, key) is not None:
            ov[f"source.{key}"] = getattr(args, key)
    if args.demo:
        ov["source.demo"] = True
    if args.loop:
        ov["source.loop"] = True
    if args.size:
        ov["source.width"], ov["source.height"] = args.size
    if args.fps:
        ov["source.fps"] = args.fps
    sinks = list(args.sink or [])
    if getattr(args, "panel", False) and not sinks and not args.output:
        sinks = ["null"]  # the panel is the preview; the virtual camera is switched on there
    if args.preview and "window" not in sinks:
        sinks = sinks or (["file"] if args.output else ["vcam"])
        sinks.append("window")
    if sinks:
        ov["output.sinks"] = sinks
    for key in ("output", "vcam_backend", "vcam_device", "mjpeg_host", "mjpeg_port", "mjpeg_token"):
        if getattr(args, key) is not None:
            ov[f"output.{key}"] = getattr(args, key)
    if args.force:
        ov["output.force"] = True
    if args.output_size:
        ov["output.size"] = list(args.output_size)
    if args.no_audio:
        ov["output.audio"] = False
    for key in ("codec", "crf", "bitrate", "preset"):
        if getattr(args, key) is not None:
            ov[f"output.{key}"] = getattr(args, key)
    if args.workers is not None:
        ov["pipeline.workers"] = args.workers
    if args.face:
        ov["face"] = args.face
    if args.reference:
        ov["reference"] = args.reference
    if args.trust_unverified:
        ov["trust_unverified"] = True
    for key in (
        "face_index",
        "swapper",
        "provider",
        "duration",
        "stats_json",
        "log_level",
        "face_select",
        "enhance",
        "enhance_every",
        "models_dir",
        "remote",
        "remote_fallback",
    ):
        if getattr(args, key) is not None:
            ov[key] = getattr(args, key)
    if args.draw_landmarks:
        ov["draw_landmarks"] = True
    return merge(base, ov)


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


def _slow_steps(s: dict[str, Any], budget_ms: float) -> str:
    """Steps that alone cost more than a frame's budget, with their cost (an enhancer on a
    CPU, say): the user sees what to turn off or run every Nth frame."""
    slow = [
        f"{name} {v['p50']:.0f} ms"
        for name, v in s.get("stages_ms", {}).items()
        if name not in ("capture", "output") and v.get("p50", 0) > budget_ms
    ]
    return f" │ too slow for live: {', '.join(slow)}" if slow else ""


def _faces_part(faces: dict[str, Any] | None) -> str:
    """Faces swapped of faces found per frame (recent mean), once any were found."""
    if not faces or not faces.get("found_mean"):
        return ""
    return f" │ faces swapped {faces['swapped_mean']:.1f}/{faces['found_mean']:.1f}"


def _recording_part(r: dict[str, Any]) -> str:
    """A recording whose encoder changed to keep up, or that skips frames, says so."""
    part = ""
    if r.get("encoder_changes"):
        part += f" │ rec: {r['encoder']} (faster, to keep up)"
    if r.get("skipped"):
        part += f" │ rec SKIPPED {r['skipped']}"
    return part


def _status_line(s: dict[str, Any], fps: float = 30.0) -> str:
    lat = s.get("latency_ms", {})
    return (
        f"fps in {s.get('fps_in', 0):5.1f} out {s.get('fps_out', 0):5.1f} │ "
        f"latency p50 {lat.get('p50', float('nan')):5.1f} ms p95 {lat.get('p95', float('nan')):5.1f} ms │ "
        f"dropped {s.get('dropped', 0)} │ {s.get('provider', 'cpu')} │ {s.get('swapper', 'pass-through')}"
        + (f" │ {s['remote']}" if s.get("remote") else "")
        + _faces_part(s.get("faces"))
        + "".join(_recording_part(r) for r in s.get("recordings", ()))
        + ("" if s.get("processing", True) else " │ PAUSED")
        + _slow_steps(s, 1000.0 / fps)
    )


def apply_thread_plan(workers: int) -> dict[str, Any]:
    """Size every library's thread pool from the CPUs this process may really use (a
    container's quota, not the host's cores), unless the user's environment says otherwise,
    and log which image or host this is: "is it really on the GPU" starts here."""
    import os

    from realtime import app
    from realtime.resources import startup_banner, thread_plan

    plan = thread_plan(workers=workers)
    os.environ.setdefault("REALTIME_ORT_THREADS", str(plan["ort_intra_op"]))
    os.environ.setdefault("NUMBA_NUM_THREADS", str(plan["numba"]))  # read when numba loads
    app.configure_threads(plan)
    log.info("%s", startup_banner(workers=workers))
    return plan


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
        temp = getattr(sink, "temp_path", None)
        if temp is not None and Path(temp).exists():
            names.append(str(temp))
    return names


def _run_main(args: argparse.Namespace, startup: _Startup | None = None) -> int:
    from realtime import app

    settings = settings_from_args(args)
    if args.panel:
        _check_panel_address(args)
    setup_logging("warning" if args.quiet and args.log_level is None else settings.log_level)
    plan = app.plan_from_settings(settings)  # bad flags stop here, before anything opens
    _refuse_live_only_flags(args, plan.mode)
    apply_thread_plan(settings.pipeline.workers)
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

    show = not args.quiet and sys.stderr.isatty()

    def on_start(pipeline: Any) -> None:
        holder["pipeline"] = pipeline
        if stop_event.is_set():
            pipeline.stop()
        if show and plan.mode == "live":
            threading.Thread(target=_live_status, args=(pipeline,), daemon=True).start()

    last_wait = [0.0]

    def on_finalising(busy: list[Any]) -> None:
        if time.monotonic() - last_wait[0] >= 5:
            last_wait[0] = time.monotonic()
            names = ", ".join(f"{f.sink.name} ({f.backlog} frames queued)" for f in busy)
            log.warning("still finalising %s; Ctrl-C again stops waiting", names)

    bar = _ProgressBar(show) if plan.mode == "file" else None
    panels: list[Any] = []
    try:
        result = app.run(
            plan,
            on_start=on_start,
            on_progress=bar.update if bar else None,
            on_build=_engine_build_status() if sys.stderr.isatty() else None,
            on_finalising=on_finalising,
            on_built=(lambda built: panels.append(_start_panel(args, built))) if args.panel else None,
        )
    except RealtimeError as exc:
        if bar is not None:
            bar.close()
        if getattr(exc, "result", None):
            try:
                _write_stats(settings.stats_json, exc.result)  # type: ignore[attr-defined]
            except RunFailed as stats_exc:
                log.error("%s", stats_exc)  # the run's own failure is the one to report
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
        log.info("done: %s", _status_line(result))
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


def _refuse_live_only_flags(args: argparse.Namespace, mode: str) -> None:
    """A file job keeps its input's size and timing and converts all of it: a capture flag
    given on the command line would be silently ignored there, so it is refused."""
    if mode != "file":
        return
    given = [flag for flag, value in (("--size", args.size), ("--fps", args.fps)) if value]
    if args.duration and not args.loop:
        given.append("--duration")
    if given:
        raise ConfigError(
            f"{' and '.join(given)} cannot apply to a file job (it converts the whole input, "
            "at its own size and timing)",
            fix="drop it; --output-size scales the output, --duration goes with --loop",
        )


def _panel_recordings(panels: list[Any]) -> list[str]:
    """The recording a panel was making when the run was stopped (finalised by ``panel.stop``)."""
    kept = []
    for panel in panels:
        rec = getattr(getattr(panel, "ctl", None), "last_recording", None)
        if rec and rec.get("stopped_by_exit") and rec.get("frames"):
            kept.append(f"{rec['path']} ({rec['frames']} frames)")
    return kept


def _check_panel_address(args: argparse.Namespace) -> None:
    """Serving the panel to other machines is a choice made on the command line, with a token
    the user chose (never a preset: the panel's address and token are flags only)."""
    from realtime.web import is_loopback

    if not is_loopback(args.panel_host) and not args.panel_token:
        raise ConfigError(
            f"the panel on {args.panel_host} would be reachable from other machines",
            fix="give --panel-token SECRET as well, or keep --panel-host 127.0.0.1",
        )


def _start_panel(args: argparse.Namespace, built: Any) -> Any:
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


def _engine_build_status() -> Any:
    """A spinner with the elapsed time while a TensorRT engine builds (first GPU run only)."""
    from rich.console import Console

    from realtime.inference.engines import rich_build_status

    return rich_build_status(Console(stderr=True))


class _ProgressBar:
    """A rich progress bar for file jobs (frames, fps, ETA); a log line now and then otherwise."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self._last_log = 0.0
        self._task: Any = None
        self._progress: Any = None
        if show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("swapping"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[fps]:.1f} fps"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("swap", total=None, fps=0.0)

    def update(self, p: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=p.done, total=p.total, fps=p.fps)
        elif time.monotonic() - self._last_log > 5:
            self._last_log = time.monotonic()
            log.info("%d/%s frames, %.1f fps", p.done, p.total or "?", p.fps)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


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


def _live_status(pipeline: Any) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=True)
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        while not pipeline.stopped:
            live.update(_status_line(pipeline.status()))
            time.sleep(0.25)


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
