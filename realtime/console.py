"""The command line's console: the live status line, the file job's progress bar and the
TensorRT build spinner (rich, on stderr). Used by ``realtime.cli`` only."""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from realtime.inference.engine_progress import rich_build_status

log = logging.getLogger("realtime")


def slow_steps(s: dict[str, Any], budget_ms: float) -> str:
    """Steps that alone cost more than a frame's budget, with their cost (an enhancer on a
    CPU, say): the user sees what to turn off or run every Nth frame."""
    slow = [
        f"{name} {v['p50']:.0f} ms"
        for name, v in s.get("stages_ms", {}).items()
        if name not in ("capture", "output") and v.get("p50", 0) > budget_ms
    ]
    return f" │ too slow for live: {', '.join(slow)}" if slow else ""


def faces_part(faces: dict[str, Any] | None) -> str:
    """Faces swapped of faces found per frame (recent mean), once any were found."""
    if not faces or not faces.get("found_mean"):
        return ""
    return f" │ faces swapped {faces['swapped_mean']:.1f}/{faces['found_mean']:.1f}"


def guard_part(guard: dict[str, Any] | None) -> str:
    """What the fail-closed guard kept off the air (``realtime.pipeline.guard``)."""
    if not guard:
        return ""
    kept = [f"{guard[k]} {k}" for k in ("held", "blurred", "frozen", "neutral") if guard.get(k)]
    state = guard.get("state", "")
    if not kept and state == "live":
        return ""
    return f" │ on-miss {guard['policy']}: {state}" + (f" ({', '.join(kept)})" if kept else "")


def recording_part(r: dict[str, Any]) -> str:
    """A recording whose encoder changed to keep up, or that skips frames, says so."""
    part = ""
    if r.get("encoder_changes"):
        part += f" │ rec: {r['encoder']} (faster, to keep up)"
    if r.get("skipped"):
        part += f" │ rec SKIPPED {r['skipped']}"
    return part


def status_line(s: dict[str, Any], fps: float = 30.0) -> str:
    """The live status line: ``fps`` is the run's own rate (a step slower than one frame at it
    is named); the provider is the one the run's models chose, or "no model" when none runs."""
    lat = s.get("latency_ms", {})
    return (
        f"fps in {s.get('fps_in', 0):5.1f} out {s.get('fps_out', 0):5.1f} │ "
        f"latency p50 {lat.get('p50', float('nan')):5.1f} ms p95 {lat.get('p95', float('nan')):5.1f} ms │ "
        f"dropped {s.get('dropped', 0)} │ {s.get('provider') or 'no model'} │ "
        f"{s.get('swapper', 'pass-through')}"
        + (f" │ {s['remote']}" if s.get("remote") else "")
        + faces_part(s.get("faces"))
        + guard_part(s.get("on_miss"))
        + "".join(recording_part(r) for r in s.get("recordings", ()))
        + ("" if s.get("processing", True) else " │ PAUSED")
        + slow_steps(s, 1000.0 / fps)
    )


def engine_build_status() -> Any:
    """A spinner with the elapsed time while a TensorRT engine builds (first GPU run only)."""
    return rich_build_status(Console(stderr=True))


class ProgressBar:
    """A rich progress bar for file jobs (frames, fps, ETA); a log line now and then otherwise."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self._last_log = 0.0
        self._task: Any = None
        self._progress: Any = None
        if show:
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


def live_status(pipeline: Any, fps: float) -> None:
    """The status line, redrawn four times a second until the run stops."""
    console = Console(stderr=True)
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        while not pipeline.stopped:
            live.update(status_line(pipeline.status(), fps))
            time.sleep(0.25)
